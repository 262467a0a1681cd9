"""Figures for the live lab and the collapse page: plain arrays in, Plotly figures out.

Long histories are downsampled before they are drawn, so a chart never sends more than a few
hundred points per trace however long a run trains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "template": "plotly_white"}
MAX_POINTS = 300


def downsample(x: np.ndarray, *ys: np.ndarray, max_points: int = MAX_POINTS):
    """Bucket means over equal-width index buckets; returns (x, *ys) with ≤ max_points each."""
    x = np.asarray(x, dtype=float)
    if len(x) <= max_points:
        return (x, *(np.asarray(y, dtype=float) for y in ys))
    starts = np.linspace(0, len(x), max_points + 1).astype(int)[:-1]
    counts = np.diff(np.append(starts, len(x)))

    def bucket_mean(values) -> np.ndarray:
        return np.add.reduceat(np.asarray(values, dtype=float), starts) / counts

    return (bucket_mean(x), *(bucket_mean(y) for y in ys))


def loss_curves(
    steps: Sequence[float],
    loss: Sequence[float],
    recon: Sequence[float],
    kl: Sequence[float],
    events: Sequence[tuple[float, str]] = (),
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """Loss (−ELBO at β = 1), reconstruction and KL per step; markers where settings changed."""
    x, loss_d, recon_d, kl_d = downsample(steps, loss, recon, kl, max_points=max_points)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss and −log p(x|z) (nats)", "KL (nats)"))
    fig.add_trace(
        go.Scatter(x=x, y=loss_d, name="loss = −log p(x|z) + β·KL (−ELBO at β = 1)"), row=1, col=1
    )
    fig.add_trace(go.Scatter(x=x, y=recon_d, name="−E log p(x|z)"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=kl_d, name="KL(q‖p)"), row=1, col=2)
    for step, text in events:
        for col in (1, 2):
            fig.add_vline(x=step, line={"dash": "dot", "color": "grey"}, row=1, col=col)
        fig.add_annotation(
            x=step,
            y=1.0,
            yref="paper",
            text=text,
            showarrow=False,
            textangle=-90,
            xanchor="left",
            yanchor="top",
            font={"size": 10},
        )
    fig.update_layout(height=320, legend={"orientation": "h", "y": -0.2}, **LAYOUT)
    fig.update_xaxes(title_text="step")
    if len(x) > 20:
        # The first steps' loss is 10-100x the rest; zoom on the run after them (the line
        # still starts at step 1, off the top).
        settled = np.concatenate([loss_d[len(x) // 20 :], recon_d[len(x) // 20 :]])
        low, high = float(np.min(settled)), float(np.percentile(settled, 99))
        pad = 0.1 * (high - low or 1.0)
        fig.update_yaxes(range=[low - pad, high + pad], row=1, col=1)
    return fig


def project_2d(z: np.ndarray) -> tuple[np.ndarray, str]:
    """The latent codes themselves if 2-D, else their first two principal components."""
    z = np.asarray(z, dtype=float)
    if z.shape[1] <= 2:
        if z.shape[1] == 1:
            z = np.column_stack([z[:, 0], np.zeros(len(z))])
        return z, "z₁, z₂"
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "PC 1, PC 2 of z"


def latent_scatter(z: np.ndarray, labels: np.ndarray) -> go.Figure:
    """Posterior means of test digits, coloured by label; customdata carries the row index."""
    points, axes = project_2d(z)
    labels = np.asarray(labels)
    fig = go.Figure()
    for label in np.unique(labels):
        mask = labels == label
        fig.add_trace(
            go.Scattergl(
                x=points[mask, 0],
                y=points[mask, 1],
                mode="markers",
                name=str(label),
                customdata=np.flatnonzero(mask),
                marker={"size": 6, "opacity": 0.8},
                hovertemplate=f"digit {label}<br>index %{{customdata}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"latent space ({axes}), test digits", height=420, legend_title="digit", **LAYOUT
    )
    return fig


def kl_per_dimension(kl: Sequence[float], threshold: float) -> go.Figure:
    """KL per latent dimension; bars under the threshold (collapsed) are grey."""
    kl = np.asarray(kl, dtype=float)
    colours = ["#9ca3af" if v < threshold else "#2563eb" for v in kl]
    fig = go.Figure(go.Bar(x=[f"z{i + 1}" for i in range(len(kl))], y=kl, marker_color=colours))
    fig.add_hline(y=threshold, line={"dash": "dot"}, annotation_text=f"collapsed below {threshold}")
    fig.update_layout(title="KL per latent dimension (nats)", height=300, **LAYOUT)
    return fig


def eigen_spectrum(eigenvalues: Sequence[float], sigma2: float, latent_dim: int) -> go.Figure:
    """Data covariance eigenvalues λᵢ (log scale) with the σ² line: dims with λᵢ ≤ σ² collapse."""
    lam = np.asarray(eigenvalues, dtype=float)
    index = np.arange(1, len(lam) + 1)
    active = (lam > sigma2) & (index <= latent_dim)
    colours = np.where(active, "#2563eb", np.where(index <= latent_dim, "#dc2626", "#d1d5db"))
    fig = go.Figure(go.Bar(x=index, y=lam, marker_color=colours, name="λᵢ"))
    fig.add_hline(y=sigma2, line={"color": "crimson"}, annotation_text=f"σ² = {sigma2:.3g}")
    # The σ² line must sit inside the axis, not on its floor; ticks at 1, 2, 5 × 10^k.
    low = min(float(lam[lam > 0].min(initial=sigma2)), sigma2) / 1.5
    high = max(float(lam.max(initial=sigma2)), sigma2) * 1.5
    ticks = [
        m * 10.0**e
        for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for m in (1, 2, 5)
        if low <= m * 10.0**e <= high
    ]
    fig.update_layout(
        title="eigenvalues of the data covariance: blue active, red collapsed, grey beyond J",
        xaxis_title="i",
        yaxis={
            "type": "log",
            "title": "λᵢ",
            "range": [math.log10(low), math.log10(high)],
            "tickvals": ticks,
            "ticktext": [f"{t:g}" for t in ticks],
        },
        height=340,
        showlegend=False,
        **LAYOUT,
    )
    return fig


def kl_theory_vs_trained(analytic: Sequence[float], trained: Sequence[float] | None) -> go.Figure:
    """Analytic-optimum KL per dimension beside a trained linear VAE's (both sorted, descending)."""
    analytic = np.asarray(analytic, dtype=float)
    fig = go.Figure()
    names = [f"{i + 1}" for i in range(len(analytic))]
    fig.add_trace(go.Bar(x=names, y=analytic, name="analytic optimum"))
    if trained is not None:
        fig.add_trace(go.Bar(x=names, y=np.sort(np.asarray(trained, float))[::-1], name="trained"))
    fig.update_layout(
        title="KL per latent dimension (sorted)",
        barmode="group",
        height=320,
        xaxis_title="dimension (by size)",
        yaxis_title="nats",
        **LAYOUT,
    )
    return fig
