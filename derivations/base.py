"""The shape every derivation shares, and the check that each step really follows.

A `Derivation` is an ordered list of `Step`s. Each step says how its expression relates to the
previous one:

- ``start``  the first expression (usually a log-density);
- ``equal``  an identity: previous == expr;
- ``drop``   previous == expr + term, where ``term`` is free of the model's parameters, so
             maximising either gives the same optimum;
- ``scale``  previous == term * expr, where ``term`` is a positive factor free of the parameters.

`check_step` verifies a relation symbolically and, where `simplify` is not enough, numerically at
random points (with concrete small dimensions substituted for symbolic sums, and integrals done by
quadrature). A scale factor whose sign SymPy cannot decide is checked positive at those points.

The shared symbols below (x, μ, σ, D, i, ...) carry their assumptions once for every module.
"""

from __future__ import annotations

import cmath
import itertools
import math
import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import mpmath
import sympy as sp
from scipy import integrate

RELATIONS = ("start", "equal", "drop", "scale")

# Shared symbols: one name and one set of assumptions in every derivation, so a learner's "mu"
# means the same object everywhere and simplification can rely on positivity.
i = sp.Symbol("i", integer=True, positive=True)  # data-dimension (pixel) index
D = sp.Symbol("D", integer=True, positive=True)  # number of data dimensions
j = sp.Symbol("j", integer=True, positive=True)  # latent-dimension index (or one chosen pixel)
J = sp.Symbol("J", integer=True, positive=True)  # number of latent dimensions
x = sp.IndexedBase("x", real=True)  # the data (one image, flattened)
mu = sp.IndexedBase("mu", real=True)  # decoder mean
sigma = sp.Symbol("sigma", positive=True)  # decoder standard deviation (shared by all i)
mu_z = sp.IndexedBase("mu_z", real=True)  # encoder mean of q(z|x)
sigma_z = sp.IndexedBase("sigma_z", positive=True)  # encoder standard deviation of q(z|x)
z = sp.Symbol("z", real=True)  # a latent value (integration variable)

DATA_SYMBOLS = {"x": x, "i": i, "D": D}
LATENT_SYMBOLS = {"mu_z": mu_z, "sigma_z": sigma_z, "j": j, "J": J}


@dataclass(frozen=True)
class Step:
    expr: sp.Expr
    relation: str  # one of RELATIONS
    note: str  # one short sentence: what happened and why it is allowed
    term: sp.Expr | None = None  # the dropped term (drop) or the positive factor (scale)
    label: str = ""  # short name for menus, e.g. "log-density", "MSE form"

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"unknown relation {self.relation!r}; expected one of {RELATIONS}")
        if (self.relation in ("drop", "scale")) != (self.term is not None):
            raise ValueError(f"a {self.relation!r} step needs term set exactly when drop/scale")


