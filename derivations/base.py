"""The shape every derivation shares, and the check that each step really follows.

A `Derivation` is an ordered list of `Step`s. Each step says how its expression relates to the
previous one:

- ``start``  the first expression (usually a log-density);
- ``equal``  an identity: previous == expr;
- ``drop``   previous == expr + term, where ``term`` is free of the model's parameters, so
             maximising either gives the same optimum;
- ``scale``  previous == term * expr, where ``term`` is a positive factor free of the parameters.

`check_step` verifies a relation symbolically and, where `simplify` is not enough, numerically at
random points (with concrete small dimensions substituted for symbolic sums).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

RELATIONS = ("start", "equal", "drop", "scale")


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


@dataclass(frozen=True)
class StepCheck:
    ok: bool
    how: str  # "symbolic" or "numeric", or why it failed


def depends_on(expr: sp.Basic, parameters: tuple[sp.Basic, ...]) -> bool:
    """True if expr mentions any parameter (an IndexedBase counts through its Indexed uses)."""
    return any(expr.has(p) for p in parameters)


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


def numeric_difference(
    a: sp.Expr,
    b: sp.Expr,
    ranges: Mapping[sp.Basic, tuple[float, float]] | None = None,
    *,
    trials: int = 6,
    seed: int = 0,
) -> float:
    """Largest relative |a - b| over random points; symbolic sizes (D, n) take small integers."""
    ranges = dict(ranges or {})
    rng = random.Random(seed)
    worst = 0.0
    for trial in range(trials):
        # Concrete sizes first so Sums expand into finitely many Indexed terms.
        bound = _sum_indices(a) | _sum_indices(b)
        sizes = {
            s: 2 + (trial % 3)
            for s in a.free_symbols | b.free_symbols
            if isinstance(s, sp.Symbol) and s.is_integer and s not in bound
        }
        da, db = a.subs(sizes).doit(), b.subs(sizes).doit()
        indexed = da.atoms(sp.Indexed) | db.atoms(sp.Indexed)
        labels = {t.base.label for t in indexed}  # IndexedBase labels are not free values
        atoms = indexed | {
            t
            for t in (da.free_symbols | db.free_symbols)
            if isinstance(t, sp.Symbol) and t not in labels and not _is_index_of(t, da, db)
        }
        point = {t: _sample_value(t, ranges, rng) for t in atoms}
        va = complex(sp.N(da.subs(point)))
        vb = complex(sp.N(db.subs(point)))
        scale = max(1.0, abs(va), abs(vb))
        worst = max(worst, abs(va - vb) / scale)
    return worst


def _sum_indices(expr: sp.Basic) -> set[sp.Symbol]:
    return {lim[0] for s in expr.atoms(sp.Sum) for lim in s.limits}


def _is_index_of(symbol: sp.Symbol, *exprs: sp.Basic) -> bool:
    return any(symbol in _sum_indices(e) for e in exprs)


def equivalent(a: sp.Expr, b: sp.Expr, ranges=None, tol: float = 1e-9) -> StepCheck:
    """Symbolic identity if simplify can show it, otherwise agreement at random points."""
    try:
        if sp.simplify(sp.expand(sp.Add(a, -b).doit())) == 0:
            return StepCheck(True, "symbolic")
    except Exception:  # simplify can fail on Piecewise/Integral mixes; fall back to numbers
        pass
    try:
        err = numeric_difference(a, b, ranges)
    except (TypeError, ValueError) as exc:  # a free symbol left over: not a closed expression
        return StepCheck(False, f"could not evaluate numerically: {exc}")
    if err < tol:
        return StepCheck(True, "numeric")
    return StepCheck(False, f"differ numerically (relative error {err:.3g})")


def check_step(previous: Step, step: Step, derivation: Derivation) -> StepCheck:
    """Verify that `step` relates to `previous` exactly as it claims."""
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
        if step.term.is_positive is False:
            return StepCheck(False, f"scale factor {step.term} is not positive")
        return equivalent(previous.expr, step.term * step.expr, ranges)
    return StepCheck(False, f"relation {step.relation!r} cannot follow a step")


def check_derivation(derivation: Derivation) -> list[StepCheck]:
    """One StepCheck per step after the first."""
    steps = derivation.steps
    return [check_step(p, s, derivation) for p, s in itertools.pairwise(steps)]
