"""Where the checker evaluates: groups of sample points, drawn lazily and reproducibly.

Sampling follows `derivations.base` (its `_sample_value` ranges and `depends_on`). The points come
in `GROUPS` groups of `PER_GROUP`; within a group everything except the derivation's parameters
is held fixed (the data x, the sizes D = 2, 3, 4) and only the parameters vary, so that "differs
by a constant" and "is a positive multiple" can be read off group by group (`fitting`).

A value is drawn from a seed made of (seed, group, member, name), so the same name gets the same
value at the same point whichever expression asks first, and in any process: a target evaluated
once (cached) agrees with fresh points made later for a learner's input.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping

import sympy as sp

from derivations.base import _sample_value

GROUPS = 3  # settings of the non-parameters (sizes 2, 3, 4)
PER_GROUP = 5  # parameter settings per group
MAX_LOOP = 2_000  # sum terms per evaluation (sizes here are 2-4; typed limits reach 1000)


class Point:
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
        """The value of `atom` here; `key` is the atom for a Symbol, (base, (k,)) for x[k]."""
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


def make_points(parameters, ranges, seed: int) -> list[list[Point]]:
    """`GROUPS` groups of `PER_GROUP` points; group g has size 2 + g."""
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
        points.append([Point(g, k, 2 + g, fixed, is_param, ranges, seed) for k in range(PER_GROUP)])
    return points


def ranges_key(ranges: Mapping) -> tuple:
    """A derivation's sample ranges as a hashable, ordered key (for caches)."""
    return tuple(sorted(ranges.items(), key=lambda item: sp.default_sort_key(item[0])))
