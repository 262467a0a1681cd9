"""Small widget helpers that return plain values."""

from __future__ import annotations

import numpy as np
import streamlit as st

# Log-spaced σ grid, 1e-3 … 10, ten steps per decade; rounded so labels read cleanly.
SIGMA_GRID: tuple[float, ...] = tuple(float(f"{v:.3g}") for v in np.logspace(-3, 1, 41))


def nearest_on_grid(value: float, grid: tuple[float, ...] = SIGMA_GRID) -> float:
    return min(grid, key=lambda g: abs(np.log(g) - np.log(value)))


def log_slider(
    label: str,
    key: str,
    default: float,
    grid: tuple[float, ...] = SIGMA_GRID,
    help: str | None = None,
) -> float:
    """A select-slider over a log-spaced grid (Streamlit has no log-scale slider)."""
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
