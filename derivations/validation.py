"""Argument checks shared by the derivations' numeric entry points: a clear ValueError naming
the argument, never a traceback from deep inside SymPy or NumPy."""

from __future__ import annotations

import math
from numbers import Real


def check_positive(name: str, value: object) -> float:
    """float(value) if it is a positive finite real number (not a bool), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """value if it is one of `allowed`, else ValueError listing them."""
    if value not in allowed:
        options = " or ".join(map(repr, allowed))
        if len(allowed) > 2:
            options = "one of " + ", ".join(map(repr, allowed))
        raise ValueError(f"{name} must be {options}, got {value!r}")
    return value
