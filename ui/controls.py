"""Small widget helpers that return plain values."""

from __future__ import annotations

import numpy as np
import streamlit as st

# Log-spaced grid of round numbers, 1e-3 … 10, six per decade (1, 1.5, 2, 3, 5, 7).
MANTISSAS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
SIGMA_GRID: tuple[float, ...] = (
    *(float(f"{m * 10.0**e:.3g}") for e in range(-3, 1) for m in MANTISSAS),
    10.0,
)


def nearest_on_grid(value: float, grid: tuple[float, ...] = SIGMA_GRID) -> float:
    return min(grid, key=lambda g: abs(np.log(g) - np.log(value)))


def log_slider(
    label: str,
    key: str,
    default: float,
    grid: tuple[float, ...] = SIGMA_GRID,
    help: str | None = None,
) -> float:
    """A select-slider over a log-spaced grid (Streamlit has no log-scale slider).

    A default that is off the grid but inside its range (a σ from a shared link, say) is added
    as an extra stop, so it is shown exactly rather than rounded to a neighbour."""
    if grid[0] <= default <= grid[-1] and default not in grid:
        grid = tuple(sorted((*grid, default)))
    return float(
        st.select_slider(
            label,
            options=grid,
            value=nearest_on_grid(default, grid),
            key=key,
            format_func=lambda v: f"{v:g}",
            help=help,
        )
    )
