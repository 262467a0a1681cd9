"""'Check my derivation': compare a learner's expression with any step of any derivation.

`check(text, derivation, step_index)` parses the text with the safe parser (`parse`, re-exported
here) and returns a `Verdict`:

- ``equal``      the same function as the target;
- ``constant``   equal up to an additive term free of the derivation's parameters (same optimum);
- ``multiple``   a positive multiple of the target, possibly plus such a constant (same optimum);
- ``not-equal``  with a concrete point where the two differ, and hints for the known slips;
- ``invalid``    the text could not be parsed (the message says why) or evaluated.

How the relation is decided, and why it is fast
-----------------------------------------------
Numbers first. Both expressions are compiled into small Python closures (`_compile`): no
``lambdify`` (which generates and ``exec``s code) and no ``subs``/``doit`` per point. Sums run
over concrete sizes (D = 2, 3, 4), so evaluation is plain float arithmetic. The sample points
come in groups: within a group everything except the parameters is held fixed and only the
parameters vary. Then

- agreement at every point means ``equal``;
- a difference that is the same at every point of a group means ``constant``;
- ``user = a·target + b`` with a, b the same throughout a group means ``multiple`` (a > 0).

Symbols second, and only when cheap: expressions under an operation-count and expansion-size
cap are expanded (logs split, sums split into sums of monomials) so that the constant, the
factor or an exact zero difference can be shown as a formula. No ``simplify`` is ever called,
so there is nothing unbounded to time out; every symbolic result is checked against the numbers
before it is shown. Hints come from trying corrected variants numerically (a flipped sign, a
lost ½, a mean for a sum, σ² where log σ² belongs, a missing term) and seeing which one matches.

Sampling follows `derivations.base` (its `_sample_value` ranges and `depends_on`), but not its
`numeric_difference`: that substitutes with SymPy at every point (``subs``/``doit``/``N``),
which is too slow for the hundreds of evaluations a verdict with hints needs and is not bounded
on hostile input (``D^1000`` at D = 3 becomes an exact 477-digit integer; floats just overflow).
"""

from __future__ import annotations

import cmath
import functools
import itertools
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from derivations.base import Derivation, _sample_value, depends_on
from derivations.parser import ParseError, parse, sum_structure

__all__ = ["KINDS", "ParseError", "Verdict", "check", "check_expr", "compare", "parse"]

KINDS = ("equal", "constant", "multiple", "not-equal", "invalid")

GROUPS = 3  # settings of the non-parameters (sizes 2, 3, 4)
PER_GROUP = 5  # parameter settings per group
TOL_EQUAL = 1e-8
TOL_FIT = 1e-6
MAX_LOOP = 2_000  # sum terms per evaluation (sizes here are 2-4; typed limits reach 1000)
MAX_OPS = 400  # count_ops cap for the symbolic part
MAX_EXPANSION = 400  # estimated number of terms after expand
MAX_HINTS = 3
HINT_SECONDS = 0.5  # a soft budget for trying corrected variants (hints are best effort)


@dataclass(frozen=True)
class Verdict:
    kind: str  # one of KINDS
    message: str  # one or two plain sentences for the learner
    difference: sp.Expr | None = None  # the constant (constant) or the factor (multiple)
    counterexample: dict[str, float | complex] | None = None  # names -> values, yours, target
    hints: list[str] = field(default_factory=list)
    latex: str = ""  # the parsed input, for showing it back
    expr: sp.Expr | None = None  # the parsed input
    method: str = ""  # "symbolic" or "numeric" (how the relation was established)
    offset: sp.Expr | None = None  # kind "multiple": the additive constant, if there is one


# ---------------------------------------------------------------------------------------------
# Plain-text printing for messages


_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "ell": "ℓ",
}  # fmt: skip
_SUB = {
    "i": "ᵢ",
    "j": "ⱼ",
    "k": "ₖ",
    "n": "ₙ",
    "l": "ₗ",
    **{str(d): chr(0x2080 + d) for d in range(10)},
}


def _greek(name: str) -> str:
    head, _, tail = name.partition("_")
    head = _GREEK.get(head, head)
    return f"{head}_{tail}" if tail else head


def _subscript(text: str) -> str:
    if all(c in _SUB for c in text):
        return "".join(_SUB[c] for c in text)
    return "_" + text


class _PlainPrinter(StrPrinter):
    printmethod = "_plainstr"  # not Indexed's own _sympystr

    def _print_Symbol(self, expr):
        return _greek(expr.name)

    def _print_Pi(self, expr):
        return "π"

    def _print_Exp1(self, expr):
        return "e"

    def _print_Indexed(self, expr):
        label = _greek(str(expr.base.label))
        return label + "".join(_subscript(self._print(k)) for k in expr.indices)

    def _print_Pow(self, expr, rational=False):
        base = self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=True)
        if expr.exp == 2:
            return base + "²"
        if expr.exp == 3:
            return base + "³"
        if expr.exp == sp.S.Half:
            return "√" + self.parenthesize(expr.base, PRECEDENCE["Atom"], strict=True)
        if expr.exp == -1:
            return "1/" + base
        return base + "^" + self.parenthesize(expr.exp, PRECEDENCE["Pow"], strict=True)

    def _print_Sum(self, expr):
        body = self.parenthesize(expr.function, PRECEDENCE["Mul"], strict=True)
        out = body
        for idx, lo, hi in reversed(expr.limits):
            out = f"Σ{_subscript(self._print(idx))} {out}"
            if lo != 1 or hi.is_number:
                out = f"Σ({self._print(idx)}={self._print(lo)}..{self._print(hi)}) {body}"
        return out

    def _print_Abs(self, expr):
        return "|" + self._print(expr.args[0]) + "|"


def plain(expr: sp.Basic) -> str:
    """A one-line, readable rendering: −D·log(2π)/2, Σᵢ (xᵢ − μᵢ)², 2σ²."""
    text = _PlainPrinter().doprint(expr).replace("*", "·").replace("-", "−")
    return _NUMBER_TIMES.sub(r"\1", text)  # 2·σ² -> 2σ², 2·π -> 2π


_NUMBER_TIMES = re.compile(r"(?<![\w.])(\d+)·(?=[^\W\d_]|\(|√)")


# ---------------------------------------------------------------------------------------------
# Fast, bounded numeric evaluation


class _EvalError(Exception):
    pass


class _TooLong(Exception):
    """Sums with more terms than MAX_LOOP: the whole expression is refused, not one point."""


