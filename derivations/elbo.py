"""The ELBO with a fixed-σ Gaussian decoder: maximising it is minimising SSE + β·KL, β = 2σ².

ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))   (Kingma & Welling 2014, §2.2). The KL is
*subtracted*: it is a penalty, so the loss is reconstruction error + KL.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from derivations.base import (
    DATA_SYMBOLS,
    LATENT_SYMBOLS,
    D,
    Derivation,
    Step,
    mu,
    mu_z,
    sigma,
    sigma_z,
)
from derivations.gaussian import log_density_expanded, squared_error_sum
from derivations.kl import kl_closed_form


def elbo() -> Derivation:
    sse, kl = squared_error_sum(), kl_closed_form()
    constants = -D / 2 * sp.log(2 * sp.pi) - D * sp.log(sigma)
    steps = (
        Step(
            log_density_expanded() - kl,
            "start",
            "ELBO = E_q[log p(x|z)] − KL(q‖p); E_q is estimated with one z ~ q, μ = decoder(z).",
            label="ELBO",
        ),
        Step(
            -sse / (2 * sigma**2) - kl,
            "drop",
            "−D/2·log 2π − D·log σ is constant in μ, μ_z and σ_z (σ is fixed), so it can go.",
            term=constants,
            label="constants dropped",
        ),
        Step(
            -(sse + 2 * sigma**2 * kl) / (2 * sigma**2),
            "equal",
            "Factor out −1/(2σ²): the KL gets the weight 2σ² inside the bracket.",
            label="factored",
        ),
        Step(
            -(sse + 2 * sigma**2 * kl),
            "scale",
            "Multiplying by the positive 2σ² keeps the maximiser: minimise SSE + β·KL, β = 2σ².",
            term=1 / (2 * sigma**2),
            label="negative SSE + beta KL",
        ),
        Step(
            -(sse / D + 2 * sigma**2 / D * kl),
            "scale",
            "Dividing by D > 0 gives MSE + (2σ²/D)·KL: plain MSE + KL silently sets σ² = D/2.",
            term=D,
            label="negative MSE + beta/D KL",
        ),
    )
    return Derivation(
        slug="elbo",
        title="ELBO with a Gaussian decoder → SSE + β·KL",
        parameters=(mu, mu_z, sigma_z),
        steps=steps,
        summary="Maximising the ELBO with a fixed-σ Gaussian decoder minimises SSE + 2σ²·KL: "
        "σ sets the weight of the KL (β = 2σ²), it is not a learning rate.",
        symbols={**DATA_SYMBOLS, **LATENT_SYMBOLS, "mu": mu, "sigma": sigma},
    )


@cache
def beta_expr() -> sp.Expr:
    """β(σ): the KL's coefficient relative to the SSE's in the "SSE + β·KL" step (= 2σ²)."""
    loss = -elbo().step("negative SSE + beta KL").expr
    return sp.simplify(loss.coeff(kl_closed_form()) / loss.coeff(squared_error_sum()))


@cache
def _beta_function():
    return sp.lambdify(sigma, beta_expr(), modules="numpy")


@cache
def _sigma_function():
    beta = sp.Symbol("beta", positive=True)
    (root,) = sp.solve(sp.Eq(beta_expr(), beta), sigma)
    return sp.lambdify(beta, root, modules="numpy")


def beta_for_sigma(sigma: float | np.ndarray, D: int | None = None) -> float | np.ndarray:
    """β = 2σ², the KL weight against the summed squared error.

    With D given, the weight against the *mean* squared error (F.mse_loss's default): 2σ²/D.
    """
    beta = _beta_function()(np.asarray(sigma, dtype=float))
    return beta if D is None else beta / D


def sigma_for_beta(beta: float | np.ndarray, D: int | None = None) -> float | np.ndarray:
    """The decoder σ that a KL weight β implies: σ = √(β/2) (β against SSE, or against MSE if
    D is given, in which case the SSE weight is β·D)."""
    beta = np.asarray(beta, dtype=float)
    return _sigma_function()(beta if D is None else beta * D)
