"""Figures for the bound-gap and discrete-pixel pages: plain numbers in, Plotly figures out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from scipy import stats

LAYOUT = {"margin": {"l": 10, "r": 10, "t": 50, "b": 10}, "height": 380}


def bound_gap_chart(iwae: np.ndarray, elbo: float, exact: float, k: int) -> go.Figure:
    """IWAE_K for K = 1 … len(iwae) against the ELBO and the exact log p(x), K marked."""
    ks = np.arange(1, len(iwae) + 1)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=ks, y=[exact] * len(ks), name="exact log p(x)", line={"color": "#111827"})
    )
    fig.add_trace(
        go.Scatter(
            x=ks,
            y=iwae,
            name="IWAE bound, K samples",
            mode="lines+markers",
            marker={"size": 4},
            line={"color": "#2563eb"},
        )
    )
    fig.add_trace(
        go.Scatter(x=ks, y=[elbo] * len(ks), name="ELBO", line={"color": "#dc2626", "dash": "dash"})
    )
    fig.add_trace(
        go.Scatter(
            x=[k],
            y=[iwae[k - 1]],
            name=f"K = {k}",
            mode="markers",
            marker={"size": 13, "color": "#2563eb", "symbol": "diamond"},
        )
    )
    fig.update_layout(
        title=f"gap at K = {k}: {exact - iwae[k - 1]:.3g} nats · ELBO gap: {exact - elbo:.3g} nats",
        xaxis={
            "title": "importance samples K",
            "type": "log",
            "tickvals": [1, 2, 4, 8, 16, 32, 64],
        },
        yaxis_title="nats per image (mean over test digits)",
        legend={"orientation": "h", "y": -0.25},
        **LAYOUT,
    )
    return fig


def bin_chart(x: float, mu: float, sigma: float, width: float) -> go.Figure:
    """The decoder's density on the pixel axis, [0, 1] marked, the stored level's bin shaded."""
    grid = np.linspace(-0.25, 1.25, 601)
    pdf = stats.norm.pdf(grid, mu, sigma)
    inside = (grid >= x - width / 2) & (grid <= x + width / 2)
    fig = go.Figure()
    fig.add_vrect(
        x0=0,
        x1=1,
        fillcolor="#e5e7eb",
        opacity=0.4,
        line_width=0,
        annotation_text="pixel range [0, 1]",
        annotation_position="top left",
    )
    fig.add_trace(go.Scatter(x=grid, y=pdf, name=f"N(μ = {mu:g}, σ = {sigma:g})"))
    fig.add_trace(
        go.Scatter(
            x=grid[inside],
            y=pdf[inside],
            fill="tozeroy",
            name="the bin of x̃",
            line={"color": "#dc2626"},
        )
    )
    fig.add_hline(
        y=1.0, line_dash="dot", annotation_text="density 1", annotation_position="bottom right"
    )
    fig.update_layout(
        title=f"density at x̃ = {x:.3g}: {stats.norm.pdf(x, mu, sigma):.3g} (a density, not a "
        "probability)",
        xaxis_title="pixel value",
        yaxis_title="density",
        legend={"orientation": "h", "y": -0.25},
        **LAYOUT,
    )
    return fig
