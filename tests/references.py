"""Independent references the page tests compare against (not the app's own code paths)."""

from __future__ import annotations

import numpy as np

from models.data import load_dataset


def active_by_eigenvalues(dataset: str, sigma2: float, latent_dim: int) -> int:
    """The linear VAE's active dimensions at its optimum, independent of derivations.linear_vae:
    how many of the top `latent_dim` eigenvalues of the train covariance (numpy's) exceed σ²."""
    x = load_dataset(dataset).train.numpy().astype(np.float64)
    lam = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False, bias=True)))[::-1]
    return int((lam[:latent_dim] > sigma2).sum())
