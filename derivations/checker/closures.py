"""A learner's expression -> a small Python closure that evaluates it at a sample point.

Only for text a learner typed (already parsed by `derivations.parser`): no ``lambdify``, which
generates and ``exec``s source code, and no ``subs``/``doit`` per point. Sums run over the
point's concrete size (D = 2, 3, 4) as plain loops, at most `MAX_LOOP` terms per evaluation, so
evaluation is bounded float (complex) arithmetic: ``D^1000`` at D = 3 overflows to nothing rather
than becoming an exact 477-digit integer. The app's own steps are evaluated by `targets`.

`compilable` says whether an expression uses only what the parser can build (and so what this
compiler reads); anything else raises `EvalError` at evaluation.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import sympy as sp

from derivations.checker.sampling import MAX_LOOP

if TYPE_CHECKING:
    from derivations.checker.sampling import Point


class EvalError(Exception):
    """The expression is undefined at this point (complex where real is needed, and so on)."""


class TooLong(Exception):
    """Sums with more terms than MAX_LOOP: the whole expression is refused, not one point."""


def real(z: complex) -> float:
    if abs(z.imag) > 1e-12 * max(1.0, abs(z.real)):
        raise EvalError("complex value where a real one is needed")
    return z.real


def _as_int(z: complex) -> int:
    r = real(z)
    k = round(r)
    if abs(r - k) > 1e-9:
        raise EvalError("non-integer index")
    return int(k)


def _pow(a: complex, b: complex) -> complex:
    if a.imag == 0 and b.imag == 0:
        ar, br = a.real, b.real
        if ar > 0 or float(br).is_integer():
            return complex(ar**br)
    return a**b


def _erf(z: complex) -> complex:
    return complex(math.erf(real(z)))


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
    sp.erfc: lambda z: complex(math.erfc(real(z))),
    sp.Abs: lambda z: complex(abs(z)),
    sp.sign: lambda z: complex((real(z) > 0) - (real(z) < 0)),
}
_NUMBERS = (sp.Integer, sp.Rational, sp.Float, sp.NumberSymbol)
_NODES = (*_NUMBERS, sp.Symbol, sp.Indexed, sp.Idx, sp.IndexedBase, sp.Add, sp.Mul, sp.Pow)
_NODES += (sp.Sum, sp.Max, sp.Min, sp.Tuple, *_CMATH)

Compiled = Callable[["Point", dict], complex]


def compilable(expr: sp.Basic) -> bool:
    """Only nodes the parser builds (and this compiler reads): no integrals, Piecewise, ..."""
    return all(
        isinstance(node, _NODES) or node is sp.S.ImaginaryUnit
        for node in sp.preorder_traversal(expr)
    )


def compile_expr(expr: sp.Basic) -> Compiled:
    """expr -> f(point, bound) where bound maps the indices of enclosing sums to integers."""
    if isinstance(expr, _NUMBERS) or expr is sp.S.ImaginaryUnit:
        try:
            value = complex(expr)
        except (OverflowError, TypeError, ValueError):
            return _raiser("number out of range")
        return lambda pt, b: value
    if isinstance(expr, sp.Symbol):
        return lambda pt, b: b[expr] if expr in b else pt.value(expr, expr)
    if isinstance(expr, sp.Indexed):
        base = expr.base
        index_fns = [compile_expr(k) for k in expr.indices]

        def indexed(pt, b):
            key = (base, tuple(_as_int(f(pt, b)) for f in index_fns))
            return pt.value(key, expr)

        return indexed
    if isinstance(expr, sp.Add):
        fns = [compile_expr(a) for a in expr.args]
        return lambda pt, b: sum((f(pt, b) for f in fns), 0j)
    if isinstance(expr, sp.Mul):
        fns = [compile_expr(a) for a in expr.args]

        def product(pt, b):
            out = 1 + 0j
            for f in fns:
                out *= f(pt, b)
            return out

        return product
    if isinstance(expr, sp.Pow):
        fb, fe = compile_expr(expr.base), compile_expr(expr.exp)
        return lambda pt, b: _pow(fb(pt, b), fe(pt, b))
    if isinstance(expr, sp.Sum) and all(len(lim) == 3 for lim in expr.limits):
        return _compile_sum(expr)
    if isinstance(expr, (sp.Max, sp.Min)):
        fns = [compile_expr(a) for a in expr.args]
        pick = max if isinstance(expr, sp.Max) else min
        return lambda pt, b: complex(pick(real(f(pt, b)) for f in fns))
    for cls, fn in _CMATH.items():
        if isinstance(expr, cls) and len(expr.args) == 1:
            inner = compile_expr(expr.args[0])
            return lambda pt, b, fn=fn: fn(inner(pt, b))
    return _raiser(f"{type(expr).__name__} is not something a learner can type")


def _raiser(message: str) -> Compiled:
    def fail(pt, b):
        raise EvalError(message)

    return fail


def _compile_sum(expr: sp.Sum) -> Compiled:
    body = compile_expr(expr.function)
    limits = [(idx, compile_expr(lo), compile_expr(hi)) for idx, lo, hi in expr.limits]

    def run(pt, b, k=0):
        if k == len(limits):
            return body(pt, b)
        idx, flo, fhi = limits[k]
        lo, hi = _as_int(flo(pt, b)), _as_int(fhi(pt, b))
        if hi - lo + 1 > pt.budget:
            raise TooLong
        acc = 0j
        inner = dict(b)
        for value in range(lo, hi + 1):
            pt.budget -= 1
            inner[idx] = complex(value)
            acc += run(pt, inner, k + 1)
        return acc

    return run


def evaluate(fn: Compiled, pt: Point, *, strict: bool = True) -> complex:
    """fn at pt; nan where it is undefined. Too-long sums raise TooLong when strict."""
    pt.budget = MAX_LOOP
    try:
        value = fn(pt, {})
    except TooLong:
        if strict:
            raise
        return complex(math.nan, 0)
    except (ArithmeticError, ValueError, TypeError, EvalError, RecursionError):
        return complex(math.nan, 0)
    if not cmath.isfinite(value):
        return complex(math.nan, 0)
    return value