@dataclass(frozen=True)
class Derivation:
    slug: str
    title: str
    parameters: tuple[sp.Basic, ...]  # what the decoder outputs (Symbols or IndexedBases)
    steps: tuple[Step, ...]
    summary: str = ""
    # Names a learner may type for this derivation (checker): "mu" -> mu, "x" -> IndexedBase x...
    symbols: Mapping[str, sp.Basic] = field(default_factory=dict)
    # Sampling box for numeric checks: symbol or IndexedBase -> (low, high).
    sample_ranges: Mapping[sp.Basic, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.steps or self.steps[0].relation != "start":
            raise ValueError("the first step of a derivation must have relation 'start'")
        if any(s.relation == "start" for s in self.steps[1:]):
            raise ValueError("only the first step may have relation 'start'")

    def step(self, label: str) -> Step:
        for s in self.steps:
            if s.label == label:
                return s
        raise KeyError(f"{self.slug} has no step labelled {label!r}")


def per_pixel_start(pdf_i: sp.Expr, what: str) -> tuple[Step, Step]:
    """log ∏ pᵢ then Σ log pᵢ: the opening two steps every per-pixel likelihood shares."""
    return (
        Step(
            sp.log(sp.Product(pdf_i, (i, 1, D))),
            "start",
            f"Assume pixels independent given z (a modelling choice): the {what} is a product.",
            label="density",
        ),
        Step(
            sp.Sum(sp.log(pdf_i), (i, 1, D)),
            "equal",
            "The log of a product is the sum of the logs.",
            label="log-density",
        ),
    )


@dataclass(frozen=True)
class StepCheck:
    ok: bool
    how: str  # "symbolic" or "numeric", or why it failed


def depends_on(expr: sp.Basic, parameters: tuple[sp.Basic, ...]) -> bool:
    """True if expr mentions any parameter (an IndexedBase counts through its Indexed uses, and
    through its bare label, e.g. a typed "mu" standing for the whole vector)."""
    labels = [p.label for p in parameters if isinstance(p, sp.IndexedBase)]
    return any(expr.has(p) for p in (*parameters, *labels))


def _sample_value(
    atom: sp.Basic, ranges: Mapping[sp.Basic, tuple[float, float]], rng: random.Random
) -> float:
    base = atom.base if isinstance(atom, sp.Indexed) else atom
    label = base.label if isinstance(base, sp.IndexedBase) else base
    if base in ranges:
        lo, hi = ranges[base]
    elif getattr(label, "is_positive", False) or getattr(atom, "is_positive", False):
        lo, hi = 0.2, 3.0
    else:
        lo, hi = -2.0, 2.0
    if getattr(label, "is_integer", False):
        return rng.randint(max(1, int(lo)), max(2, int(hi)))
    return rng.uniform(lo, hi)


def _concrete_points(
    exprs: tuple[sp.Expr, ...],
    ranges: Mapping[sp.Basic, tuple[float, float]],
    trials: int,
    seed: int,
):
    """Yield, per trial, the exprs made concrete: small sizes, Sums expanded, values sampled.

    Integrals are kept unevaluated (``integrals=False``) and integrated numerically at the point
    instead of SymPy trying a symbolic antiderivative every time.
    """
    rng = random.Random(seed)
    bound = set().union(*(_sum_indices(e) for e in exprs))
    free = set().union(*(e.free_symbols for e in exprs))
    integers = {s for s in free if isinstance(s, sp.Symbol) and s.is_integer and s not in bound}
    # A free index (the j of ∂/∂μⱼ) must stay inside every range; the other integers are sizes.
    index_symbols = {s for e in exprs for t in e.atoms(sp.Indexed) for s in t.indices} & integers
    size_symbols = sorted(integers - index_symbols, key=sp.default_sort_key)
    for trial in range(trials):
        # Concrete sizes first so Sums expand into finitely many Indexed terms. Up to three sizes
        # (D, J, B) get different values at every point, so a 1/J written as 1/B cannot pass;
        # free indices take 1 or 2, inside every size.
        sizes = {s: sp.Integer(2 + (trial + k) % 3) for k, s in enumerate(size_symbols)}
        sizes |= {s: sp.Integer(1 + trial % 2) for s in index_symbols}
        concrete = [_expand_finite(sp.sympify(e).xreplace(sizes)) for e in exprs]
        indexed = set().union(*(c.atoms(sp.Indexed) for c in concrete))
        labels = {t.base.label for t in indexed}  # IndexedBase labels are not free values
        symbols = set().union(*(c.free_symbols for c in concrete))
        atoms = indexed | {
            t
            for t in symbols
            if isinstance(t, sp.Symbol) and t not in labels and not _is_index_of(t, *concrete)
        }
        # Sort so the same seed gives the same point whatever the set order.
        point = {
            t: sp.Float(_sample_value(t, ranges, rng))
            for t in sorted(atoms, key=sp.default_sort_key)
        }
        # xreplace, not subs: subs re-derives every Integral/Sum and costs seconds per point.
        yield [_numeric_value(c.xreplace(point).doit(integrals=False)) for c in concrete]


def _expand_finite(expr: sp.Expr) -> sp.Expr:
    """Expand finite Sums/Products term by term and evaluate derivatives, nothing else yet.

    Other unevaluated functions (e.g. a Huber loss) wait until numbers are substituted: turning
    them into Piecewise first would make SymPy fold 2^D branches out of a product.
    """
    expr = expr.replace(lambda e: isinstance(e, (sp.Sum, sp.Product)), lambda e: e.doit(deep=False))
    return expr.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.doit())