class _Point:
    """One sample point. Values are drawn lazily, from a seed per name, so the order in which
    expressions touch them does not matter. Non-parameters are shared across a group."""

    def __init__(
        self,
        group: int,
        member: int,
        size: int,
        fixed: dict,
        is_param: Callable[[sp.Basic], bool],
        ranges: Mapping[sp.Basic, tuple[float, float]],
        seed: int,
    ) -> None:
        self.group, self.member, self.size = group, member, size
        self.fixed = fixed  # shared by the group
        self.params: dict = {}
        self.is_param = is_param
        self.ranges = ranges
        self.seed = seed
        self.budget = MAX_LOOP

    def value(self, key, atom: sp.Basic) -> complex:
        param = self.is_param(atom)
        store = self.params if param else self.fixed
        if key not in store:
            if isinstance(atom, sp.Symbol) and atom.is_integer:
                store[key] = complex(self.size)
            else:
                tag = f"{self.seed}|{self.group}|{self.member if param else '-'}|{key}"
                raw = _sample_value(atom, self.ranges, random.Random(tag))
                store[key] = complex(_nice(raw, atom, self.ranges))
        return store[key]


def _nice(value: float, atom: sp.Basic, ranges) -> float:
    """Round to two decimals so a counterexample can be checked by hand."""
    base = atom.base if isinstance(atom, sp.Indexed) else atom
    lo, hi = ranges.get(base, (-math.inf, math.inf))
    rounded = round(value, 2)
    if hi - lo < 0.5 or not lo <= rounded <= hi or rounded == 0:
        return value
    return rounded


def _real(z: complex) -> float:
    if abs(z.imag) > 1e-12 * max(1.0, abs(z.real)):
        raise _EvalError("complex value where a real one is needed")
    return z.real


def _as_int(z: complex) -> int:
    r = _real(z)
    k = round(r)
    if abs(r - k) > 1e-9:
        raise _EvalError("non-integer index")
    return int(k)


def _pow(a: complex, b: complex) -> complex:
    if a.imag == 0 and b.imag == 0:
        ar, br = a.real, b.real
        if ar > 0 or float(br).is_integer():
            return complex(ar**br)
    return a**b


def _erf(z: complex) -> complex:
    return complex(math.erf(_real(z)))


_CMATH = {
    sp.exp: cmath.exp,
    sp.log: cmath.log,
    sp.tanh: cmath.tanh,
    sp.atanh: cmath.atanh,
    sp.sinh: cmath.sinh,
    sp.cosh: cmath.cosh,
    sp.asinh: cmath.asinh,
    sp.acosh: cmath.acosh,
    sp.sin: cmath.sin,
    sp.cos: cmath.cos,
    sp.tan: cmath.tan,
    sp.atan: cmath.atan,
    sp.erf: _erf,
    sp.erfc: lambda z: complex(math.erfc(_real(z))),
    sp.loggamma: lambda z: complex(math.lgamma(_real(z))),
    sp.gamma: lambda z: complex(math.gamma(_real(z))),
    sp.Abs: lambda z: complex(abs(z)),
    sp.sign: lambda z: complex((_real(z) > 0) - (_real(z) < 0)),
    sp.Heaviside: lambda z: complex(1.0 if _real(z) > 0 else (0.5 if _real(z) == 0 else 0.0)),
}

_RELATIONS = {
    sp.StrictLessThan: lambda a, b: a < b,
    sp.LessThan: lambda a, b: a <= b,
    sp.StrictGreaterThan: lambda a, b: a > b,
    sp.GreaterThan: lambda a, b: a >= b,
    sp.Equality: lambda a, b: a == b,
    sp.Unequality: lambda a, b: a != b,
}

Compiled = Callable[[_Point, dict], complex]


def _compile(expr: sp.Basic) -> Compiled:
    """expr -> f(point, bound) where bound maps the indices of enclosing sums to integers."""
    if isinstance(expr, (sp.Integer, sp.Rational, sp.Float, sp.NumberSymbol)) or expr in (
        sp.S.ImaginaryUnit,
    ):
        try:
            value = complex(expr)
        except (OverflowError, TypeError, ValueError):
            return _raiser("number out of range")
        return lambda pt, b: value
    if isinstance(expr, sp.Symbol):
        return lambda pt, b: b[expr] if expr in b else pt.value(expr, expr)
    if isinstance(expr, sp.Indexed):
        base = expr.base
        index_fns = [_compile(k) for k in expr.indices]

        def indexed(pt, b):
            key = (base, tuple(_as_int(f(pt, b)) for f in index_fns))
            return pt.value(key, expr)

        return indexed
    if isinstance(expr, sp.Add):
        fns = [_compile(a) for a in expr.args]
        return lambda pt, b: sum((f(pt, b) for f in fns), 0j)
    if isinstance(expr, sp.Mul):
        fns = [_compile(a) for a in expr.args]

        def product(pt, b):
            out = 1 + 0j
            for f in fns:
                out *= f(pt, b)
            return out

        return product
    if isinstance(expr, sp.Pow):
        fb, fe = _compile(expr.base), _compile(expr.exp)
        return lambda pt, b: _pow(fb(pt, b), fe(pt, b))
    if isinstance(expr, (sp.Sum, sp.Product)) and all(len(lim) == 3 for lim in expr.limits):
        return _compile_loop(expr)
    if isinstance(expr, sp.Piecewise):
        pieces = [(_compile(e), _compile_condition(c)) for e, c in expr.args]

        def piecewise(pt, b):
            for f, cond in pieces:
                if cond(pt, b):
                    return f(pt, b)
            raise _EvalError("no piece applies")

        return piecewise
    if isinstance(expr, (sp.Max, sp.Min)):
        fns = [_compile(a) for a in expr.args]
        pick = max if isinstance(expr, sp.Max) else min
        return lambda pt, b: complex(pick(_real(f(pt, b)) for f in fns))
    if isinstance(expr, sp.KroneckerDelta):
        fa, fb = _compile(expr.args[0]), _compile(expr.args[1])
        return lambda pt, b: complex(_as_int(fa(pt, b)) == _as_int(fb(pt, b)))
    if isinstance(expr, sp.Integral) and len(expr.limits) == 1 and len(expr.limits[0]) == 3:
        return _compile_integral(expr)
    if isinstance(expr, sp.Derivative):
        done = expr.doit()
        if not done.has(sp.Derivative):
            return _compile(done)
    for cls, fn in _CMATH.items():
        if isinstance(expr, cls) and len(expr.args) == 1:
            inner = _compile(expr.args[0])
            return lambda pt, b, fn=fn: fn(inner(pt, b))
    if _own_function(expr):
        done = expr.doit()
        if done != expr:
            return _compile(done)
    return _compile_fallback(expr)


def _raiser(message: str) -> Compiled:
    def fail(pt, b):
        raise _EvalError(message)

    return fail


