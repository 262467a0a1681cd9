"""Figures for the derivation pages. Each function takes plain numbers and returns a Plotly figure.

Densities come from scipy.stats (an implementation independent of our SymPy derivations), so a
chart that agrees with the derivation is itself a check.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "height": 360}
FAMILY_COLOURS = ("#2563eb", "#dc2626", "#059669")  # Gaussian, Laplace, Huber, in every panel


def gaussian_loglik_vs_residual(sigma: float, points: int = 201) -> go.Figure:
    """Per-pixel log N(x; μ, σ²) against the residual r = x − μ, beside −r²/(2σ²) and r².

    The first two curves are parallel: they differ by the constant −log(σ√(2π)), the term the
    derivation drops. The squared error is the same parabola, flipped and rescaled by 1/(2σ²).
    """
    r = np.linspace(-1.0, 1.0, points)  # pixel residuals for data in [0, 1]
    log_density = stats.norm.logpdf(r, loc=0.0, scale=sigma)
    kept = -(r**2) / (2 * sigma**2)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=r, y=log_density, name="log N(x; μ, σ²) per pixel"))
    fig.add_trace(
        go.Scatter(x=r, y=kept, name="−(x−μ)²/(2σ²): constants dropped", line={"dash": "dash"})
    )
    fig.add_trace(
        go.Scatter(x=r, y=r**2, name="squared error (x−μ)² (right axis)", line={"dash": "dot"}),
        secondary_y=True,
    )
    constant = -np.log(sigma * np.sqrt(2 * np.pi))
    fig.update_layout(
        title=f"σ = {sigma:.3g}: the gap between the first two curves is {constant:.3g} nats",
        xaxis_title="residual x − μ",
        legend={"orientation": "h", "y": -0.25},
        **LAYOUT,
    )
    fig.update_yaxes(title_text="nats", secondary_y=False)
    fig.update_yaxes(title_text="squared error", secondary_y=True)
    return fig


def bernoulli_vs_continuous(x: float, log_normaliser, points: int = 199) -> go.Figure:
    """For one grey pixel value x: −BCE(x, λ) vs the continuous-Bernoulli log-density over λ.

    `log_normaliser(λ)` is log C(λ) (passed in so this module holds no derivation of its own).
    BCE peaks at λ = x; the normalised continuous Bernoulli peaks elsewhere, because log C(λ)
    depends on λ and cannot be dropped.
    """
    lam = np.linspace(0.005, 0.995, points)
    neg_bce = x * np.log(lam) + (1 - x) * np.log1p(-lam)
    log_c = np.array([float(log_normaliser(v)) for v in lam])
    cb = neg_bce + log_c
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=lam, y=neg_bce, name="−BCE(x, λ) (unnormalised)"))
    fig.add_trace(go.Scatter(x=lam, y=cb, name="log CB(x; λ) = −BCE + log C(λ)"))
    fig.add_trace(go.Scatter(x=lam, y=log_c, name="log C(λ)", line={"dash": "dot"}))
    for name, values in (("BCE", neg_bce), ("CB", cb)):
        best = lam[int(np.argmax(values))]
        fig.add_vline(x=best, line={"dash": "dash", "width": 1}, annotation_text=f"{name} best λ")
    fig.update_layout(
        title=f"pixel value x = {x:.2f}",
        xaxis_title="decoder output λ",
        yaxis_title="nats",
        legend={"orientation": "h", "y": -0.25},
        **LAYOUT,
    )
    return fig


def robust_densities(scale: float, alpha: float, huber_log_normaliser, points: int = 401):
    """Gaussian, Laplace and Huber densities with the same scale b, and their losses.

    The Huber density is exp(−ρ_α(r/b)) / (b·Z(α)) (derivations/huber.py): its quadratic core is
    the Gaussian with σ = b, and beyond |r| = α·b its tails are Laplace-like. log Z comes from
    `huber_log_normaliser(α)`.
    """
    reach = 4 * scale * max(1.0, alpha)
    r = np.linspace(-reach, reach, points)
    u = np.abs(r) / scale
    rho = np.where(u <= alpha, 0.5 * u**2, alpha * (u - 0.5 * alpha))
    log_huber = -rho - np.log(scale) - float(huber_log_normaliser(alpha))
    curves = {
        "Gaussian (σ = b)": stats.norm.logpdf(r, scale=scale),
        "Laplace (b)": stats.laplace.logpdf(r, scale=scale),
        f"Huber (b, α = {alpha:.3g})": log_huber,
    }
    fig = make_subplots(rows=1, cols=2, subplot_titles=("density", "loss = −log density"))
    for colour, (name, logp) in zip(FAMILY_COLOURS, curves.items(), strict=False):
        line = {"color": colour}  # one colour per family in both panels; one legend for both
        fig.add_trace(
            go.Scatter(x=r, y=np.exp(logp), name=name, legendgroup=name, line=line), row=1, col=1
        )
        fig.add_trace(
            go.Scatter(x=r, y=-logp, name=name, legendgroup=name, showlegend=False, line=line),
            row=1,
            col=2,
        )
    fig.update_layout(
        legend={"orientation": "h", "y": -0.2, "title": {"text": "both panels:"}}, **LAYOUT
    )
    fig.update_xaxes(title_text="residual x − μ")
    return fig


def kl_monte_carlo(mu: float, sigma: float, samples: np.ndarray, closed_form: float):
    """Histogram of single-sample KL estimates log q(z) − log p(z), z ~ q, with the closed form.

    The two reference values are vertical lines named in the legend below the chart (labels
    written on the chart sat on the bars)."""
    counts, _ = np.histogram(samples, bins=60)
    top = float(counts.max()) if counts.size else 1.0
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=samples, nbinsx=60, name="single-sample estimates"))
    for x, name, line in (
        (closed_form, "closed-form KL", {"color": "crimson", "width": 2}),
        (float(np.mean(samples)), "mean of estimates", {"color": "black", "dash": "dash"}),
    ):
        fig.add_trace(go.Scatter(x=[x, x], y=[0, 1.05 * top], mode="lines", name=name, line=line))
    fig.update_layout(
        title=f"q = N({mu:.2f}, {sigma:.2f}²) against p = N(0, 1)",
        xaxis_title="log q(z) − log p(z)",
        yaxis_title="count",
        legend={"orientation": "h", "y": -0.25},
        **LAYOUT,
    )
    return fig


def beta_vs_sigma(sigma: float, beta_of_sigma, sigma_at_beta_one: float) -> go.Figure:
    """β(σ) on log-log axes, with the chosen σ marked; ticks in powers of ten (an SI "μ" would
    read as the decoder mean).

    `beta_of_sigma` is the derivation's own β(σ) (derivations.elbo.beta_for_sigma), and
    `sigma_at_beta_one` its inverse at β = 1, so the chart draws the object the page derives."""
    sigmas = np.logspace(-3, 1, 200)
    beta_here = float(beta_of_sigma(sigma))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=sigmas, y=beta_of_sigma(sigmas), name="β(σ)"))
    fig.add_trace(
        go.Scatter(
            x=[sigma],
            y=[beta_here],
            mode="markers+text",
            text=[f"β = {beta_here:.3g}"],
            textposition="top left",
            marker={"size": 12},
            name="your σ",
        )
    )
    fig.add_hline(
        y=1.0, line={"dash": "dot"}, annotation_text=f"β = 1 (σ = {sigma_at_beta_one:.3g})"
    )
    powers = {"type": "log", "exponentformat": "power", "dtick": 1}
    fig.update_layout(
        xaxis={**powers, "title": "decoder σ"},
        yaxis={**powers, "title": "KL weight β"},
        showlegend=False,
        **LAYOUT,
    )
    return fig
