"""Test-split numbers for a trained VAE, each computed as documented on `Metrics`.

    m = evaluate(trainer, dataset, k=64)       # or evaluate(model, dataset, likelihood)
    m.as_dict()                                # the CLI's "test" object

All values are per example (averaged over the split) unless said otherwise. One set of K
importance samples z_k ~ q(z|x) per example serves the reconstruction term, the IWAE estimate and
bits/dim, drawn from a generator seeded by `seed`, so the numbers are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from models import likelihoods
from models.data import Dataset
from models.distributions import HALF_LOG_2PI
from models.vae import VAE, kl_per_dim

ACTIVE_THRESHOLD = 0.01  # Burda et al. 2016: unit i is active if Cov_x(E_q[z_i]) > 0.01
_CHUNK_ELEMENTS = 1 << 21  # rows per chunk = this / (K·D): bounds memory on MNIST


@dataclass
class Metrics:
    """Evaluation of a VAE on one split.

    elbo            E_x[ E_q log p(x|z) - KL(q(z|x) || p(z)) ] in nats: recon_log_prob - kl (β = 1).
    recon_log_prob  E_q[log p(x|z)], Monte Carlo over the K samples: (1/K) Σ_k log p(x|z_k).
    kl              KL(q(z|x) || N(0, I)) in closed form, Σ_i ½(μ_i² + σ_i² - 1 - log σ_i²).
    mse             per-pixel mean of (E[x|z] - x)² at z = μ(x), the posterior mean: the error of
                    the reconstruction a page displays.
    kl_per_dim      the closed-form KL of each latent, averaged over examples (length L).
    active_units    latents with Var_x(μ_i(x)) > 0.01 (Burda et al. 2016, "active units"); a
                    collapsed latent has μ_i(x) constant and KL_i ≈ 0.
    mean_variance_per_dim  Var_x(μ_i(x)) per latent, the quantity `active_units` thresholds, so
                    a page can mark exactly the units it counts (`active_per_dim`).
    log_px_iwae     log p(x) ≈ log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x) (Burda et al. 2016): a lower
                    bound on log p(x) in expectation, >= the ELBO, tight as K grows. A density for
                    continuous families, so it is not comparable across families.
    bits_per_dim    the same IWAE estimate with p(x|z) replaced by the probability P(x̃|z) of the
                    data's bin on its grid (`levels` values; bins cut halfway between levels, the
                    outer ones open to ±inf; each P from the family's CDF), then
                    -log P(x̃) / (D ln 2). A probability, so comparable across families; None where
                    the family has no CDF (Bernoulli on grey data).
    """

    elbo: float
    recon_log_prob: float
    kl: float
    mse: float
    kl_per_dim: list[float]
    active_units: int
    log_px_iwae: float
    bits_per_dim: float | None
    k: int  # importance samples per example
    n: int  # examples evaluated
    mean_variance_per_dim: list[float] = field(default_factory=list)

    @property
    def active_per_dim(self) -> list[bool]:
        """Whether each latent counts as active, by the criterion `active_units` counts."""
        return [v > ACTIVE_THRESHOLD for v in self.mean_variance_per_dim]

    def as_dict(self) -> dict:
        """The CLI's "test" object (non-finite values become None, which JSON has as null)."""

        def clean(v):
            return v if v is None or math.isfinite(v) else None

        return {
            "elbo": clean(self.elbo),
            "recon_log_prob": clean(self.recon_log_prob),
            "kl": clean(self.kl),
            "mse": clean(self.mse),
            "kl_per_dim": [clean(v) for v in self.kl_per_dim],
            "active_units": self.active_units,
            "log_px_iwae": clean(self.log_px_iwae),
            "bits_per_dim": clean(self.bits_per_dim),
        }


def _has_bins(lik: likelihoods.Likelihood, levels: int) -> bool:
    return lik.has_cdf or (isinstance(lik, likelihoods.BernoulliLikelihood) and levels == 2)


