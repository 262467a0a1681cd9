"""The app's own steps (trusted targets) at the sample points, by `sympy.lambdify`.

A target is made concrete for each group's size: sizes (D, J, ...) substituted, sums and products
written out term by term, each entry x[k] and each scalar turned into one argument. That
expression is lambdified once per size (with SciPy for erf and friends) and cached, as
`derivations/numeric.py` does for the numeric panel. Definite integrals (the KL and Huber
normaliser definitions) are done by `scipy.integrate.quad` on a lambdified integrand, with the
line cut where a Piecewise switches or an Abs folds so that each piece is smooth.

Only the app's expressions come here; a learner's text is never lambdified (`closures`).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Callable

import numpy as np
import sympy as sp
from scipy import integrate

from derivations.checker.sampling import MAX_LOOP, Point, make_points

QUAD_RELATIVE = 1e-11  # well below the checker's 1e-8 tolerance for "equal"


@functools.lru_cache(maxsize=256)
def prepare(target: sp.Expr) -> sp.Expr:
    """Carry out, once, what a derivation's steps keep unevaluated for display (they are
    trusted input): derivatives, and the project's own functions such as Huber(r, α)."""
    if target.has(sp.Derivative):
        target = target.replace(lambda n: isinstance(n, sp.Derivative), lambda n: n.doit())
    return target.replace(_own_function, lambda n: n.doit())


def _own_function(node: sp.Basic) -> bool:
    return isinstance(node, sp.Function) and not type(node).__module__.startswith("sympy.")


@functools.lru_cache(maxsize=1024)
def values(expr: sp.Expr, parameters: tuple, ranges_key: tuple, seed: int) -> tuple:
    """expr at every sample point, group by group (nan where undefined). Cached: a page checks
    many inputs against one step, and sampled values depend only on (seed, group, member,
    name), so fresh points made later for a learner's input agree with these."""
    points = make_points(parameters, dict(ranges_key), seed)
    out = []
    for group in points:
        fn = _function(expr, group[0].size)
        out.append(tuple(fn(pt) for pt in group))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def _function(expr: sp.Expr, size: int) -> Callable[[Point], complex]:
    """expr with concrete size `size`, as a function of a sample point."""
    nan = complex(math.nan, 0)
    try:
        sizes = {s: sp.Integer(size) for s in expr.free_symbols if s.is_integer}
        concrete = _unroll(expr.xreplace(sizes))
        run, keys = _lambdified(concrete)
    except (TypeError, ValueError, ArithmeticError, NotImplementedError):
        return lambda pt: nan

    def at(pt: Point) -> complex:
        args = [pt.value(key, atom).real for key, atom in keys]
        try:
            with np.errstate(all="ignore"):
                value = complex(run(args))
        except (ArithmeticError, ValueError, TypeError):
            return nan
        return value if math.isfinite(value.real) and math.isfinite(value.imag) else nan

    return at


def _unroll(expr: sp.Basic) -> sp.Basic:
    """Sums and products with concrete limits written out (outermost first, so inner limits
    that mention an outer index become concrete too). Not `doit`, which would also try to
    integrate symbolically."""
    if not expr.args:
        return expr
    if isinstance(expr, (sp.Sum, sp.Product)) and all(len(lim) == 3 for lim in expr.limits):
        *inner, (idx, lo, hi) = expr.limits
        body = type(expr)(expr.function, *inner) if inner else expr.function
        lo, hi = int(lo), int(hi)  # TypeError while a limit is still symbolic
        if hi - lo + 1 > MAX_LOOP:
            raise ValueError("too many terms")
        terms = [_unroll(body.xreplace({idx: sp.Integer(k)})) for k in range(lo, hi + 1)]
        return sp.Add(*terms) if isinstance(expr, sp.Sum) else sp.Mul(*terms)
    return expr.func(*(_unroll(a) for a in expr.args))


def _lambdified(concrete: sp.Expr):
    """(run(args) -> value, [(point key, atom) for each argument])."""
    indexed = sorted(concrete.atoms(sp.Indexed), key=sp.default_sort_key)
    labels = {t.base.label for t in indexed}
    scalars = sorted(concrete.free_symbols - labels - set(indexed), key=sp.default_sort_key)
    atoms = [*indexed, *scalars]
    # same assumptions as the atoms: rebuilding Abs and Piecewise around assumption-free
    # stand-ins costs seconds of assumption queries, and could simplify differently
    # (Symbols, not Dummies: lambdify re-substitutes every argument when any one is a Dummy)
    flat = {atom: sp.Symbol(f"_arg{n}", **atom.assumptions0) for n, atom in enumerate(atoms)}
    arguments = list(flat.values())
    keys = [
        ((t.base, tuple(int(k) for k in t.indices)), t) if isinstance(t, sp.Indexed) else (t, t)
        for t in atoms
    ]
    integrals = sorted(concrete.atoms(sp.Integral), key=sp.default_sort_key)
    stand_ins = [sp.Symbol(f"_integral{n}") for n in range(len(integrals))]
    quads = [_integral(integral, flat) for integral in integrals]
    stand_for = dict(zip(integrals, stand_ins, strict=True))
    outer = _lambdify([*stand_ins, *arguments], concrete.xreplace({**flat, **stand_for}))

    def run(args: list[float]) -> float:
        return outer(*(quad(args) for quad in quads), *args)

    return run, keys


def _lambdify(arguments: list, expr: sp.Expr) -> Callable:
    return sp.lambdify(arguments, expr, modules=["scipy", "numpy"])


def _integral(integral: sp.Integral, flat: dict) -> Callable[[list[float]], float]:
    """∫ f over one variable as a function of the other arguments (scipy.integrate.quad)."""
    if len(integral.limits) != 1 or len(integral.limits[0]) != 3:
        raise ValueError("only definite one-dimensional integrals")
    var, lo, hi = integral.limits[0]
    arguments = list(flat.values())
    t = sp.Symbol("_t", **var.assumptions0)
    body = _lambdify([t, *arguments], integral.function.xreplace({**flat, var: t}))
    bounds = [_lambdify(arguments, limit.xreplace(flat)) for limit in (lo, hi)]
    kinks = [_lambdify(arguments, k.xreplace(flat)) for k in _kinks(integral.function, var)]

    def quad(args: list[float]) -> float:
        a, c = (float(bound(*args)) for bound in bounds)
        if a == c:
            return 0.0
        sign = 1.0
        if a > c:
            a, c, sign = c, a, -1.0

        def f(u: float) -> float:
            value = float(body(u, *args))
            return value if math.isfinite(value) else 0.0  # log(0)·0 far in the tails

        cuts = sorted({float(k(*args)) for k in kinks})
        edges = [a, *(x for x in cuts if a < x < c), c]
        total = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            for left, right in itertools.pairwise(edges):
                piece, _ = integrate.quad(
                    f, left, right, epsabs=0.0, epsrel=QUAD_RELATIVE, limit=200
                )
                total += piece
        return sign * total

    return quad


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
        except NotImplementedError:  # no kinks known: quad copes, a little less accurately
            continue
        out += [r for r in roots if not r.has(sp.I) and r.is_real is not False]
    return out
