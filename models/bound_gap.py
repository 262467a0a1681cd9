"""The gap under the bound, measured: a linear VAE's ELBO, IWAE bounds and exact log p(x).

For the linear VAE (models/vae.py, `VAEConfig(linear=True)`) with a Gaussian likelihood of fixed
σ, z integrates out in closed form: p(x) = N(x; b, W Wᵀ + σ² I) (probabilistic PCA; Tipping &
Bishop 1999). So the bounds a VAE reports can be compared with the number they bound:

    ELBO ≤ IWAE_K ≤ log p(x)   (in expectation; IWAE_K grows with K to log p(x), Burda et al. 2016)

and ELBO = log p(x) − KL(q(z|x) ‖ p(z|x)) (derivations/elbo_gap.py). All values are nats per
image averaged over the examples given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from models import likelihoods
from models.data import Dataset
from models.distributions import HALF_LOG_2PI
from models.trainer import TrainConfig, Trainer
from models.vae import VAE, VAEConfig, kl_per_dim

K_MAX = 64


@dataclass(frozen=True)
class BoundCurve:
    exact: float  # mean log p(x), closed form
    elbo: float  # mean E_q log p(x|z) − KL(q ‖ p(z)), E_q over K_MAX samples
    iwae: np.ndarray  # iwae[K − 1]: mean IWAE bound with the first K of the K_MAX samples
    steps: int  # training steps of the model measured


def train_linear_vae(
    dataset: Dataset, sigma: float, latent_dim: int, steps: int, seed: int = 0
) -> Trainer:
    """A linear VAE with a fixed-σ Gaussian decoder, trained for `steps` Adam steps (lr 1e-2)."""
    likelihood = likelihoods.make("gaussian", sigma=sigma)
    trainer = Trainer(
        VAEConfig(latent_dim=latent_dim, linear=True),
        dataset,
        likelihood,
        seed=seed,
        train=TrainConfig(lr=1e-2),
    )
    if steps:
        trainer.run(max_steps=steps)
    return trainer


def exact_log_likelihood(model: VAE, sigma: float, x: torch.Tensor) -> np.ndarray:
    """log N(x; b, W Wᵀ + σ² I) per row of x, for a linear VAE (nats)."""
    if not model.config.linear:
        raise ValueError("the exact log p(x) is known in closed form only for the linear VAE")
    W = model.W.detach().double().numpy()
    b = model.b.detach().double().numpy()
    X = x.double().numpy() - b
    D = W.shape[0]
    cov = W @ W.T + sigma**2 * np.eye(D)
    _, logdet = np.linalg.slogdet(cov)
    mahalanobis = np.einsum("nd,nd->n", X, np.linalg.solve(cov, X.T).T)
    return -0.5 * (D * math.log(2 * math.pi) + logdet + mahalanobis)


@torch.no_grad()
def bound_curve(trainer: Trainer, x: torch.Tensor, seed: int = 0) -> BoundCurve:
    """ELBO, IWAE_K for K = 1 … K_MAX and the exact log p(x), averaged over the rows of x."""
    model, likelihood = trainer.model, trainer.likelihood
    sigma = float(likelihood.params["sigma"])
    mu, logvar = model.encode(x)
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn(K_MAX, *mu.shape, generator=g)
    z = mu + torch.exp(0.5 * logvar) * eps  # (K, N, L)
    N = x.shape[0]
    out = model.decode(z.reshape(-1, mu.shape[1]))
    log_px_z = likelihood.log_prob(out, x.repeat(K_MAX, 1)).view(K_MAX, N).double()
    log_pz = (-0.5 * z * z - HALF_LOG_2PI).sum(-1).double()
    log_qz = (-0.5 * eps * eps - 0.5 * logvar - HALF_LOG_2PI).sum(-1).double()
    log_w = log_px_z + log_pz - log_qz
    ks = torch.arange(1, K_MAX + 1, dtype=torch.float64)
    # IWAE_K = log (1/K) Σ_{k ≤ K} w_k: a running logsumexp over the first K samples.
    running = torch.logcumsumexp(log_w, dim=0) - torch.log(ks)[:, None]
    kl = kl_per_dim(mu, logvar).sum(-1).double()
    return BoundCurve(
        exact=float(exact_log_likelihood(model, sigma, x).mean()),
        elbo=float((log_px_z.mean(0) - kl).mean()),
        iwae=running.mean(1).numpy(),
        steps=trainer.step,
    )
