"""One comparison in progress: the two expressions, the sample points and their values."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derivations.checker import closures, targets
from derivations.checker.sampling import Point


@dataclass
class Context:
    user: sp.Expr
    target: sp.Expr
    parameters: tuple
    points: list[list[Point]]
    u: list[list[complex]]  # the learner's expression, group by group
    t: list[list[complex]]  # the target
    names: dict  # SymPy object -> the name a learner types
    slug: str
    size_symbol: sp.Symbol | None
    ranges_key: tuple = ()
    seed: int = 0

    def values(self, expr: sp.Expr) -> list[list[complex]]:
        """expr at the points. What the parser can build (the learner's terms, and most pieces
        of a target) goes through the fast closures; pieces of the app's steps that only the
        app writes (integrals, Piecewise, KroneckerDelta) are lambdified, as the target is."""
        if closures.compilable(expr):
            fn = closures.compile_expr(expr)
            points = self.points
            return [[closures.evaluate(fn, pt, strict=False) for pt in group] for group in points]
        table = targets.values(expr, self.parameters, self.ranges_key, self.seed)
        return [list(row) for row in table]

    def size_of(self, g: int) -> int:
        return self.points[g][0].size