def _quadrature(integral: sp.Integral) -> sp.Expr:
    """A one-dimensional definite integral with numeric limits, numerically.

    The integrand is lambdified once (`sp.N(integral)` re-evaluates the SymPy tree at every node
    and takes seconds). scipy's adaptive quadrature is tried first; where it reports a large
    error or hits 0·log(0) = nan in a far tail, mpmath (wide exponent range) takes over.
    """
    (limit,) = integral.limits
    if len(limit) != 3 or integral.function.free_symbols - {limit[0]}:
        return sp.N(integral)
    var, lo, hi = limit
    # log(c·exp(−a·z²)) → log c − a·z²: otherwise the far tail evaluates log(0) = −inf.
    function = sp.expand_log(integral.function)
    bounds = [
        float(v) if v.is_finite else (math.inf if v == sp.oo else -math.inf) for v in (lo, hi)
    ]
    try:
        f = sp.lambdify(var, function, modules="math")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an IntegrationWarning means: use mpmath
            value, error = integrate.quad(f, *bounds, epsabs=0, epsrel=1e-12, limit=200)
        if math.isfinite(value) and error <= 1e-11 * max(1.0, abs(value)):
            return sp.Float(value)
    except (ArithmeticError, TypeError, ValueError, Warning):
        pass
    try:
        f = sp.lambdify(var, function, modules="mpmath")
        mp_bounds = [mpmath.mpf(b) if math.isfinite(b) else b * mpmath.inf for b in bounds]
        return sp.Float(mpmath.quad(f, mp_bounds))
    except (ArithmeticError, TypeError, ValueError):
        return sp.N(integral)


def _numeric_value(expr: sp.Expr) -> complex:
    """expr (no free symbols left) as a complex number; innermost integrals first."""
    while integrals := [t for t in expr.atoms(sp.Integral) if not t.function.has(sp.Integral)]:
        expr = expr.xreplace({t: _quadrature(t) for t in integrals})
    return complex(sp.N(expr))


def numeric_difference(
    a: sp.Expr,
    b: sp.Expr,
    ranges: Mapping[sp.Basic, tuple[float, float]] | None = None,
    *,
    trials: int = 6,
    seed: int = 0,
) -> float:
    """Largest relative |a - b| over random points; symbolic sizes (D, n) take small integers.

    A point where either side is not finite (nan, zoo) counts as a disagreement (inf): nan would
    otherwise compare as "no error" and let any relation pass.
    """
    worst = 0.0
    for va, vb in _concrete_points((a, b), dict(ranges or {}), trials, seed):
        if not (cmath.isfinite(va) and cmath.isfinite(vb)):
            return math.inf
        scale = max(1.0, abs(va), abs(vb))
        worst = max(worst, abs(va - vb) / scale)
    return worst


def positive_at_samples(
    expr: sp.Expr,
    ranges: Mapping[sp.Basic, tuple[float, float]] | None = None,
    *,
    trials: int = 6,
    seed: int = 0,
) -> bool:
    """True if expr is real and > 0 at every sampled point (for factors SymPy cannot sign)."""
    try:
        for (value,) in _concrete_points((expr,), dict(ranges or {}), trials, seed):
            if not cmath.isfinite(value) or abs(value.imag) > 1e-12 * max(1.0, abs(value)):
                return False
            if value.real <= 0:
                return False
    except (TypeError, ValueError):  # a free symbol left over: cannot be signed
        return False
    return True


def _sum_indices(expr: sp.Basic) -> set[sp.Symbol]:
    return {lim[0] for s in expr.atoms(sp.Sum, sp.Product) for lim in s.limits}


def _is_index_of(symbol: sp.Symbol, *exprs: sp.Basic) -> bool:
    return any(symbol in _sum_indices(e) for e in exprs)


def _expand_integrands(expr: sp.Expr) -> sp.Expr:
    """Expand each integrand into polynomial × exp terms, leaving the exponents alone.

    SymPy integrates z^k·exp(−(z − μ)²/(2σ²)) cleanly term by term, but spends a minute (and
    produces erfc(|μ|…) debris) if (μ + σε)² is left unexpanded or the exponent is expanded.
    expand_log honours assumptions, so it never splits a log it shouldn't.
    """

    def expand_one(integral: sp.Integral) -> sp.Integral:
        f = sp.expand_log(integral.function)
        hidden = {e: sp.Dummy() for e in f.atoms(sp.exp)}
        shown = {v: k for k, v in hidden.items()}
        return sp.Integral(sp.expand(f.xreplace(hidden)).xreplace(shown), *integral.limits)

    return expr.replace(lambda e: isinstance(e, sp.Integral), expand_one)