@torch.no_grad()
def evaluate(
    source,
    dataset: Dataset,
    likelihood: likelihoods.Likelihood | None = None,
    k: int = 64,
    seed: int = 0,
    split: str = "test",
    max_examples: int | None = None,
) -> Metrics:
    """Metrics of a Trainer (its model and likelihood) or of a VAE plus `likelihood`.

    split is "test" (default) or "train"; max_examples keeps only the first rows (for a quick UI
    refresh). The model and likelihood are put in eval mode and restored afterwards.
    """
    if isinstance(source, VAE):
        model = source
    else:  # a Trainer
        model, likelihood = source.model, likelihood or source.likelihood
    if likelihood is None:
        raise ValueError("evaluate(model, ...) needs a likelihood")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if model.config.outputs_per_pixel != likelihood.outputs_per_pixel:
        raise ValueError(
            f"{likelihood.name} reads {likelihood.outputs_per_pixel} decoder outputs per pixel; "
            f"this model has {model.config.outputs_per_pixel}"
        )
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    X = (dataset.test if split == "test" else dataset.train)[:max_examples]
    N, D = X.shape
    modes = model.training, likelihood.training
    model.eval()
    likelihood.eval()
    bins = _has_bins(likelihood, dataset.levels)
    tot = dict(recon=0.0, kl=0.0, se=0.0, iwae=0.0, bits=0.0)
    kl_dims, mus = [], []
    g = torch.Generator().manual_seed(seed)
    rows = max(1, _CHUNK_ELEMENTS // (k * D))
    try:
        for x in X.split(rows):
            B = x.shape[0]
            mu, logvar = model.encode(x)  # (B, L)
            L = mu.shape[1]
            eps = torch.randn(k, B, L, generator=g)
            z = mu + torch.exp(0.5 * logvar) * eps  # (K, B, L)
            out = model.decode(z.reshape(k * B, L))  # (K·B, D)
            xr = x.expand(k, B, D).reshape(k * B, D)
            log_px_z = likelihood.log_prob(out, xr).view(k, B)
            log_pz = (-0.5 * z * z - HALF_LOG_2PI).sum(-1)  # log N(z; 0, I)
            log_qz = (-0.5 * eps * eps - 0.5 * logvar - HALF_LOG_2PI).sum(-1)  # log N(z; μ, σ²)
            log_w = log_px_z + log_pz - log_qz  # (K, B)
            tot["iwae"] += float((torch.logsumexp(log_w.double(), 0) - math.log(k)).sum())
            tot["recon"] += float(log_px_z.double().mean(0).sum())
            kd = kl_per_dim(mu, logvar)  # (B, L)
            kl_dims.append(kd)
            tot["kl"] += float(kd.double().sum())
            tot["se"] += float(((likelihood.mean(model.decode(mu)) - x) ** 2).double().sum())
            mus.append(mu)
            if bins:
                log_P = likelihood.discretised_log_prob(out, xr, dataset.levels).view(k, B)
                log_W = log_P + (log_pz - log_qz).double()
                tot["bits"] += float((torch.logsumexp(log_W, 0) - math.log(k)).sum())
    finally:
        model.train(modes[0])
        likelihood.train(modes[1])
    recon, kl = tot["recon"] / N, tot["kl"] / N
    mu_all = torch.cat(mus).double()
    variance = mu_all.var(0, unbiased=False) if N > 1 else torch.zeros(mu_all.shape[1])
    active = int((variance > ACTIVE_THRESHOLD).sum())
    return Metrics(
        elbo=recon - kl,
        recon_log_prob=recon,
        kl=kl,
        mse=tot["se"] / (N * D),
        kl_per_dim=torch.cat(kl_dims).double().mean(0).tolist(),
        active_units=active,
        log_px_iwae=tot["iwae"] / N,
        bits_per_dim=-tot["bits"] / (N * D * math.log(2)) if bins else None,
        k=k,
        n=N,
        mean_variance_per_dim=variance.tolist(),
    )
