"""Hints: which corrected variant of the learner's expression (or of the target) would match?

Tried numerically, within a soft time budget (`HINT_SECONDS`, checked before each variant):
a flipped sign, a lost or extra ½, a mean for a sum (÷D) or the reverse, a missing or extra
term, and σ² written where log σ² belongs. The slips whose correction fits best are reported,
one per kind, at most `MAX_HINTS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sympy as sp

from derivations.base import depends_on
from derivations.checker.closures import EvalError
from derivations.checker.context import Context
from derivations.checker.fitting import Relation, accepted, close, relate
from derivations.checker.printing import params_text, plain
from derivations.checker.symbolic import cheap, normal, split_sum_shallow

MAX_HINTS = 3
HINT_SECONDS = 0.5  # a soft budget of this thread's CPU time (hints are best effort)
# CPU time, not wall time: a busy machine must not change which hints a learner gets.


def factor_hints(ctx: Context, rel: Relation) -> list[str]:
    """Hints from the overall factor a (user ≈ a × target + b)."""
    a = rel.a
    if not a:
        return []
    hints = []
    if all(close(x, -1, 1e-7) for x in a):
        hints.append(
            "Negated: yours is minus the target. A loss is minus the log-likelihood, so check "
            "the overall sign."
        )
    elif all(x.real < 0 for x in a):
        hints.append("Yours has the opposite sign to the target: check the overall sign.")
    for r, text in _ratio_messages(ctx, "overall"):
        if all(close(x, r(ctx.size_of(g)), 1e-7) for g, x in zip(rel.groups, a, strict=True)):
            hints.append(text)
            break
    return hints


def _lost_half(ctx: Context, term: sp.Expr | None = None) -> str:
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


def _ratio_messages(ctx: Context, what: str):
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
        if cheap(expr):  # expand only what cannot blow up, e.g. not (x + 1)^1000
            levels.append(expr.replace(lambda n: isinstance(n, sp.Sum), split_sum_shallow))
            levels.append(sp.expand(expr, deep=False, log=False, power_base=False))
            levels.append(sp.expand_log(expr, force=True))
            levels.append(normal(expr))
    except MemoryError:
        raise
    except Exception:  # extra levels are optional
        pass
    for level in levels:
        for term in sp.Add.make_args(level):
            if term not in seen and len(seen) < 24:
                seen.append(term)
    return seen


def _sigma_atoms(ctx: Context, expr: sp.Expr) -> list[sp.Expr]:
    def sigma_like(obj) -> bool:
        name = str(obj.base.label) if isinstance(obj, sp.Indexed) else getattr(obj, "name", "")
        return name.startswith("sigma") or name in ("s", "b")

    atoms = [a for a in expr.atoms(sp.Indexed) if sigma_like(a)]
    atoms += [s for s in expr.free_symbols if isinstance(s, sp.Symbol) and sigma_like(s)]
    return atoms


_RANK = {"equal": 0, "constant": 1, "multiple": 2, "affine": 3}


def hints(ctx: Context, rel: Relation) -> list[str]:
    """Try corrected variants; report the slips whose correction fits best, one per kind."""
    found: list[tuple[int, int, str, str]] = []  # (rank, order, category, text)
    deadline = time.thread_time() + HINT_SECONDS

    def offer(variant_rel: Relation, category: str, text: Callable[[], str]) -> None:
        if accepted(variant_rel):
            found.append((_RANK[variant_rel.kind], len(found), category, text()))

    def out_of_time() -> bool:
        return time.thread_time() > deadline

    def against(target_values) -> Relation:
        return relate(ctx.u, target_values)

    def shifted(base, term_vals, factor_of_size):
        return [
            [
                v + (factor_of_size(ctx.size_of(g)) - 1) * tv
                for v, tv in zip(base[g], term_vals[g], strict=True)
            ]
            for g in range(len(base))
        ]

    def each_term_scaled(whole, whole_values, factors, relation_of, hint) -> None:
        """Offer `whole` with one of its terms (that depends on the parameters) scaled by each
        factor (a function of the size), related as `relation_of` says, worded by `hint`."""
        for term in _terms(whole) if not out_of_time() else []:
            if term == whole or not depends_on(term, ctx.parameters) or out_of_time():
                continue
            values = ctx.values(term)
            for factor, what in factors:
                offer(
                    relation_of(shifted(whole_values, values, factor)),
                    what,
                    lambda term=term, what=what: hint(ctx, term, what),
                )

    # 1. σ² written where log σ² belongs: undo a log of σ in the target (each variant is a
    #    whole new target, so not for targets defined by integrals)
    try:
        variants = []
        if ctx.target.has(sp.Integral):
            raise EvalError("too expensive")
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
    except MemoryError:
        raise
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
    each_term_scaled(ctx.target, ctx.t, factors, against, _term_hint)

    # 3. the same read from the learner's terms: the right term is k × theirs
    own = [
        (lambda d: -1.0, "sign"),
        (lambda d: 0.0, "extra"),
        (lambda d: 0.5, "double"),
        (lambda d: 2.0, "half"),
    ]
    if sizes:
        own += [(lambda d: float(d), "mean"), (lambda d: 1.0 / d, "times-D")]
    each_term_scaled(ctx.user, ctx.u, own, lambda variant: relate(variant, ctx.t), _own_term_hint)

    hints = factor_hints(ctx, rel) if rel.kind == "negative" else []
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


def _kl_like(ctx: Context, term: sp.Expr) -> bool:
    data = [obj for obj, name in ctx.names.items() if name == "x"]
    return "elbo" in ctx.slug and not any(term.has(d) for d in data)


KL_SIGN_HINT = (
    "Check the sign of the KL term: the ELBO subtracts it, ELBO = E[log p(x|z)] − "
    "KL(q(z|x) ‖ p(z)), so the loss −ELBO adds it."
)


def _term_hint(ctx: Context, term: sp.Expr, what: str) -> str:
    shown = plain(term)
    if what == "sign":
        if _kl_like(ctx, term):
            return KL_SIGN_HINT
        return f"The term {shown} seems to have the wrong sign in yours."
    if what == "missing":
        return (
            f"Yours is missing the term {shown}; it depends on "
            f"{params_text(ctx.parameters, ctx.names, 'or')}, so it cannot be dropped."
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


def _own_term_hint(ctx: Context, term: sp.Expr, what: str) -> str:
    shown = plain(term)
    if what == "sign":
        if _kl_like(ctx, term):
            return KL_SIGN_HINT
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
