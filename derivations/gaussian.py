"""Gaussian decoders: fixed σ gives (a multiple of) the MSE; a per-pixel σ does not.

log N(x; μ, σ²I) = −D/2·log 2π − D·log σ − Σᵢ(xᵢ − μᵢ)²/(2σ²)   (Bishop 2006, PRML §1.2.4)
"""

from __future__ import annotations

import sympy as sp
from sympy.stats import Normal, density

from derivations.base import (
    DATA_SYMBOLS,
    D,
    Derivation,
    Step,
    i,
    j,
    mu,
    per_pixel_start,
    sigma,
    x,
)

# A per-pixel standard deviation (diagonal covariance); same name as the shared σ on purpose.
sigma_i = sp.IndexedBase("sigma", positive=True)


def normal_pdf(value: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """N(value; mean, std²) as sympy.stats writes it."""
    return density(Normal("X", mean, std))(value)


def squared_error_sum() -> sp.Expr:
    """SSE = Σᵢ (xᵢ − μᵢ)²."""
    return sp.Sum((x[i] - mu[i]) ** 2, (i, 1, D))


def log_density_expanded() -> sp.Expr:
    """log N(x; μ, σ²I) written out: constants, the log σ term, and the scaled SSE."""
    return -D / 2 * sp.log(2 * sp.pi) - D * sp.log(sigma) - squared_error_sum() / (2 * sigma**2)


def gaussian_mse() -> Derivation:
    sse = squared_error_sum()
    constants = -D / 2 * sp.log(2 * sp.pi) - D * sp.log(sigma)
    steps = (
        *per_pixel_start(normal_pdf(x[i], mu[i], sigma), "Gaussian density"),
        Step(
            log_density_expanded(),
            "equal",
            "log N(xᵢ; μᵢ, σ²) = −½log 2π − log σ − (xᵢ − μᵢ)²/(2σ²), summed over D pixels.",
            label="expanded",
        ),
        Step(
            -sse / (2 * sigma**2),
            "drop",
            "−D/2·log 2π − D·log σ is constant in μ (σ is fixed), so the argmax over μ is "
            "unchanged.",
            term=constants,
            label="constants dropped",
        ),
        Step(
            -sse,
            "scale",
            "Multiplying by the positive constant 2σ² does not move the maximiser.",
            term=1 / (2 * sigma**2),
            label="negative SSE",
        ),
        Step(
            -sse / D,
            "scale",
            "Dividing by the pixel count D > 0 gives the mean: maximising −MSE is minimising MSE.",
            term=D,
            label="negative MSE",
        ),
    )
    return Derivation(
        slug="gaussian-mse",
        title="Gaussian decoder with fixed σ → MSE",
        parameters=(mu,),
        steps=steps,
        summary="With σ fixed, log N(x; μ, σ²I) = −SSE/(2σ²) + const: on its own, maximising it "
        "is minimising the MSE, and σ survives only as the factor 1/(2σ²). In a VAE the KL term "
        "is not divided by that factor, so it becomes the KL's weight (the ELBO page: β = 2σ²).",
        symbols={**DATA_SYMBOLS, "mu": mu, "sigma": sigma},
    )


def gaussian_gradient() -> Derivation:
    mse = squared_error_sum() / D
    steps = (
        Step(
            sp.Derivative(log_density_expanded(), mu[j]),
            "start",
            "The gradient of the log-density with respect to one decoder output μⱼ.",
            label="log-density gradient",
        ),
        Step(
            (x[j] - mu[j]) / sigma**2,
            "equal",
            "Only the j-th squared error depends on μⱼ: ∂/∂μⱼ of −(xⱼ − μⱼ)²/(2σ²).",
            label="gradient evaluated",
        ),
        Step(
            -sp.Derivative(mse, mu[j]),
            "scale",
            "The two gradients point the same way; they differ by the positive factor D/(2σ²).",
            term=D / (2 * sigma**2),
            label="negative MSE gradient",
        ),
        Step(
            2 * (x[j] - mu[j]) / D,
            "equal",
            "∂MSE/∂μⱼ = −2(xⱼ − μⱼ)/D: only the j-th term of the mean depends on μⱼ.",
            label="MSE gradient evaluated",
        ),
    )
    return Derivation(
        slug="gaussian-gradient",
        title="Gradients: log-likelihood vs MSE",
        parameters=(mu,),
        steps=steps,
        summary="∂log p/∂μⱼ = D/(2σ²)·(−∂MSE/∂μⱼ): alone, σ rescales the step as a learning "
        "rate would under plain SGD (Adam divides a constant scale out); next to a KL term it "
        "reweights the two (see the ELBO derivation).",
        symbols={**DATA_SYMBOLS, "mu": mu, "sigma": sigma, "j": j},
    )


def gaussian_diagonal() -> Derivation:
    constant = -D / 2 * sp.log(2 * sp.pi)
    log_sigma_sum = sp.Sum(sp.log(sigma_i[i]), (i, 1, D))
    weighted_se = sp.Sum((x[i] - mu[i]) ** 2 / (2 * sigma_i[i] ** 2), (i, 1, D))
    steps = (
        *per_pixel_start(normal_pdf(x[i], mu[i], sigma_i[i]), "Gaussian density"),
        Step(
            constant - log_sigma_sum - weighted_se,
            "equal",
            "log det(diag σ²)^(1/2) = Σ log σᵢ (not ½Σσᵢ²), and each pixel has its own 1/(2σᵢ²).",
            label="expanded",
        ),
        Step(
            -log_sigma_sum - weighted_se,
            "drop",
            "Only −D/2·log 2π is constant in μ and σ; −Σ log σᵢ depends on the decoder's σ, so "
            "it stays.",
            term=constant,
            label="constant dropped",
        ),
        Step(
            -sp.Sum(sp.log(sigma_i[i] ** 2) + (x[i] - mu[i]) ** 2 / sigma_i[i] ** 2, (i, 1, D)) / 2,
            "equal",
            "−log σᵢ = −½·log σᵢ² (σᵢ > 0): this is minus the Gaussian NLL loss (sum reduction).",
            label="Gaussian NLL form",
        ),
    )
    return Derivation(
        slug="gaussian-diagonal",
        title="Gaussian decoder with per-pixel σᵢ: no longer MSE",
        parameters=(mu, sigma_i),
        steps=steps,
        summary="When the decoder outputs σᵢ, −Σ log σᵢ is not constant: it stops σᵢ from growing "
        "without bound. The weighted squared error (xᵢ − μᵢ)²/(2σᵢ²) pushes σᵢ up only where the "
        "residual is not 0: where the decoder can match a pixel exactly (a constant black "
        "border), σᵢ → 0 sends the log-likelihood to +∞, so it has no maximum (Mattei & "
        "Frellsen 2018). Implementations therefore keep σᵢ above a floor.",
        symbols={**DATA_SYMBOLS, "mu": mu, "sigma": sigma_i},
    )