def _compile_loop(expr: sp.Sum | sp.Product) -> Compiled:
    body = _compile(expr.function)
    limits = [(idx, _compile(lo), _compile(hi)) for idx, lo, hi in expr.limits]
    is_sum = isinstance(expr, sp.Sum)

    def run(pt, b, k=0):
        if k == len(limits):
            return body(pt, b)
        idx, flo, fhi = limits[k]
        lo, hi = _as_int(flo(pt, b)), _as_int(fhi(pt, b))
        if hi - lo + 1 > pt.budget:
            raise _TooLong
        acc = 0j if is_sum else 1 + 0j
        inner = dict(b)
        for value in range(lo, hi + 1):
            pt.budget -= 1
            inner[idx] = complex(value)
            term = run(pt, inner, k + 1)
            acc = acc + term if is_sum else acc * term
        return acc

    return run


def _compile_condition(cond: sp.Basic) -> Callable[[_Point, dict], bool]:
    if cond is sp.true or cond == True:  # noqa: E712 - SymPy's true
        return lambda pt, b: True
    if cond is sp.false or cond == False:  # noqa: E712
        return lambda pt, b: False
    for cls, op in _RELATIONS.items():
        if isinstance(cond, cls):
            fl, fr = _compile(cond.lhs), _compile(cond.rhs)
            return lambda pt, b, op=op: op(_real(fl(pt, b)), _real(fr(pt, b)))
    if isinstance(cond, (sp.And, sp.Or)):
        parts = [_compile_condition(a) for a in cond.args]
        join = all if isinstance(cond, sp.And) else any
        return lambda pt, b: join(p(pt, b) for p in parts)
    if isinstance(cond, sp.Not):
        inner = _compile_condition(cond.args[0])
        return lambda pt, b: not inner(pt, b)
    return _raiser(f"unsupported condition {type(cond).__name__}")


def _compile_integral(expr: sp.Integral) -> Compiled:
    """A definite 1-D integral (only ever in a derivation's own steps).

    The line is cut where a Piecewise switches or an Abs folds (`_kinks`), and each smooth piece
    is integrated by double-exponential quadrature (`_de_quad`): a few hundred integrand calls
    at most, no SciPy import, and accurate to ~1e-12 on the Gaussian-type integrands here.
    """
    var, lo, hi = expr.limits[0]
    body = _compile(expr.function)
    flo, fhi = _compile(lo), _compile(hi)
    kinks = [_compile(k) for k in _kinks(expr.function, var)]

    def integral(pt, b):
        a, c = _real(flo(pt, b)), _real(fhi(pt, b))
        if a == c:
            return 0j
        sign = 1.0
        if a > c:
            a, c, sign = c, a, -1.0
        inner = dict(b)

        def f(t: float) -> float:
            inner[var] = complex(t)
            try:
                return _real(body(pt, inner))
            except (ArithmeticError, ValueError, _EvalError):
                return 0.0  # underflow or log(0) far in the tails, where q·log q → 0

        cuts = sorted({_real(k(pt, b)) for k in kinks})
        edges = [a, *(x for x in cuts if a < x < c), c]
        return complex(sign * sum(_de_quad(f, l, r) for l, r in itertools.pairwise(edges)))

    return integral


def _de_quad(f: Callable[[float], float], a: float, c: float) -> float:
    """∫_a^c f by the trapezoid rule after a double-exponential substitution (tanh-sinh on a
    finite interval, exp-sinh on a half line, sinh-sinh on the whole line), halving the step
    until two levels agree; the error roughly squares with each halving."""
    half_pi = math.pi / 2
    if math.isfinite(a) and math.isfinite(c):
        mid, rad = (a + c) / 2, (c - a) / 2

        def g(t):
            u = half_pi * math.sinh(t)
            return rad * half_pi * math.cosh(t) / math.cosh(u) ** 2 * f(mid + rad * math.tanh(u))

        span = 3.0
    elif math.isfinite(a) or math.isfinite(c):
        start, direction = (a, 1.0) if math.isfinite(a) else (c, -1.0)

        def g(t):
            e = math.exp(half_pi * math.sinh(t))
            return half_pi * math.cosh(t) * e * f(start + direction * e)

        span = 4.5  # from start + 4e-31 to start + 1e30
    else:

        def g(t):
            u = half_pi * math.sinh(t)
            return half_pi * math.cosh(t) * math.cosh(u) * f(math.sinh(u))

        span = 2.5

    def safe(t: float) -> float:
        try:
            value = g(t)
        except (OverflowError, ZeroDivisionError):
            return 0.0
        return value if math.isfinite(value) else 0.0

    h = 0.1
    n = round(span / h)
    total = h * sum(safe(k * h) for k in range(-n, n + 1))
    for _ in range(4):
        h, n = h / 2, 2 * n
        refined = total / 2 + h * sum(safe(k * h) for k in range(-n + 1, n, 2))
        if abs(refined - total) <= 1e-7 * max(1e-3, abs(refined)):
            return refined
        total = refined
    return total


