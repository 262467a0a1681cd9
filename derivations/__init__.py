"""Pure-SymPy derivations: from a log-likelihood to the loss people write. No Streamlit here.

`REGISTRY` maps a slug to a builder; `get(slug)` builds once and caches. Modules only define
functions, so importing this package does no symbolic work.
"""

from collections.abc import Callable
from functools import cache

from derivations import (
    bernoulli,
    discrete,
    elbo,
    elbo_gap,
    gaussian,
    gaussian_learned,
    huber,
    kl,
    laplace,
    linear_vae,
)
from derivations.base import Derivation

REGISTRY: dict[str, Callable[[], Derivation]] = {
    "gaussian-mse": gaussian.gaussian_mse,
    "gaussian-gradient": gaussian.gaussian_gradient,
    "gaussian-diagonal": gaussian.gaussian_diagonal,
    "gaussian-learned-sigma": gaussian_learned.gaussian_learned_sigma,
    "gaussian-sigma-stationary": gaussian_learned.gaussian_sigma_stationary,
    "gaussian-calibrated": gaussian_learned.gaussian_calibrated,
    "bernoulli-bce": bernoulli.bernoulli_bce,
    "bernoulli-logits": bernoulli.bernoulli_logits,
    "continuous-bernoulli": bernoulli.continuous_bernoulli,
    "laplace-l1": laplace.laplace_l1,
    "huber": huber.huber,
    "huber-normaliser": huber.huber_normaliser_derivation,
    "kl-gaussian": kl.kl_gaussian,
    "kl-monte-carlo": kl.kl_monte_carlo,
    "kl-monte-carlo-variance": kl.kl_monte_carlo_variance,
    "elbo": elbo.elbo,
    "elbo-gap": elbo_gap.elbo_gap,
    "dequantisation": discrete.dequantisation,
    "linear-vae-collapse": linear_vae.collapse_derivation,
}


@cache
def get(slug: str) -> Derivation:
    """The derivation for slug, built on first use (KeyError for an unknown slug)."""
    return REGISTRY[slug]()
