"""Bounded symbolic confirmation: the constant, the factor or an exact zero as a formula.

The numbers (`fitting`) decide the verdict; this only puts a formula on it. Expressions under an
operation-count (`MAX_OPS`) and expansion-size (`MAX_EXPANSION`) cap are expanded (logs split,
sums split into sums of monomials with factors pulled out) so that the difference or the ratio
can be shown. No ``simplify`` is ever called, and every symbolic result is checked against the
numbers before it is shown. The caps bound the work for ordinary input; for anything they miss,
`derivations.checker.worker` runs the whole verdict in a separate process with a wall-clock and
a memory limit. A `MemoryError` is never swallowed here: it ends the worker's answer.
"""

from __future__ import annotations

import cmath
import math

import sympy as sp

from derivations.base import _split_sums, depends_on
from derivations.checker.context import Context
from derivations.checker.fitting import TOL_EQUAL, Relation, close

MAX_OPS = 400  # count_ops cap for the symbolic part
MAX_EXPANSION = 400  # estimated number of terms after expand


def _expansion_size(expr: sp.Basic) -> int:
    """An upper bound on the number of terms `expand` would produce."""
    if isinstance(expr, sp.Add):
        return sum(_expansion_size(a) for a in expr.args)
    if isinstance(expr, sp.Mul):
        return math.prod(_expansion_size(a) for a in expr.args)
    if isinstance(expr, sp.Pow) and expr.exp.is_Rational and abs(expr.exp) > 1:
        # expand multiplies out denominators and the whole part of a fractional power too:
        # (a + b + c)^-1000 and (a + b + c)^(999/2) are as big as (a + b + c)^1000
        inner = _expansion_size(expr.base)
        return inner ** min(int(abs(expr.exp)), 64) if inner > 1 else 1
    if isinstance(expr, (sp.Sum, sp.Product)):
        return _expansion_size(expr.function)
    if expr.args:
        return max(_expansion_size(a) for a in expr.args) if expr.args else 1
    return 1


def cheap(*exprs: sp.Expr) -> bool:
    for e in exprs:
        if e.has(sp.Integral, sp.Derivative, sp.Product):
            return False
        if sp.count_ops(e) > MAX_OPS or _expansion_size(e) > MAX_EXPANSION:
            return False
    return True


def normal(expr: sp.Expr) -> sp.Expr:
    """Expanded, logs split, every sum split into sums of single monomials with factors out."""
    return sp.expand(_split_sums(sp.expand(expr, force=True)))


def split_sum_shallow(s: sp.Sum) -> sp.Expr:
    """Σ(a + b) -> Σa + Σb without expanding a or b (so Σ(σ² − 1)²/2 stays one piece)."""
    if len(s.limits) != 1 or not isinstance(s.function, sp.Add):
        return s
    return sp.Add(*(sp.Sum(term, s.limits[0]) for term in s.function.args))


def symbolic_zero(user: sp.Expr, target: sp.Expr) -> bool:
    try:
        if not cheap(user, target):
            return False
        return normal(user - target) == 0
    except MemoryError:
        raise
    except Exception:  # symbolic work is only a bonus; the numbers already decided
        return False


def matches(ctx: Context, expr: sp.Expr, per_group: list, groups: list) -> bool:
    """Does a parameter-free candidate equal the numeric per-group values?"""
    vals = ctx.values(expr)
    for g, want in zip(groups, per_group, strict=True):
        got = next((v for v in vals[g] if not cmath.isnan(v)), None)
        if got is None or not close(got, want, 1e-6):
            return False
    return True


def tidy(expr: sp.Expr) -> sp.Expr:
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


def symbolic_offset(ctx: Context, rel: Relation) -> sp.Expr | None:
    try:
        if not cheap(ctx.user, ctx.target):
            return None
        diff = normal(ctx.user - ctx.target)
        if depends_on(diff, ctx.parameters) or not matches(ctx, diff, rel.b, rel.groups):
            return None
        tidied = tidy(diff)
        return tidied if matches(ctx, tidied, rel.b, rel.groups) else diff
    except MemoryError:
        raise
    except Exception:  # a bonus only
        return None


def symbolic_affine(ctx: Context, rel: Relation) -> tuple[sp.Expr | None, sp.Expr | None]:
    factor = offset = None
    try:
        if cheap(ctx.user, ctx.target):
            nu, nt = normal(ctx.user), normal(ctx.target)
            pu, cu = _split_by(nu, ctx.parameters)
            pt, ct = _split_by(nt, ctx.parameters)
            if pt != 0:
                candidate = sp.factor_terms(sp.cancel(pu / pt))
                if not depends_on(candidate, ctx.parameters) and matches(
                    ctx, candidate, rel.a, rel.groups
                ):
                    factor = candidate
                    if any(abs(v) > TOL_EQUAL for v in rel.b):
                        b = sp.expand(cu - candidate * ct)
                        if matches(ctx, b, rel.b, rel.groups):
                            offset = tidy(b)
                            if not matches(ctx, offset, rel.b, rel.groups):
                                offset = b
    except MemoryError:
        raise
    except Exception:  # a bonus only
        factor = offset = None
    if factor is None:
        factor = numeric_constant(rel.a)
    return factor, offset


def _split_by(expr: sp.Expr, parameters) -> tuple[sp.Expr, sp.Expr]:
    dep, rest = [], []
    for term in sp.Add.make_args(expr):
        (dep if depends_on(term, parameters) else rest).append(term)
    return sp.Add(*dep), sp.Add(*rest)


def numeric_constant(values: list[complex]) -> sp.Expr | None:
    """A factor that is the same number in every group, as a small fraction if it is one."""
    first = values[0]
    if not all(close(v, first, 1e-7) for v in values) or abs(first.imag) > 1e-9:
        return None
    guess = sp.nsimplify(first.real, rational=True, tolerance=1e-9)
    if isinstance(guess, sp.Rational) and guess.q <= 1000 and abs(guess.p) <= 10**6:
        return guess
    return sp.Float(first.real, 6)
