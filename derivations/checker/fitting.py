"""How two lists of numbers relate: equal, equal up to a constant, a multiple, or neither.

The points come in groups (`sampling`): within a group only the parameters vary, so

- agreement at every point means ``equal``;
- a difference that is the same at every point of a group means ``constant``;
- ``user = a·target + b`` with a, b the same throughout a group means ``multiple`` (a > 0),
  ``affine`` (a > 0 and b ≠ 0) or ``negative`` (a < 0: the opposite optimum).
"""

from __future__ import annotations

import cmath
from dataclasses import dataclass, field

TOL_EQUAL = 1e-8
TOL_FIT = 1e-6


@dataclass
class Relation:
    kind: str  # equal, constant, multiple, affine, negative, different, undefined
    a: list = field(default_factory=list)  # per group
    b: list = field(default_factory=list)  # per group
    groups: list = field(default_factory=list)  # group numbers used


def close(u: complex, t: complex, tol: float = TOL_EQUAL) -> bool:
    return abs(u - t) <= tol * max(1.0, abs(u), abs(t))


def _is_real_positive(a: complex) -> bool:
    return abs(a.imag) <= 1e-9 * abs(a) and a.real > 0


def relate(u: list[list[complex]], t: list[list[complex]]) -> Relation:
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
        return Relation("undefined")
    if all(fit == "equal" for fit in fits):
        return Relation("equal", groups=groups)
    if any(fit is None for fit in fits):
        return Relation("different", groups=groups)
    fits = [(1 + 0j, 0j) if fit == "equal" else fit for fit in fits]
    a = [f[0] for f in fits]
    b = [f[1] for f in fits]
    if all(close(x, 1, 1e-7) for x in a):
        return Relation("constant", a, b, groups)
    positive = all(_is_real_positive(x) for x in a)
    negative = all(_is_real_positive(-x) for x in a)
    if not (positive or negative):
        return Relation("different", a, b, groups)
    pure = all(abs(y) <= 1e-7 * max(1.0, abs(x)) for x, y in zip(a, b, strict=True))
    if negative:
        return Relation("negative", a, b, groups)
    return Relation("multiple" if pure else "affine", a, b, groups)


def _fit(pairs: list[tuple[complex, complex]]):
    """'equal', (a, b) with u = a·t + b at every pair, or None.

    Tolerances are relative to how much each side *varies*, plus float round-off of its size:
    a huge additive constant (1e12 − SSE) must neither hide a difference nor make a moving
    target look fixed.
    """
    if all(close(u, t) for u, t in pairs):
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


def accepted(rel: Relation) -> bool:
    return rel.kind in ("equal", "constant", "multiple", "affine")