def _split_sums(expr: sp.Expr) -> sp.Expr:
    """Σᵢ(a·f(i) + c) → a·Σᵢ f(i) + D·c, without expanding (which would fold Piecewise terms).

    Also the checker's (`derivations.checker.symbolic.normal`), after its own `expand`."""

    def split(total: sp.Sum) -> sp.Expr:
        if len(total.limits) != 1:
            return total
        index = total.limits[0][0]
        parts = []
        for term in sp.Add.make_args(total.function):
            factor, dependent = term.as_independent(index, as_Add=False)
            if dependent.has(index):  # left unevaluated: symbolic summation is slow here
                parts.append(factor * sp.Sum(dependent, *total.limits))
            else:
                _, lo, hi = total.limits[0]
                parts.append(factor * dependent * (hi - lo + 1))
        return sp.Add(*parts)

    return expr.replace(lambda e: isinstance(e, sp.Sum), split)


def _merge_sums(expr: sp.Expr) -> sp.Expr:
    """Σₙ(c·Σⱼ f + g) → c·Σⱼₙ f + Σₙ g: a nested Sum becomes one Sum over both indices.

    So a mean written where the code applies it (Σₙ (1/J)·Σⱼ KLₙⱼ) and the same mean pulled out
    ((1/J)·Σⱼₙ KLₙⱼ) cancel term by term; otherwise only `doit` could match them, and SymPy then
    spends seconds attempting closed forms (Gosper) for sums of logs that it cannot find. Only
    Sums with finite limits are split (splitting an infinite Sum needs convergence); a factor
    comes out only if free of every index of the Sum.
    """

    def merge(total: sp.Sum) -> sp.Expr:
        indices = {limit[0] for limit in total.limits}
        bounds = [bound for limit in total.limits for bound in limit[1:]]
        if len(bounds) != 2 * len(indices) or not all(b.is_finite for b in bounds):
            return total
        outer_bounds = set().union(*(b.free_symbols for b in bounds))
        parts, pending = [], [(sp.Integer(1), total.function)]
        while pending:  # c·(a·Σⱼ f + g) → c·a·Σⱼ f, c·g: each piece a factor times a term
            outer_factor, summand = pending.pop()
            for term in sp.Add.make_args(summand):
                factor, dependent = term.as_independent(*indices, as_Add=False)
                factor *= outer_factor
                inner = {limit[0] for limit in getattr(dependent, "limits", ())}
                if isinstance(dependent, sp.Add):
                    pending.append((factor, dependent))
                elif dependent == 1 and not indices & outer_bounds:  # Σ 1 over a box: its size
                    parts.append(factor * sp.Mul(*(hi - lo + 1 for _, lo, hi in total.limits)))
                elif isinstance(dependent, sp.Sum) and not inner & (indices | outer_bounds):
                    limits = (*dependent.limits, *total.limits)  # innermost first
                    parts.append(factor * sp.Sum(dependent.function, *limits))
                else:
                    parts.append(factor * sp.Sum(dependent, *total.limits))
        return sp.Add(*parts)

    return expr.replace(lambda e: isinstance(e, sp.Sum), merge)


def _log_of_products(expr: sp.Expr) -> sp.Expr:
    """log ∏ fᵢ → Σ log fᵢ, only where SymPy knows fᵢ > 0 (otherwise it is not an identity)."""

    def rewrite(log: sp.Expr) -> sp.Expr:
        (product,) = log.args
        if isinstance(product, sp.Product) and product.function.is_positive:
            return sp.Sum(sp.log(product.function), *product.limits)
        return log

    return expr.replace(lambda e: isinstance(e, sp.log), rewrite)


