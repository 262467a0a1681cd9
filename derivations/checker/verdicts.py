"""Verdicts and their messages: how a learner's expression relates to a step, in words.

`compare` evaluates both expressions at the sample points (`closures` for the learner's,
`targets` for the app's step), reads the relation off the numbers (`fitting`), asks for a
formula for the constant or factor (`symbolic`) and for hints (`hints`), and words a `Verdict`:

- ``equal``        the same function as the target;
- ``constant``     equal up to an additive term free of the derivation's parameters (same optimum);
- ``multiple``     a positive multiple of the target, possibly plus such a constant (same optimum);
- ``not-equal``    with a concrete point where the two differ, and hints for the known slips;
- ``invalid``      the text could not be parsed (the message says why) or evaluated;
- ``not-checked``  too expensive to check (more time or memory than the checker allows)
                   or the checker was busy; see `derivations.checker.worker`.

Nothing here limits time or memory itself: `derivations.checker.check` runs this in a worker.
"""

from __future__ import annotations

import cmath
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

from derivations.base import Derivation
from derivations.checker import closures, targets
from derivations.checker.context import Context
from derivations.checker.fitting import TOL_EQUAL, relate
from derivations.checker.hints import MAX_HINTS, factor_hints, hints
from derivations.checker.printing import display_name, fmt, params_text, plain
from derivations.checker.sampling import MAX_LOOP, Point, make_points, ranges_key
from derivations.checker.symbolic import symbolic_affine, symbolic_offset, symbolic_zero
from derivations.parser import sum_structure

KINDS = ("equal", "constant", "multiple", "not-equal", "invalid", "not-checked")


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
    rendered = latex_of(user)
    parameters = tuple(parameters)
    target = targets.prepare(target)
    points = make_points(parameters, ranges, seed)
    key = ranges_key(ranges)
    if closures.compilable(user):
        user_fn = closures.compile_expr(user)
        try:
            u = [[closures.evaluate(user_fn, pt) for pt in group] for group in points]
        except closures.TooLong:
            return Verdict(
                "invalid",
                f"Your expression adds up more than {MAX_LOOP:,} terms; keep sums to the "
                "step's own sizes.",
                latex=rendered,
                expr=user,
            )
    else:  # only the app's own steps get here (check_expr): the parser builds none of this
        u = [list(row) for row in targets.values(targets.prepare(user), parameters, key, seed)]
    t = [list(row) for row in targets.values(target, parameters, key, seed)]
    reverse = {}
    for name, obj in (names or {}).items():
        reverse.setdefault(obj, name)
    size_symbol = None
    if names and isinstance(names.get("D"), sp.Symbol):
        size_symbol = names["D"]
    ctx = Context(user, target, parameters, points, u, t, reverse, slug, size_symbol, key, seed)
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
    rel = relate(u, t)
    params_and = params_text(ctx.parameters, ctx.names)
    params_or = params_text(ctx.parameters, ctx.names, "or")
    if rel.kind == "equal":
        symbolic = symbolic_zero(user, target)
        how = "confirmed symbolically" if symbolic else f"they agree at {_count(u, t)} points"
        return Verdict(
            "equal",
            f"Equal: your expression is the target step{where}; {how}.",
            latex=rendered,
            expr=user,
            method="symbolic" if symbolic else "numeric",
        )
    if rel.kind == "constant" and parameters:
        diff = symbolic_offset(ctx, rel)
        if diff is not None:
            message = (
                f"Equal up to an additive constant: yours = target + ({plain(diff)}), and that "
                f"term does not depend on {params_or}, so optimising either gives the same "
                f"{params_and}."
            )
        else:
            message = (
                "Equal up to an additive constant: your expression and the target differ by a "
                f"term that does not depend on {params_or}, so optimising either gives the "
                f"same {params_and}."
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
        factor, offset = symbolic_affine(ctx, rel)
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
            f"{params_or}, so optimising either gives the same {params_and}."
            if rel.kind == "affine"
            else f"{kind_text}: {relation}. The factor is positive and does not depend on "
            f"{params_or}, so optimising either gives the same {params_and}."
        )
        return Verdict(
            "multiple",
            message,
            difference=factor,
            latex=rendered,
            expr=user,
            method="symbolic" if factor is not None else "numeric",
            offset=offset if rel.kind == "affine" else None,
            hints=factor_hints(ctx, rel)[:MAX_HINTS],
        )
    # not equal
    example = _counterexample(ctx)
    slips = hints(ctx, rel)
    if example is not None:
        where_text = ", ".join(
            f"{display_name(k)} = {fmt(v)}" for k, v in example.items() if k not in _VALUE_KEYS
        )
        message = (
            f"At {where_text}, yours is {fmt(example['yours'])} but the target is "
            f"{fmt(example['target'])}."
        )
    else:
        message = "It differs from the target."
    if rel.kind == "negative":
        factor, offset = symbolic_affine(ctx, rel)
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
        hints=slips,
        latex=rendered,
        expr=user,
        method="numeric",
    )


def check_expr(
    expr: sp.Expr, derivation: Derivation | str, step_index: int | str, *, seed: int = 0
) -> Verdict:
    """Compare an already-parsed expression with a step (index or label) of a derivation."""
    derivation = derivation_of(derivation)
    target_step = step_of(derivation, step_index)
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


def derivation_of(derivation: Derivation | str) -> Derivation:
    if isinstance(derivation, str):
        from derivations import get

        return get(derivation)
    return derivation


def step_of(derivation: Derivation, step: int | str):
    if isinstance(step, str):
        return derivation.step(step)
    return derivation.steps[step]


def sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def latex_of(expr: sp.Expr) -> str:
    try:
        return sp.latex(expr)
    except MemoryError:
        raise
    except Exception:  # printing must never break a verdict
        return ""


def _count(u, t) -> int:
    return sum(
        1
        for ug, tg in zip(u, t, strict=True)
        for a, b in zip(ug, tg, strict=True)
        if not (cmath.isnan(a) or cmath.isnan(b))
    )


_VALUE_KEYS = ("yours", "target")


def _counterexample(ctx: Context) -> dict | None:
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


def _describe_point(ctx: Context, pt: Point) -> dict:
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
