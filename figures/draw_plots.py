"""Figures for a drawn digit: where the loss comes from (per-pixel −log p(x_d|z) as a heat map)
and the drawing's place among the test digits' latent codes. Arrays in, Plotly figures out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.lab_plots import LAYOUT


def pixel_nll_heatmap(nll: np.ndarray, image_shape: tuple[int, int]) -> go.Figure:
    """−log p(x_d | z) per pixel, laid out as the image (row 0 at the top), with its sum."""
    h, w = image_shape
    grid = np.asarray(nll, dtype=float).reshape(h, w)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            colorscale="Viridis",
            colorbar={"title": {"text": "nats"}, "thickness": 12},
            hovertemplate="row %{y}, column %{x}<br>−log p = %{z:.3g} nats<extra></extra>",
        )
    )
    fig.update_layout(
        title={
            "text": f"−log p(x_d | z) per pixel; sum {grid.sum():.1f} nats",
            "font": {"size": 13},
        },
        height=300,
        **LAYOUT,
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False)
    fig.update_xaxes(showticklabels=False, constrain="domain", showgrid=False)
    return fig


def project_point(codes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """z in the coordinates `project_2d(codes)` draws: the codes themselves if 2-D (1-D: second
    coordinate 0), else the codes' first two principal components (their mean and axes)."""
    codes, z = np.asarray(codes, dtype=float), np.asarray(z, dtype=float).reshape(-1)
    if codes.shape[1] <= 2:
        return np.array([z[0], z[1] if z.size > 1 else 0.0])
    mean = codes.mean(axis=0)
    _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
    return (z - mean) @ vt[:2].T


def add_drawn_point(fig: go.Figure, codes: np.ndarray, z: np.ndarray) -> go.Figure:
    """Mark the drawing's posterior mean on a `latent_scatter(codes, ...)` figure (in place)."""
    point = project_point(codes, z)
    fig.add_trace(
        go.Scatter(
            x=[point[0]],
            y=[point[1]],
            mode="markers",
            name="your drawing",
            customdata=[-1],  # not a test digit's row (the lab's click handler skips it)
            marker={
                "symbol": "star",
                "size": 20,
                "color": "black",
                "line": {"color": "white", "width": 1.5},
            },
            hovertemplate="your drawing<extra></extra>",
        )
    )
    return fig
