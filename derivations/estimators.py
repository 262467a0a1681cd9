"""Numeric Monte-Carlo estimators used by the pages (numpy; the SymPy side lives in kl.py)."""

from __future__ import annotations

import numpy as np


def single_sample_kl_estimates(mu: float, sigma: float, n: int, seed: int = 0) -> np.ndarray:
    """n independent single-sample estimates of KL(N(μ, σ²) ‖ N(0, 1)).

    Each is log q(z) − log p(z) at z = μ + σε, ε ~ N(0, 1) (the estimator in TensorFlow's CVAE
    tutorial); the log(2π) halves cancel between the two log-densities.
    """
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite number, got {sigma!r}")
    eps = np.random.default_rng(seed).standard_normal(n)
    z = mu + sigma * eps
    log_q = -np.log(sigma) - 0.5 * eps**2
    log_p = -0.5 * z**2
    return log_q - log_p


def gaussian_kl_closed_form(mu: float, sigma: float) -> float:
    """KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²) (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mu**2 + sigma**2 - 1.0 - np.log(sigma**2))
