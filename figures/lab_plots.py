"""Figures for the live lab and the collapse page: plain arrays in, Plotly figures out.

Long histories are downsampled before they are drawn, so a chart never sends more than a few
hundred points per trace however long a run trains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}}
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


LOSS_AXES = ("latest", "symlog")  # y axis of the loss panel: see loss_curves


def symlog(values: np.ndarray) -> np.ndarray:
    """sign(y)·log10(1 + |y|): a log scale for values of either sign (losses can be negative)."""
    values = np.asarray(values, dtype=float)
    return np.sign(values) * np.log10(1.0 + np.abs(values))


def _symlog_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions on the symlog axis at 0 and ±10^k, labelled with the loss values."""
    top = int(np.ceil(max(abs(low), abs(high), 1.0)))
    values = [0.0] + [sign * 10.0**k for k in range(0, top + 1) for sign in (1.0, -1.0)]
    ticks = sorted((float(symlog(v)), v) for v in values if low - 0.5 <= symlog(v) <= high + 0.5)
    return [t for t, _ in ticks], [_power_label(v) for _, v in ticks]


def _power_label(value: float) -> str:
    if value == 0:
        return "0"
    exponent = round(math.log10(abs(value)))
    sign = "−" if value < 0 else ""
    return f"{sign}{10**exponent:g}" if exponent < 3 else f"{sign}10{_superscript(exponent)}"


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))


# Two side-by-side panels laid out by hand: plotly.subplots.make_subplots builds the same layout
# in ~9 ms, the rest of the live loss chart in ~3 ms (bench/README.md).
_GAP = 0.1  # between the panels, as a fraction of the figure's width


def _two_panels(x_title: str) -> dict:
    """Axes x/y (left) and x2/y2 (right) of a 1 × 2 grid; titles via `_panel_titles`."""
    half = (1 - _GAP) / 2
    return {
        "xaxis": {"domain": [0, half], "anchor": "y", "title": {"text": x_title}},
        "yaxis": {"anchor": "x"},
        "xaxis2": {"domain": [1 - half, 1], "anchor": "y2", "title": {"text": x_title}},
        "yaxis2": {"anchor": "x2"},
    }


def _panel_titles(*titles: str) -> list[dict]:
    """Each panel's title centred above it, as make_subplots places subplot titles."""
    half = (1 - _GAP) / 2
    centres = (half / 2, 1 - half / 2)
    return [
        {
            **{"x": centre, "y": 1.0, "xref": "paper", "yref": "paper", "text": title},
            **{"showarrow": False, "xanchor": "center", "yanchor": "bottom"},
            "font": {"size": 16},
        }
        for centre, title in zip(centres, titles, strict=True)
    ]


