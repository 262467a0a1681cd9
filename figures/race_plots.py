"""Figures for the race page: plain numbers in, Plotly figures out.

The rate–distortion plane (Alemi et al. 2018, "Fixing a Broken ELBO"): rate R = KL(q(z|x)‖p(z))
in nats, distortion either −E log p(x|z) in nats or the per-pixel squared error. Each model is a
point (its trail shows where it has been); a dashed line through it holds its own training
objective constant:
- distortion −E log p(x|z): the objective D + βR, slope −β; at β = 1 that is −ELBO, slope −1;
- squared error e per pixel (Gaussian, fixed σ): the objective is D·e/(2σ²) + βR + constant,
  so the line has slope −2βσ²/D: β·2σ² is the KL weight measured in squared error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}}
COLOURS = qualitative.Plotly + qualitative.D3


TRAIL_SHOWN = 12  # most recent evaluations drawn behind each point


def _range(values: np.ndarray, pad: float = 0.08) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low or abs(high) or 1.0
    return low - pad * span, high + pad * span


def _log_range(values: np.ndarray, pad: float = 0.15) -> tuple[float, float]:
    """Plotly's range for a log axis: log10 of the ends, padded."""
    logs = np.log10(np.asarray(values, dtype=float)[np.asarray(values) > 0])
    low, high = float(logs.min()), float(logs.max())
    span = high - low or 1.0
    return low - pad * span, high + pad * span


def rate_distortion(
    points: Sequence[dict],
    axis: str = "mse",
    dim: int = 64,
    selected: int | None = None,
    optimum: tuple[float, float, float] | None = None,
) -> go.Figure:
    """points: dicts with index, label, beta, scale, gaussian, and trails rate / nll / mse (one
    entry per evaluation, the last is now). axis "nll" or "mse". optimum: (σ*, rate, error) of
    the fixed-σ optimum, drawn on the squared-error plane."""
    if axis not in ("nll", "mse"):
        raise ValueError(f"axis must be 'nll' or 'mse', got {axis!r}")
    fig = go.Figure()
    live = [p for p in points if len(p["rate"])]
    if not live:
        fig.update_layout(height=460, **LAYOUT)
        return fig
    # Axes fit the models' current points (and, on the squared-error plane, their σ²): early
    # trail points may lie outside. Squared error is drawn on a log axis so σ² over decades and
    # the models' errors fit together.
    now_rates = np.array([p["rate"][-1] for p in live] + [0.0])
    now_y = np.array([p[axis][-1] for p in live])
    x_range = _range(now_rates)
    if axis == "mse":
        scales = [p["scale"] ** 2 for p in live if p["gaussian"] and p["scale"]]
        y_range = _log_range(np.concatenate([now_y, scales]))
    else:
        y_range = _range(now_y)
    line_x = np.linspace(*x_range, 40)
    for p in live:
        colour = COLOURS[p["index"] % len(COLOURS)]
        rate, y = p["rate"][-1], p[axis][-1]
        if len(p["rate"]) > 1:  # where it has been
            fig.add_trace(
                go.Scatter(
                    x=p["rate"][-TRAIL_SHOWN:],
                    y=p[axis][-TRAIL_SHOWN:],
                    mode="lines",
                    line={"color": colour, "width": 1},
                    opacity=0.35,
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        slope = None
        if axis == "nll":
            slope = -p["beta"]
        elif p["gaussian"] and p["scale"]:
            slope = -2 * p["beta"] * p["scale"] ** 2 / dim
        if slope is not None:
            line_y = y + slope * (line_x - rate)
            if axis == "mse":  # a straight line on a log axis: sampled, ≤ 0 left out
                line_y = np.where(line_y > 0, line_y, np.nan)
            fig.add_trace(
                go.Scatter(
                    x=line_x,
                    y=line_y,
                    mode="lines",
                    line={"color": colour, "dash": "dash", "width": 1},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        chosen = p["index"] == selected
        fig.add_trace(
            go.Scatter(
                x=[rate],
                y=[y],
                mode="markers+text",
                marker={
                    "color": colour,
                    "size": 16 if chosen else 11,
                    "symbol": "x" if p.get("stopped") else "circle",
                    "line": {"color": "black", "width": 2 if chosen else 0},
                },
                text=[p["label"].split(" ", 1)[-1]],
                textposition="top center",
                textfont={"size": 10},
                customdata=[p["index"]],
                name=p["label"],
                hovertemplate=f"{p['label']}<br>rate %{{x:.2f}} nats<br>"
                + ("−E log p %{y:.1f} nats" if axis == "nll" else "MSE %{y:.4f}")
                + "<extra></extra>",
            )
        )
    if axis == "mse":
        sweep = sorted((p for p in live if p["gaussian"] and p["scale"]), key=lambda p: p["scale"])
        if sweep:
            fig.add_trace(
                go.Scatter(
                    x=[p["rate"][-1] for p in sweep],
                    y=[p["scale"] ** 2 for p in sweep],
                    mode="lines+markers",
                    line={"color": "grey", "dash": "dot"},
                    marker={"symbol": "diamond-open", "color": "grey"},
                    name="σ² of each model",
                    hovertemplate="σ² = %{y:.4f}<extra></extra>",
                )
            )
        if optimum is not None:
            sigma, rate, error = optimum
            fig.add_trace(
                go.Scatter(
                    x=[rate],
                    y=[error],
                    mode="markers",
                    marker={"symbol": "star", "size": 18, "color": "gold", "line": {"width": 1}},
                    name=f"σ² = MSE: fixed-σ optimum, σ ≈ {sigma:.3g}",
                    hovertemplate=f"σ² = MSE at σ ≈ {sigma:.3g}<extra></extra>",
                )
            )
    y_title = (
        "distortion −E log p(x|z) (nats per image)"
        if axis == "nll"
        else "distortion: squared error per pixel"
    )
    fig.update_xaxes(title_text="rate KL(q(z|x) ‖ p(z)) (nats per image)", range=x_range)
    fig.update_yaxes(title_text=y_title, range=y_range)
    if axis == "mse":  # ticks at 1, 2, 5 × 10^k, written out (Plotly abbreviates minor ones)
        ticks = [m * 10.0**e for e in range(-6, 3) for m in (1, 2, 5)]
        ticks = [t for t in ticks if y_range[0] <= np.log10(t) <= y_range[1]]
        fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    fig.update_layout(
        height=460,
        legend={"orientation": "h", "y": -0.18},
        clickmode="event+select",
        **LAYOUT,
    )
    return fig
