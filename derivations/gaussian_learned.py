"""A learned shared σ: the best σ² is the MSE, and the profile objective is −D/2·log MSE.

Substituting the optimum σ̂² = MSE(μ) is not an identity of the log-likelihood, so it is split in
two derivations: `gaussian_learned_sigma` rewrites the likelihood exactly so that the optimum and
the gap to it are visible, and `gaussian_calibrated` starts from the profile likelihood
L(μ, σ̂(μ)) (the "calibrated decoder", Rybkin, Daniilidis & Levine 2021, σ-VAE).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.base import DATA_SYMBOLS, D, Derivation, Step, mu, sigma
from derivations.gaussian import log_density_expanded, squared_error_sum


def mean_squared_error() -> sp.Expr:
    """MSE = (1/D) Σᵢ (xᵢ − μᵢ)²."""
    return squared_error_sum() / D


@cache
def optimal_sigma_squared() -> sp.Expr:
    """σ̂² solving ∂/∂σ log N(x; μ, σ²I) = 0 (the positive root), which is the MSE."""
    (root,) = sp.solve(sp.diff(log_density_expanded(), sigma), sigma)
    return sp.simplify(root**2)


def gaussian_sigma_stationary() -> Derivation:
    mse = mean_squared_error()
    steps = (
        Step(
            sp.Derivative(log_density_expanded(), sigma),
            "start",
            "The gradient of the log-likelihood with respect to the shared σ.",
            label="sigma gradient",
        ),
        Step(
            -D / sigma + squared_error_sum() / sigma**3,
            "equal",
            "∂/∂σ of −D·log σ is −D/σ; of −SSE/(2σ²) it is +SSE/σ³.",
            label="gradient evaluated",
        ),
        Step(
            D / sigma**3 * (mse - sigma**2),
            "equal",
            "Factor out D/σ³ > 0: the gradient vanishes exactly at σ² = MSE (and is > 0 below it).",
            label="stationary point",
        ),
    )
    return Derivation(
        slug="gaussian-sigma-stationary",
        title="∂/∂σ = 0 gives σ² = MSE",
        parameters=(mu, sigma),
        steps=steps,
        summary="∂ log N/∂σ = (D/σ³)(MSE − σ²): the log-likelihood rises while σ² < MSE and falls "
        "after, so the learned σ² settles at the reconstruction MSE.",
        symbols={**DATA_SYMBOLS, "mu": mu, "sigma": sigma},
    )


def gaussian_learned_sigma() -> Derivation:
    mse = mean_squared_error()
    ratio = mse / sigma**2  # r = MSE/σ²; the likelihood is best at r = 1
    gap = ratio - 1 - sp.log(ratio)  # r − 1 − log r ≥ 0, zero only at r = 1
    constants = -D / 2 * (1 + sp.log(2 * sp.pi))
    steps = (
        Step(
            log_density_expanded(),
            "start",
            "The Gaussian log-likelihood, now read as a function of both μ and the shared σ.",
            label="log-likelihood",
        ),
        Step(
            -D / 2 * sp.log(2 * sp.pi) - D / 2 * sp.log(mse) - D / 2 - D / 2 * gap,
            "equal",
            "Rewritten with r = MSE/σ²: since r − 1 − log r ≥ 0 with equality only at r = 1, the "
            "best σ² is the MSE.",
            label="optimum exposed",
        ),
        Step(
            -D / 2 * sp.log(mse) - D / 2 * gap,
            "drop",
            "−D/2·(1 + log 2π) is constant in μ and σ; the gap term depends on σ and must stay.",
            term=constants,
            label="constants dropped",
        ),
        Step(
            -sp.log(mse) - gap,
            "scale",
            "Dividing by the positive constant D/2 leaves −log MSE minus the σ-gap.",
            term=D / 2,
            label="sigma-aware objective",
        ),
    )
    return Derivation(
        slug="gaussian-learned-sigma",
        title="Learning one shared σ: the optimum σ² = MSE",
        parameters=(mu, sigma),
        steps=steps,
        summary="log N(x; μ, σ²I) = −D/2·log MSE − D/2·(1 + log 2π) − D/2·(r − 1 − log r) with "
        "r = MSE/σ²: the last term is ≥ 0 and vanishes exactly at σ² = MSE.",
        symbols={**DATA_SYMBOLS, "mu": mu, "sigma": sigma},
    )


def gaussian_calibrated() -> Derivation:
    mse = mean_squared_error()
    constants = -D / 2 * (1 + sp.log(2 * sp.pi))
    steps = (
        Step(
            log_density_expanded().subs(sigma, sp.sqrt(mse)),
            "start",
            "The profile likelihood: the log-likelihood with σ set to its optimum σ̂² = MSE(μ).",
            label="sigma substituted",
        ),
        Step(
            -D / 2 * sp.log(mse) + constants,
            "equal",
            "With σ² = MSE the squared-error term is exactly D/2 and −D·log σ is −D/2·log MSE.",
            label="profile log-likelihood",
        ),
        Step(
            -D / 2 * sp.log(mse),
            "drop",
            "−D/2·(1 + log 2π) is constant in μ, so the argmax over μ is unchanged.",
            term=constants,
            label="constants dropped",
        ),
        Step(
            -sp.log(mse),
            "scale",
            "Dividing by the positive constant D/2 leaves −log MSE, the calibrated-decoder loss.",
            term=D / 2,
            label="negative log-MSE",
        ),
    )
    return Derivation(
        slug="gaussian-calibrated",
        title="Calibrated decoder: σ profiled out → log MSE",
        parameters=(mu,),
        steps=steps,
        summary="Plugging the optimal σ² = MSE back in gives −D/2·log MSE − D/2·(1 + log 2π): "
        "the decoder then minimises log MSE, whose gradient is ∇MSE/MSE.",
        symbols={**DATA_SYMBOLS, "mu": mu},
    )