def loss_curves(
    steps: Sequence[float],
    loss: Sequence[float],
    recon: Sequence[float],
    kl: Sequence[float],
    events: Sequence[tuple[float, str]] = (),
    max_points: int = MAX_POINTS,
    y_axis: str = "latest",
) -> go.Figure:
    """Loss (−ELBO at β = 1), reconstruction and KL per step; markers where settings changed.

    y_axis "latest" zooms the loss panel on the run since the last settings change (a σ change
    rescales the loss by orders of magnitude, which flattens a shared linear axis); "symlog"
    shows the whole run on sign(y)·log10(1 + |y|), ticks labelled with the loss itself.
    """
    if y_axis not in LOSS_AXES:
        raise ValueError(f"y_axis must be one of {LOSS_AXES}, got {y_axis!r}")
    x, loss_d, recon_d, kl_d = downsample(steps, loss, recon, kl, max_points=max_points)
    shown_loss, shown_recon = (
        (symlog(loss_d), symlog(recon_d)) if y_axis == "symlog" else (loss_d, recon_d)
    )
    hover = "step %{x:.0f}: %{customdata:.4g}<extra></extra>"
    traces = [
        go.Scatter(
            x=x,
            y=shown_loss,
            customdata=loss_d,
            hovertemplate=hover,
            name="loss = −log p(x|z) + β·KL (−ELBO at β = 1)",
        ),
        go.Scatter(
            x=x, y=shown_recon, customdata=recon_d, hovertemplate=hover, name="−E log p(x|z)"
        ),
        go.Scatter(x=x, y=kl_d, name="KL(q‖p)", xaxis="x2", yaxis="y2"),
    ]
    # Every setting change: a dotted line in both panels and its label, passed to Plotly in one
    # layout (fig.add_vline per change re-validates all earlier shapes: 12 changes took 0.35 s).
    shapes = [
        {
            "type": "line",
            **{"x0": step, "x1": step, "y0": 0, "y1": 1},
            "xref": axis,
            "yref": f"y{axis[1:]} domain",
            "line": {"dash": "dot", "color": "grey"},
        }
        for step, _ in events
        for axis in ("x", "x2")
    ]
    labels = [
        {
            **{"x": step, "y": 1.0, "yref": "paper", "text": text, "showarrow": False},
            **{"textangle": -90, "xanchor": "left", "yanchor": "top", "font": {"size": 10}},
        }
        for step, text in events
    ]
    fig = go.Figure(
        traces,
        layout={
            **_two_panels(x_title="step"),
            "shapes": shapes,
            "annotations": _panel_titles("loss and −log p(x|z) (nats)", "KL (nats)") + labels,
            "height": 320,
            "legend": {"orientation": "h", "y": -0.2},
            **LAYOUT,
        },
    )
    finite = np.isfinite(shown_loss) & np.isfinite(shown_recon)
    if y_axis == "symlog" and finite.any():
        both = np.concatenate([shown_loss[finite], shown_recon[finite]])
        tickvals, ticktext = _symlog_ticks(float(both.min()), float(both.max()))
        fig.update_layout(yaxis={"tickvals": tickvals, "ticktext": ticktext})
    elif y_axis == "latest" and len(x) > 20:
        # Zoom on the points since the last settings change, past the first 5 % of the run
        # (whose loss is 10-100x the rest); earlier points may leave the panel (double-click
        # or the symlog axis shows them).
        last_change = max((step for step, _ in events), default=-np.inf)
        keep = finite & (np.arange(len(x)) >= len(x) // 20) & (x > last_change)
        if keep.sum() < 5:
            keep = finite & (np.arange(len(x)) >= len(x) // 20)
        if keep.any():
            settled = np.concatenate([loss_d[keep], recon_d[keep]])
            low, high = float(np.min(settled)), float(np.percentile(settled, 99))
            pad = 0.1 * (high - low or abs(high) or 1.0)
            fig.update_layout(yaxis={"range": [low - pad, high + pad]})
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


ACTIVE_COLOUR, INACTIVE_COLOUR = "#2563eb", "#9ca3af"


def kl_per_dimension(
    kl: Sequence[float], active: Sequence[bool], mean_variance: Sequence[float] = ()
) -> go.Figure:
    """KL per latent dimension, each bar coloured by `active`: the criterion the page's counter
    uses (Burda et al.'s Var_x μᵢ(x) > 0.01), not a KL cut-off, so bars and counter agree."""
    kl = np.asarray(kl, dtype=float)
    active = np.asarray(active, dtype=bool)
    if active.shape != kl.shape:
        raise ValueError(f"one active flag per dimension: {active.shape} flags, {kl.shape} bars")
    names = np.array([f"z{i + 1}" for i in range(len(kl))])
    variance = (
        np.asarray(mean_variance, dtype=float) if len(mean_variance) else np.full(len(kl), np.nan)
    )
    fig = go.Figure()
    for flag, label, colour in (
        (True, "active", ACTIVE_COLOUR),
        (False, "inactive", INACTIVE_COLOUR),
    ):
        mask = active == flag
        fig.add_trace(
            go.Bar(
                x=names[mask],
                y=kl[mask],
                customdata=variance[mask],
                name=label,
                marker_color=colour,
                hovertemplate="%{x}: KL %{y:.3g} nats, Var μ %{customdata:.3g}<extra></extra>",
            )
        )
    fig.update_layout(
        title="KL per latent dimension (nats)",
        height=300,
        xaxis={"categoryorder": "array", "categoryarray": list(names)},
        legend={"orientation": "h", "y": -0.15},
        showlegend=True,  # both colours named even when every bar has the same one
        **LAYOUT,
    )
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


def kl_theory_vs_trained(
    analytic: Sequence[float], trained: Sequence[float] | None, trained_label: str = ""
) -> go.Figure:
    """Analytic-optimum KL per dimension beside a trained linear VAE's (both sorted, descending).

    `trained_label` names the second bars (e.g. "after 4,000 steps"); None draws the analytic
    bars alone (before any training)."""
    analytic = np.asarray(analytic, dtype=float)
    fig = go.Figure()
    names = [f"{i + 1}" for i in range(len(analytic))]
    fig.add_trace(go.Bar(x=names, y=analytic, name="analytic optimum"))
    if trained is not None:
        fig.add_trace(
            go.Bar(
                x=names,
                y=np.sort(np.asarray(trained, float))[::-1],
                name=trained_label or "trained",
            )
        )
    fig.update_layout(
        title="KL per latent dimension (sorted)",
        barmode="group",
        height=320,
        xaxis_title="dimension (by size)",
        yaxis_title="nats",
        showlegend=True,
        **LAYOUT,
    )
    return fig