def _kinks(function: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Where a Piecewise switches or an Abs folds, as expressions in the other symbols."""
    edges = []
    for rel in function.atoms(sp.core.relational.Relational):
        if rel.has(var):
            edges.append(rel.lhs - rel.rhs)
    edges += [a.args[0] for a in function.atoms(sp.Abs) if a.has(var)]
    out: list[sp.Expr] = []
    for edge in edges:
        try:
            roots = sp.solve(edge, var)
        except Exception:  # NotImplementedError and friends: no kinks known, quad copes
            continue
        out += [r for r in roots if not r.has(sp.I) and r.is_real is not False]
    return out


def _compile_fallback(expr: sp.Basic) -> Compiled:
    """Anything else (only in a derivation's own steps): substitute numbers and ask SymPy."""
    symbols = [s for s in expr.free_symbols if isinstance(s, sp.Symbol)]
    indexed = list(expr.atoms(sp.Indexed))
    ind_fns = [(ind, _compile(ind)) for ind in indexed]
    labels = {ind.base.label for ind in indexed}

    def fallback(pt, b):
        values = {ind: f(pt, b) for ind, f in ind_fns}
        concrete = expr.xreplace({k: _sympy_number(v) for k, v in values.items()})
        sym_values = {
            s: _sympy_number(b[s] if s in b else pt.value(s, s)) for s in symbols if s not in labels
        }
        return complex(sp.N(concrete.xreplace(sym_values)))

    return fallback


def _sympy_number(z: complex) -> sp.Expr:
    return sp.Float(z.real) if z.imag == 0 else sp.Float(z.real) + sp.I * sp.Float(z.imag)


def _evaluate(fn: Compiled, pt: _Point, *, strict: bool = True) -> complex:
    """fn at pt; nan where it is undefined. Too-long sums raise _TooLong when strict."""
    pt.budget = MAX_LOOP
    try:
        value = fn(pt, {})
    except _TooLong:
        if strict:
            raise
        return complex(math.nan, 0)
    except (ArithmeticError, ValueError, TypeError, _EvalError, RecursionError):
        return complex(math.nan, 0)
    if not cmath.isfinite(value):
        return complex(math.nan, 0)
    return value


# ---------------------------------------------------------------------------------------------
# Relations from numbers


@dataclass
class _Relation:
    kind: str  # equal, constant, multiple, affine, negative, different, undefined
    a: list = field(default_factory=list)  # per group
    b: list = field(default_factory=list)  # per group
    groups: list = field(default_factory=list)  # group numbers used


def _close(u: complex, t: complex, tol: float = TOL_EQUAL) -> bool:
    return abs(u - t) <= tol * max(1.0, abs(u), abs(t))


def _is_real_positive(a: complex) -> bool:
    return abs(a.imag) <= 1e-9 * abs(a) and a.real > 0


def _relate(u: list[list[complex]], t: list[list[complex]]) -> _Relation:
    """How user values u relate to target values t, group by group."""
    fits, groups = [], []
    usable = False
    for g, (ug, tg) in enumerate(zip(u, t, strict=True)):
        pairs = [
            (a, b) for a, b in zip(ug, tg, strict=True) if not (cmath.isnan(a) or cmath.isnan(b))
        ]
        if len(pairs) < 3:
            continue
        usable = True
        groups.append(g)
        fits.append(_fit(pairs))
    if not usable:
        return _Relation("undefined")
    if all(fit == "equal" for fit in fits):
        return _Relation("equal", groups=groups)
    if any(fit is None for fit in fits):
        return _Relation("different", groups=groups)
    fits = [(1 + 0j, 0j) if fit == "equal" else fit for fit in fits]
    a = [f[0] for f in fits]
    b = [f[1] for f in fits]
    if all(_close(x, 1, 1e-7) for x in a):
        return _Relation("constant", a, b, groups)
    positive = all(_is_real_positive(x) for x in a)
    negative = all(_is_real_positive(-x) for x in a)
    if not (positive or negative):
        return _Relation("different", a, b, groups)
    pure = all(abs(y) <= 1e-7 * max(1.0, abs(x)) for x, y in zip(a, b, strict=True))
    if negative:
        return _Relation("negative", a, b, groups)
    return _Relation("multiple" if pure else "affine", a, b, groups)


def _fit(pairs: list[tuple[complex, complex]]):
    """'equal', (a, b) with u = a·t + b at every pair, or None.

    Tolerances are relative to how much each side *varies*, plus float round-off of its size:
    a huge additive constant (1e12 − SSE) must neither hide a difference nor make a moving
    target look fixed.
    """
    if all(_close(u, t) for u, t in pairs):
        return "equal"
    us = [u for u, _ in pairs]
    ts = [t for _, t in pairs]
    u_spread = max(abs(v - us[0]) for v in us)
    t_spread = max(abs(v - ts[0]) for v in ts)
    u_roundoff = 1e-13 * max(abs(v) for v in us)
    t_roundoff = 1e-13 * max(abs(v) for v in ts)
    t0, u0 = ts[0], us[0]
    far = max(range(len(ts)), key=lambda k: abs(ts[k] - t0))
    if t_spread <= 1e-9 * max(1.0, *(abs(v) for v in ts)) + t_roundoff:
        # The target does not move with the parameters: only a constant user expression fits.
        if u_spread <= TOL_FIT * max(1.0, *(abs(v) for v in ts)) + u_roundoff:
            return (1 + 0j, u0 - t0)
        return None
    a = (us[far] - u0) / (ts[far] - t0)
    b = u0 - a * t0
    tolerance = TOL_FIT * max(1.0, u_spread, abs(a) * t_spread) + u_roundoff + abs(a) * t_roundoff
    for uv, tv in pairs:
        if abs(uv - (a * tv + b)) > tolerance:
            return None
    return (a, b)


def _accepted(rel: _Relation) -> bool:
    return rel.kind in ("equal", "constant", "multiple", "affine")


# ---------------------------------------------------------------------------------------------
# The comparison


@dataclass
class _Context:
    user: sp.Expr
    target: sp.Expr
    parameters: tuple
    points: list[list[_Point]]
    u: list[list[complex]]
    t: list[list[complex]]
    names: dict  # SymPy object -> the name a learner types
    slug: str
    size_symbol: sp.Symbol | None

    def values(self, expr: sp.Expr) -> list[list[complex]]:
        fn = _compile(expr)
        return [[_evaluate(fn, pt, strict=False) for pt in group] for group in self.points]

    def size_of(self, g: int) -> int:
        return self.points[g][0].size


def _make_points(parameters, ranges, seed: int) -> list[list[_Point]]:
    params = set(parameters)
    labels = {p.label for p in parameters if isinstance(p, sp.IndexedBase)}

    def is_param(atom: sp.Basic) -> bool:
        if not params:  # nothing is held fixed: every point of a group is a fresh point
            return True
        if isinstance(atom, sp.Indexed):
            return atom.base in params or atom.base.label in labels
        return atom in params

    points = []
    for g in range(GROUPS):
        fixed: dict = {}
        points.append(
            [_Point(g, k, 2 + g, fixed, is_param, ranges, seed) for k in range(PER_GROUP)]
        )
    return points


@functools.lru_cache(maxsize=256)
def _prepare(target: sp.Expr) -> sp.Expr:
    """Carry out, once, what a derivation's steps keep unevaluated for display (they are
    trusted input): derivatives, and the project's own functions such as Huber(r, α)."""
    if target.has(sp.Derivative):
        target = target.replace(lambda n: isinstance(n, sp.Derivative), lambda n: n.doit())
    return target.replace(_own_function, lambda n: n.doit())


def _own_function(node: sp.Basic) -> bool:
    return isinstance(node, sp.Function) and not type(node).__module__.startswith("sympy.")


@functools.lru_cache(maxsize=256)
def _target_values(target: sp.Expr, parameters: tuple, ranges_key: tuple, seed: int) -> tuple:
    """The target at the sample points. Cached: a page checks many inputs against one step, and
    sampled values depend only on (seed, group, member, name), so fresh points agree."""
    points = _make_points(parameters, dict(ranges_key), seed)
    fn = _compile(target)
    return tuple(tuple(_evaluate(fn, pt, strict=False) for pt in group) for group in points)


def compare(
    user: sp.Expr,
    target: sp.Expr,
    parameters: tuple = (),
    *,
    ranges: Mapping[sp.Basic, tuple[float, float]] | None = None,
    names: Mapping[str, sp.Basic] | None = None,
    slug: str = "",
    label: str = "",
    seed: int = 0,
) -> Verdict:
    """The relation between two expressions, relative to `parameters` (the core of `check`)."""
    ranges = dict(ranges or {})
    rendered = _latex(user)
    parameters = tuple(parameters)
    target = _prepare(target)
    points = _make_points(parameters, ranges, seed)
    user_fn = _compile(user)
    try:
        u = [[_evaluate(user_fn, pt) for pt in group] for group in points]
    except _TooLong:
        return Verdict(
            "invalid",
            f"Your expression adds up more than {MAX_LOOP:,} terms; keep sums to the step's own "
            "sizes.",
            latex=rendered,
            expr=user,
        )
    ranges_key = tuple(sorted(ranges.items(), key=lambda item: sp.default_sort_key(item[0])))
    t = [list(row) for row in _target_values(target, parameters, ranges_key, seed)]
    reverse = {}
    for key, obj in (names or {}).items():
        reverse.setdefault(obj, key)
    size_symbol = None
    if names and isinstance(names.get("D"), sp.Symbol):
        size_symbol = names["D"]
    ctx = _Context(user, target, tuple(parameters), points, u, t, reverse, slug, size_symbol)
    where = f" ({label})" if label else ""

    if all(cmath.isnan(v) for row in t for v in row):
        return Verdict(
            "invalid",
            f"The target step{where} could not be evaluated at the sample points.",
            latex=rendered,
            expr=user,
        )
    if all(cmath.isnan(v) for row in u for v in row):
        return Verdict(
            "invalid",
            "Your expression could not be evaluated at any sample point (it divides by zero, "
            "takes log(0) or overflows there).",
            latex=rendered,
            expr=user,
        )
    rel = _relate(u, t)
    params_text, params_or = _params_text(ctx), _params_text(ctx, "or")
    if rel.kind == "equal":
        symbolic = _symbolic_zero(user, target)
        how = "confirmed symbolically" if symbolic else f"they agree at {_count(u, t)} points"
        return Verdict(
            "equal",
            f"Equal: your expression is the target step{where}; {how}.",
            latex=rendered,
            expr=user,
            method="symbolic" if symbolic else "numeric",
        )
    if rel.kind == "constant" and parameters:
        diff = _symbolic_offset(ctx, rel)
        if diff is not None:
            message = (
                f"Equal up to an additive constant: yours = target + ({plain(diff)}), and that "
                f"term does not depend on {params_or}, so optimising either gives the same "
                f"{params_text}."
            )
        else:
            message = (
                "Equal up to an additive constant: your expression and the target differ by a "
                f"term that does not depend on {params_or}, so optimising either gives the "
                f"same {params_text}."
            )
        return Verdict(
            "constant",
            message,
            difference=diff,
            latex=rendered,
            expr=user,
            method="symbolic" if diff is not None else "numeric",
        )
    if rel.kind in ("multiple", "affine") and parameters:
        factor, offset = _symbolic_affine(ctx, rel)
        if factor is not None:
            relation = f"yours = {plain(factor)} × target"
            if rel.kind == "affine":
                relation += f" + ({plain(offset)})" if offset is not None else " + a constant"
        elif rel.kind == "multiple":
            relation = "yours is the target times a positive factor"
        else:
            relation = "yours is the target times a positive factor, plus a constant"
        kind_text = (
            "A positive multiple"
            if rel.kind == "multiple"
            else ("A positive multiple up to a constant")
        )
        message = (
            f"{kind_text}: {relation}. Neither the factor nor the constant depends on "
            f"{params_or}, so optimising either gives the same {params_text}."
            if rel.kind == "affine"
            else f"{kind_text}: {relation}. The factor is positive and does not depend on "
            f"{params_or}, so optimising either gives the same {params_text}."
        )
        return Verdict(
            "multiple",
            message,
            difference=factor,
            latex=rendered,
            expr=user,
            method="symbolic" if factor is not None else "numeric",
            offset=offset if rel.kind == "affine" else None,
            hints=_factor_hints(ctx, rel)[:MAX_HINTS],
        )
    # not equal
    example = _counterexample(ctx)
    hints = _hints(ctx, rel)
    if example is not None:
        where_text = ", ".join(
            f"{_display_name(k)} = {_fmt(v)}" for k, v in example.items() if k not in _VALUE_KEYS
        )
        message = (
            f"Not equal: at {where_text}, yours is {_fmt(example['yours'])} but the target is "
            f"{_fmt(example['target'])}."
        )
    else:
        message = "Not equal to the target."
    if rel.kind == "negative":
        factor, offset = _symbolic_affine(ctx, rel)
        if factor is not None:
            relation = f"yours = {plain(factor)} × target"
            if offset is not None and offset != 0:
                relation += f" + ({plain(offset)})"
            message += f" In fact {relation}: a negative multiple, so it has the opposite optimum."
        else:
            message += " Yours is a negative multiple of it, so it has the opposite optimum."
    return Verdict(
        "not-equal",
        message,
        counterexample=example,
        hints=hints,
        latex=rendered,
        expr=user,
        method="numeric",
    )


def check_expr(
    expr: sp.Expr, derivation: Derivation | str, step_index: int | str, *, seed: int = 0
) -> Verdict:
    """Compare an already-parsed expression with a step (index or label) of a derivation."""
    derivation = _derivation(derivation)
    target_step = _step(derivation, step_index)
    return compare(
        expr,
        target_step.expr,
        derivation.parameters,
        ranges=derivation.sample_ranges,
        names=namespace(derivation),
        slug=derivation.slug,
        label=target_step.label,
        seed=seed,
    )


def check(
    text: str, derivation: Derivation | str, step_index: int | str, *, seed: int = 0
) -> Verdict:
    """Parse `text` and compare it with step `step_index` (index or label) of `derivation`
    (a Derivation or its slug). Never raises for bad text: that is an "invalid" verdict."""
    derivation = _derivation(derivation)
    try:
        expr = parse(
            text,
            namespace(derivation),
            sums=sum_structure(s.expr for s in derivation.steps),
        )
    except ParseError as exc:
        return Verdict("invalid", _sentence(exc.message))
    return check_expr(expr, derivation, step_index, seed=seed)


def namespace(derivation: Derivation) -> dict[str, sp.Basic]:
    """The names a learner may type for this derivation (its `symbols`, or read off its steps)."""
    if derivation.symbols:
        return dict(derivation.symbols)
    found: dict[str, sp.Basic] = {}
    for s in derivation.steps:
        for ind in s.expr.atoms(sp.Indexed):
            found.setdefault(str(ind.base.label), ind.base)
        for sym in s.expr.free_symbols:
            if isinstance(sym, sp.Symbol):
                found.setdefault(sym.name, sym)
        for idx, (index, size) in sum_structure([s.expr]).items():
            if isinstance(idx, sp.Symbol):
                found.setdefault(index.name, index)
                if isinstance(size, sp.Symbol):
                    found.setdefault(size.name, size)
    return found


def _derivation(derivation: Derivation | str) -> Derivation:
    if isinstance(derivation, str):
        from derivations import get

        return get(derivation)
    return derivation


def _step(derivation: Derivation, step: int | str):
    if isinstance(step, str):
        return derivation.step(step)
    return derivation.steps[step]


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _latex(expr: sp.Expr) -> str:
    try:
        return sp.latex(expr)
    except Exception:  # printing must never break a verdict
        return ""


def _count(u, t) -> int:
    return sum(
        1
        for ug, tg in zip(u, t, strict=True)
        for a, b in zip(ug, tg, strict=True)
        if not (cmath.isnan(a) or cmath.isnan(b))
    )


def _params_text(ctx: _Context, joiner: str = "and") -> str:
    shown = [_display_object(p, ctx.names) for p in ctx.parameters]
    if not shown:
        return "the parameters"
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + f" {joiner} " + shown[-1]


def _display_object(obj: sp.Basic, names: Mapping) -> str:
    if obj in names:
        return _greek(names[obj])
    if isinstance(obj, sp.IndexedBase):
        return _greek(str(obj.label))
    return plain(obj)


_VALUE_KEYS = ("yours", "target")


def _display_name(key: str) -> str:
    head, _, tail = key.rpartition("_")
    if head and tail.isdigit():
        return _greek(head) + _subscript(tail)
    return _greek(key)


def _fmt(v: float | complex) -> str:
    if isinstance(v, complex):
        return f"{v.real:.4g}{v.imag:+.4g}i"
    text = f"{v:.4g}"
    return text.replace("-", "−")


def _counterexample(ctx: _Context) -> dict | None:
    """The clearest point where they differ: smallest size, largest relative gap."""
    for g, group in enumerate(ctx.points):
        best, best_gap = None, 0.0
        for k, pt in enumerate(group):
            a, b = ctx.u[g][k], ctx.t[g][k]
            if cmath.isnan(a) or cmath.isnan(b):
                continue
            gap = abs(a - b) / max(1.0, abs(a), abs(b))
            if gap > best_gap:
                best, best_gap = (pt, a, b), gap
        if best is not None and best_gap > TOL_EQUAL:
            pt, a, b = best
            return _describe_point(ctx, pt) | {"yours": _number(a), "target": _number(b)}
    return None


def _number(z: complex) -> float | complex:
    return z.real if abs(z.imag) <= 1e-12 * max(1.0, abs(z.real)) else z


def _describe_point(ctx: _Context, pt: _Point) -> dict:
    """The values at a point of everything the two expressions use (sizes first)."""
    exprs = (ctx.user, ctx.target)
    indexed = set().union(*(e.atoms(sp.Indexed) for e in exprs))
    labels = {ind.base.label for ind in indexed}
    symbols = {
        s for e in exprs for s in e.free_symbols if isinstance(s, sp.Symbol) and s not in labels
    }
    sizes, scalars, entries = {}, {}, {}
    for sym in symbols:
        name = ctx.names.get(sym, sym.name)
        value = pt.value(sym, sym)
        if sym.is_integer:
            sizes[name] = int(value.real)
        else:
            scalars[name] = _number(value)
    for base in {ind.base for ind in indexed if len(ind.indices) == 1}:
        name = ctx.names.get(base, str(base.label))
        for k in range(1, pt.size + 1):
            entries[(name, k)] = _number(pt.value((base, (k,)), base[k]))
    out: dict[str, float | complex] = {}
    out.update(sorted(sizes.items()))
    out.update(sorted(scalars.items()))
    for (name, k), value in sorted(entries.items()):
        out[f"{name}_{k}"] = value
    return out


# ---------------------------------------------------------------------------------------------
# Symbolic confirmation, bounded by size caps (no simplify)


def _expansion_size(expr: sp.Basic) -> int:
    """An upper bound on the number of terms `expand` would produce."""
    if isinstance(expr, sp.Add):
        return sum(_expansion_size(a) for a in expr.args)
    if isinstance(expr, sp.Mul):
        return math.prod(_expansion_size(a) for a in expr.args)
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 1:
        inner = _expansion_size(expr.base)
        return inner ** min(int(expr.exp), 64) if inner > 1 else 1
    if isinstance(expr, (sp.Sum, sp.Product)):
        return _expansion_size(expr.function)
    if expr.args:
        return max(_expansion_size(a) for a in expr.args) if expr.args else 1
    return 1


def _cheap(*exprs: sp.Expr) -> bool:
    for e in exprs:
        if e.has(sp.Integral, sp.Derivative, sp.Product):
            return False
        if sp.count_ops(e) > MAX_OPS or _expansion_size(e) > MAX_EXPANSION:
            return False
    return True


def _normal(expr: sp.Expr) -> sp.Expr:
    """Expanded, logs split, every sum split into sums of single monomials with factors out."""
    expr = sp.expand(expr, force=True)
    return sp.expand(expr.replace(lambda n: isinstance(n, sp.Sum), _split_sum))


def _split_sum(s: sp.Sum) -> sp.Expr:
    if len(s.limits) != 1:
        return s
    idx, lo, hi = s.limits[0]
    out = []
    for term in sp.Add.make_args(sp.expand(s.function, force=True)):
        outside, inside = [], []
        for factor in sp.Mul.make_args(term):
            (inside if factor.has(idx) else outside).append(factor)
        if inside:
            out.append(sp.Mul(*outside) * sp.Sum(sp.Mul(*inside), (idx, lo, hi)))
        else:
            out.append(sp.Mul(*outside) * (hi - lo + 1))
    return sp.Add(*out)


def _split_sum_shallow(s: sp.Sum) -> sp.Expr:
    """Σ(a + b) -> Σa + Σb without expanding a or b (so Σ(σ² − 1)²/2 stays one piece)."""
    if len(s.limits) != 1 or not isinstance(s.function, sp.Add):
        return s
    return sp.Add(*(sp.Sum(term, s.limits[0]) for term in s.function.args))


def _symbolic_zero(user: sp.Expr, target: sp.Expr) -> bool:
    try:
        if not _cheap(user, target):
            return False
        return _normal(user - target) == 0
    except Exception:  # symbolic work is only a bonus; the numbers already decided
        return False


def _matches(ctx: _Context, expr: sp.Expr, per_group: list, groups: list) -> bool:
    """Does a parameter-free candidate equal the numeric per-group values?"""
    vals = ctx.values(expr)
    for g, want in zip(groups, per_group, strict=True):
        got = next((v for v in vals[g] if not cmath.isnan(v)), None)
        if got is None or not _close(got, want, 1e-6):
            return False
    return True


def _tidy(expr: sp.Expr) -> sp.Expr:
    """−D·log(2)/2 − D·log(π)/2 + D·log(σ) → −D·log(2π)/2 + D·log(σ): logs with the same
    coefficient are merged, then common factors pulled out."""

    def combine(add: sp.Add) -> sp.Expr:
        groups: dict[sp.Expr, list[sp.Expr]] = {}
        rest = []
        for term in add.args:
            logs = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.log)]
            if len(logs) != 1:
                rest.append(term)
                continue
            coeff = sp.Mul(*(f for f in sp.Mul.make_args(term) if f is not logs[0]))
            groups.setdefault(coeff, []).append(logs[0].args[0])
        merged = [c * sp.log(sp.Mul(*args)) for c, args in groups.items()]
        return sp.Add(*merged, *rest)

    combined = combine(expr) if isinstance(expr, sp.Add) else expr
    return sp.factor_terms(combined) if len(sp.Add.make_args(combined)) == 1 else combined