def _rewrites(difference: sp.Expr) -> list[sp.Expr]:
    """Cheap, assumption-respecting rewrites of a difference, most often sufficient first."""
    if difference.has(sp.Integral):
        difference = _expand_integrands(difference)
    difference = _log_of_products(difference)
    rewrites = (
        sp.expand_log,  # expand_log honours assumptions: it never splits a log it shouldn't
        lambda e: sp.expand_log(_split_sums(sp.expand_log(e))),  # Σ log(c·fᵢ) = D·log c + …
        _split_sums,
        _merge_sums,
    )
    out = []
    for rewrite in rewrites:
        try:
            out.append(rewrite(difference))
        except Exception:  # a rewrite can choke on Piecewise/Integral mixes; try the next
            continue
    return out


def _zero_without_doit(rewritten: list[sp.Expr]) -> bool:
    return any(sp.expand(expr) == 0 for expr in rewritten)


def _zero_after_doit(rewritten: list[sp.Expr]) -> tuple[bool, sp.Expr | None]:
    """(shown zero?, last expanded form to hand to simplify)."""
    expanded = None
    for expr in rewritten:
        try:
            expanded = sp.expand(expr.doit())
        except Exception:  # doit can fail on Piecewise/Integral mixes; try the next form
            continue
        if expanded == 0:
            return True, None
    return False, expanded


def equivalent(a: sp.Expr, b: sp.Expr, ranges=None, tol: float = 1e-9) -> StepCheck:
    """Symbolic identity if SymPy can show it, otherwise agreement at random points.

    Order matters for speed: rewrites that need no `doit` (which would turn e.g. a Huber loss
    into a Piecewise that SymPy folds and simplifies slowly), then the numeric check, so a wrong
    expression fails in well under a second; only then `doit` (symbolic integrals) and
    `simplify`, to upgrade a numeric agreement to a symbolic proof.
    """
    rewritten = _rewrites(sp.Add(a, -b))
    if _zero_without_doit(rewritten):
        return StepCheck(True, "symbolic")
    try:
        err = numeric_difference(a, b, ranges)
    except (TypeError, ValueError) as exc:  # a free symbol left over: not a closed expression
        err, reason = None, f"could not evaluate numerically: {exc}"
    if err is not None and err >= tol:
        return StepCheck(False, f"differ numerically (relative error {err:.3g})")
    shown, expanded = _zero_after_doit(rewritten)
    try:
        if shown or (expanded is not None and sp.simplify(expanded) == 0):
            return StepCheck(True, "symbolic")
    except Exception:  # simplify can fail on Piecewise/Integral mixes
        pass
    if err is None:
        return StepCheck(False, reason)
    return StepCheck(True, "numeric")


def check_step(previous: Step, step: Step, derivation: Derivation) -> StepCheck:
    """Verify that `step` relates to `previous` exactly as it claims.

    This verifies the app's *own* steps (trusted SymPy, written in `derivations/`): it may call
    `simplify` and substitute numbers with SymPy, with no time limit. A learner's typed input is
    judged by `derivations.checker.check` instead, which parses it with the safe parser and
    runs its verdict in a worker process with a time and a memory limit.
    """
    params, ranges = derivation.parameters, derivation.sample_ranges
    if step.relation == "equal":
        return equivalent(previous.expr, step.expr, ranges)
    if step.relation == "drop":
        if depends_on(step.term, params):
            return StepCheck(False, f"dropped term {step.term} depends on the parameters")
        return equivalent(previous.expr, step.expr + step.term, ranges)
    if step.relation == "scale":
        if depends_on(step.term, params):
            return StepCheck(False, f"scale factor {step.term} depends on the parameters")
        positive = step.term.is_positive
        if positive is False:
            return StepCheck(False, f"scale factor {step.term} is not positive")
        # SymPy cannot always sign a factor (e.g. 1 - p with p in (0, 1)): check it at the
        # sampled points instead, so an undecided sign is never waved through.
        if positive is None and not positive_at_samples(step.term, ranges):
            return StepCheck(False, f"scale factor {step.term} is not positive at sampled points")
        return equivalent(previous.expr, step.term * step.expr, ranges)
    return StepCheck(False, f"relation {step.relation!r} cannot follow a step")


def check_derivation(derivation: Derivation) -> list[StepCheck]:
    """One StepCheck per step after the first."""
    steps = derivation.steps
    return [check_step(p, s, derivation) for p, s in itertools.pairwise(steps)]
