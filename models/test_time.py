"""At test time: which z and which x a VAE's pictures and metrics use.

Two choices, each two ways: z is the posterior mean μ(x) or a sample z ~ q(z|x); the picture is
the decoder mean E[x|z] or a sample x ~ p(x|z). `four_ways` returns all four for some images;
`METRIC_USES` says which one each metric of models/evaluate.py uses.
"""

from __future__ import annotations

import numpy as np
import torch

from models import likelihoods
from models.vae import VAE

ROWS = (
    ("input", "the test image x"),
    ("mean_at_mu", "decoder mean E[x|z] at z = μ(x), the posterior mean"),
    ("sample_at_mu", "a sample x ~ p(x|z) at z = μ(x)"),
    ("mean_at_sample", "decoder mean E[x|z] at a sample z ~ q(z|x)"),
    ("sample_at_sample", "a sample x ~ p(x|z) at a sample z ~ q(z|x)"),
)

METRIC_USES = (
    {
        "metric": "ELBO",
        "z": "K samples z ~ q(z|x)",
        "x": "neither: the density of the real x under p(x|z)",
    },
    {
        "metric": "IWAE log p(x) estimate",
        "z": "K samples z ~ q(z|x), importance-weighted",
        "x": "neither: the density of the real x under p(x|z)",
    },
    {
        "metric": "MSE per pixel",
        "z": "the posterior mean μ(x)",
        "x": "the decoder mean E[x|z] (the displayed reconstruction)",
    },
    {
        "metric": "bits/dim",
        "z": "K samples z ~ q(z|x), importance-weighted",
        "x": "neither: the probability of the real x's bin under p(x|z)",
    },
)


@torch.no_grad()
def four_ways(
    model: VAE, likelihood: likelihoods.Likelihood, x: torch.Tensor, seed: int = 0
) -> dict[str, np.ndarray]:
    """For each row of x: the input and the four decodings named in ROWS, as (n, D) arrays.

    Every draw comes from one generator seeded by `seed`, so the pictures are reproducible.
    """
    modes = model.training, likelihood.training
    model.eval()
    likelihood.eval()
    try:
        g = torch.Generator().manual_seed(seed)
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)
        at_mu, at_sample = model.decode(mu), model.decode(z)
        return {
            "input": x.numpy(),
            "mean_at_mu": likelihood.mean(at_mu).numpy(),
            "sample_at_mu": likelihood.sample(at_mu, g).numpy(),
            "mean_at_sample": likelihood.mean(at_sample).numpy(),
            "sample_at_sample": likelihood.sample(at_sample, g).numpy(),
        }
    finally:
        model.train(modes[0])
        likelihood.train(modes[1])