def _symbolic_offset(ctx: _Context, rel: _Relation) -> sp.Expr | None:
    try:
        if not _cheap(ctx.user, ctx.target):
            return None
        diff = _normal(ctx.user - ctx.target)
        if depends_on(diff, ctx.parameters) or not _matches(ctx, diff, rel.b, rel.groups):
            return None
        tidy = _tidy(diff)
        return tidy if _matches(ctx, tidy, rel.b, rel.groups) else diff
    except Exception:  # a bonus only
        return None


def _symbolic_affine(ctx: _Context, rel: _Relation) -> tuple[sp.Expr | None, sp.Expr | None]:
    factor = offset = None
    try:
        if _cheap(ctx.user, ctx.target):
            nu, nt = _normal(ctx.user), _normal(ctx.target)
            pu, cu = _split_by(nu, ctx.parameters)
            pt, ct = _split_by(nt, ctx.parameters)
            if pt != 0:
                candidate = sp.factor_terms(sp.cancel(pu / pt))
                if not depends_on(candidate, ctx.parameters) and _matches(
                    ctx, candidate, rel.a, rel.groups
                ):
                    factor = candidate
                    if any(abs(v) > TOL_EQUAL for v in rel.b):
                        b = sp.expand(cu - candidate * ct)
                        if _matches(ctx, b, rel.b, rel.groups):
                            offset = _tidy(b)
                            if not _matches(ctx, offset, rel.b, rel.groups):
                                offset = b
    except Exception:  # a bonus only
        factor = offset = None
    if factor is None:
        factor = _numeric_constant(rel.a)
    return factor, offset


def _split_by(expr: sp.Expr, parameters) -> tuple[sp.Expr, sp.Expr]:
    dep, rest = [], []
    for term in sp.Add.make_args(expr):
        (dep if depends_on(term, parameters) else rest).append(term)
    return sp.Add(*dep), sp.Add(*rest)


def _numeric_constant(values: list[complex]) -> sp.Expr | None:
    """A factor that is the same number in every group, as a small fraction if it is one."""
    first = values[0]
    if not all(_close(v, first, 1e-7) for v in values) or abs(first.imag) > 1e-9:
        return None
    guess = sp.nsimplify(first.real, rational=True, tolerance=1e-9)
    if isinstance(guess, sp.Rational) and guess.q <= 1000 and abs(guess.p) <= 10**6:
        return guess
    return sp.Float(first.real, 6)


# ---------------------------------------------------------------------------------------------
# Hints: which corrected variant would have matched?


def _factor_hints(ctx: _Context, rel: _Relation) -> list[str]:
    """Hints from the overall factor a (user ≈ a × target + b)."""
    a = rel.a
    if not a:
        return []
    hints = []
    if all(_close(x, -1, 1e-7) for x in a):
        hints.append(
            "Negated: yours is minus the target. A loss is minus the log-likelihood, so check "
            "the overall sign."
        )
    elif all(x.real < 0 for x in a):
        hints.append("Yours has the opposite sign to the target: check the overall sign.")
    for r, text in _ratio_messages(ctx, "overall"):
        if all(_close(x, r(ctx.size_of(g)), 1e-7) for g, x in zip(rel.groups, a, strict=True)):
            hints.append(text)
            break
    return hints


def _lost_half(ctx: _Context, term: sp.Expr | None = None) -> str:
    """Where a lost ½ usually comes from, for this derivation."""
    gaussian = ctx.slug.startswith("gaussian") or (
        ctx.slug == "elbo" and (term is None or not _kl_like(ctx, term))
    )
    if gaussian:
        return (
            "you may have lost the ½ that comes from the square root in 1/√(2πσ²), or the 2 in "
            "1/(2σ²)"
        )
    if ctx.slug.startswith("kl") or (ctx.slug == "elbo" and term is not None):
        return "you may have lost the ½ in front of the KL formula ½Σ(μ² + σ² − 1 − log σ²)"
    return "a factor ½ seems to have gone missing"


def _ratio_messages(ctx: _Context, what: str):
    """(ratio as a function of the size D, message) for 'yours = ratio × correct'."""
    half = _lost_half(ctx)
    yield (lambda d: 2.0, f"{_cap(what)} is twice the target's: {half}.")
    yield (lambda d: 0.5, f"{_cap(what)} is half the target's: an extra factor ½ crept in.")
    if ctx.size_symbol is not None:
        yield (
            lambda d: 1.0 / d,
            f"{_cap(what)} is the target's divided by D: this is the mean over pixels; the "
            "log-likelihood sums over pixels.",
        )
        yield (
            lambda d: float(d),
            f"{_cap(what)} is D times the target's: a per-pixel term was summed over the D "
            "pixels, or the target takes a mean where you took a sum.",
        )


def _cap(what: str) -> str:
    if what == "overall":
        return "Your expression"
    return f"Your term {what}"


def _terms(expr: sp.Expr) -> list[sp.Expr]:
    """Additive pieces of an expression at a few levels of expansion, without duplicates."""
    seen: list[sp.Expr] = []
    levels = [expr]
    try:
        if _cheap(expr):  # expand only what cannot blow up, e.g. not (x + 1)^1000
            levels.append(expr.replace(lambda n: isinstance(n, sp.Sum), _split_sum_shallow))
            levels.append(sp.expand(expr, deep=False, log=False, power_base=False))
            levels.append(sp.expand_log(expr, force=True))
            levels.append(_normal(expr))
    except Exception:  # extra levels are optional
        pass
    for level in levels:
        for term in sp.Add.make_args(level):
            if term not in seen and len(seen) < 24:
                seen.append(term)
    return seen


def _sigma_atoms(ctx: _Context, expr: sp.Expr) -> list[sp.Expr]:
    def sigma_like(obj) -> bool:
        name = str(obj.base.label) if isinstance(obj, sp.Indexed) else getattr(obj, "name", "")
        return name.startswith("sigma") or name in ("s", "b")

    atoms = [a for a in expr.atoms(sp.Indexed) if sigma_like(a)]
    atoms += [s for s in expr.free_symbols if isinstance(s, sp.Symbol) and sigma_like(s)]
    return atoms


_RANK = {"equal": 0, "constant": 1, "multiple": 2, "affine": 3}


def _hints(ctx: _Context, rel: _Relation) -> list[str]:
    """Try corrected variants; report the slips whose correction fits best, one per kind."""
    found: list[tuple[int, int, str, str]] = []  # (rank, order, category, text)
    deadline = time.perf_counter() + HINT_SECONDS

    def offer(variant_rel: _Relation, category: str, text: Callable[[], str]) -> None:
        if _accepted(variant_rel):
            found.append((_RANK[variant_rel.kind], len(found), category, text()))

    def out_of_time() -> bool:
        return time.perf_counter() > deadline

    def against(target_values) -> _Relation:
        return _relate(ctx.u, target_values)

    def shifted(base, term_vals, factor_of_size):
        return [
            [
                v + (factor_of_size(ctx.size_of(g)) - 1) * tv
                for v, tv in zip(base[g], term_vals[g], strict=True)
            ]
            for g in range(len(base))
        ]

    # 1. σ² written where log σ² belongs: undo a log of σ in the target (each variant is a
    #    whole new target, so not for targets defined by integrals)
    try:
        variants = []
        if ctx.target.has(sp.Integral):
            raise _EvalError("too expensive")
        for level in (ctx.target, sp.expand_log(ctx.target, force=True)):
            for node in level.atoms(sp.log):
                arg = node.args[0]
                sig = _sigma_atoms(ctx, arg)
                if not sig:
                    continue
                replacements = [arg] + ([arg**2 / 2, arg**2] if arg in sig else [])
                variants += [(level.xreplace({node: r}), sig[0]) for r in replacements]
        for variant, atom in variants[:12]:
            if out_of_time():
                break
            offer(against(ctx.values(variant)), "log", lambda atom=atom: _log_hint(atom))
    except Exception:  # hints are best effort
        pass

    sizes = ctx.size_symbol is not None
    # 2. one term of the target with the wrong sign, a lost ½, a mean for a sum, or missing
    factors = [
        (lambda d: -1.0, "sign"),
        (lambda d: 0.0, "missing"),
        (lambda d: 2.0, "double"),
        (lambda d: 0.5, "half"),
    ]
    if sizes:
        factors += [(lambda d: 1.0 / d, "mean"), (lambda d: float(d), "times-D")]
    for term in _terms(ctx.target):
        if term == ctx.target or not depends_on(term, ctx.parameters) or out_of_time():
            continue
        values = ctx.values(term)
        for factor, what in factors:
            offer(
                against(shifted(ctx.t, values, factor)),
                what,
                lambda term=term, what=what: _term_hint(ctx, term, what),
            )

    # 3. the same read from the learner's terms: the right term is k × theirs
    own = [
        (lambda d: -1.0, "sign"),
        (lambda d: 0.0, "extra"),
        (lambda d: 0.5, "double"),
        (lambda d: 2.0, "half"),
    ]
    if sizes:
        own += [(lambda d: float(d), "mean"), (lambda d: 1.0 / d, "times-D")]
    for term in _terms(ctx.user):
        if term == ctx.user or not depends_on(term, ctx.parameters) or out_of_time():
            continue
        values = ctx.values(term)
        for factor, what in own:
            variant = shifted(ctx.u, values, factor)
            offer(
                _relate(variant, ctx.t),
                what,
                lambda term=term, what=what: _own_term_hint(ctx, term, what),
            )

    hints = _factor_hints(ctx, rel) if rel.kind == "negative" else []
    skip = {"sign"} if hints else set()
    if found:
        best = min(rank for rank, *_ in found)
        for rank, _, category, text in sorted(found):
            if rank > best or len(hints) >= MAX_HINTS:
                break
            if category not in skip and text not in hints:
                hints.append(text)
                skip.add(category)
    return hints[:MAX_HINTS]


def _log_hint(atom: sp.Expr) -> str:
    shown = plain(atom**2)
    return (
        f"It looks like {shown} was written where log {shown} belongs: the log of the normaliser "
        f"1/√(2π{shown}) is −½·log(2π{shown}), so {shown} itself only appears in the "
        "squared-error term."
    )


def _kl_like(ctx: _Context, term: sp.Expr) -> bool:
    data = [obj for obj, name in ctx.names.items() if name == "x"]
    return "elbo" in ctx.slug and not any(term.has(d) for d in data)


def _term_hint(ctx: _Context, term: sp.Expr, what: str) -> str:
    shown = plain(term)
    if what == "sign":
        if _kl_like(ctx, term):
            return (
                "Check the sign of the KL term: the ELBO subtracts it, ELBO = E[log p(x|z)] − "
                "KL(q(z|x) ‖ p(z)), so the loss −ELBO adds it."
            )
        return f"The term {shown} seems to have the wrong sign in yours."
    if what == "missing":
        return (
            f"Yours is missing the term {shown}; it depends on {_params_text(ctx, 'or')}, so it "
            "cannot be dropped."
        )
    if what == "double":
        return f"Your version of the term {shown} is twice the target's: {_lost_half(ctx, term)}."
    if what == "half":
        return f"Your version of the term {shown} is half the target's: an extra factor ½."
    if what == "mean":
        return (
            f"Your version of the term {shown} is divided by D: that is a mean over pixels, "
            "but the log-likelihood sums over pixels."
        )
    return (
        f"Your version of the term {shown} is D times the target's: a per-pixel term was "
        "counted once per pixel, or the target takes a mean where you took a sum."
    )


def _own_term_hint(ctx: _Context, term: sp.Expr, what: str) -> str:
    shown = plain(term)
    if what == "sign":
        if _kl_like(ctx, term):
            return (
                "Check the sign of the KL term: the ELBO subtracts it, ELBO = E[log p(x|z)] − "
                "KL(q(z|x) ‖ p(z)), so the loss −ELBO adds it."
            )
        return f"Your term {shown} seems to have the wrong sign."
    if what == "extra":
        return f"Your term {shown} does not belong: without it yours matches the target."
    if what == "double":
        return f"Your term {shown} is twice what it should be: {_lost_half(ctx, term)}."
    if what == "half":
        return f"Your term {shown} is half what it should be: an extra factor ½."
    if what == "mean":
        return (
            f"Your term {shown} is a mean over pixels (divided by D), but the log-likelihood "
            "sums over pixels."
        )
    return f"Your term {shown} is D times what it should be."
