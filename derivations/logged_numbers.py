"""What the numbers in a training log mean: logged recon and KL → nats per image and bits/dim.

A framework prints a reconstruction value and a KL value, each after its own reductions (sum or
mean over pixels, latents and the batch), often with constants dropped and a β in the total. To
compare with a paper, undo each reduction to get *per image* numbers, put the dropped constants
back, and take the KL with weight 1:

    −ELBO per image = −log p(x|z) per image (constants included) + KL per image   (nats)
    bits/dim       = (−ELBO + D·log(1/w)) / (D·ln 2)       (w: spacing of the stored grey levels)

The D·log(1/w) turns a density on [0, 1] into a probability of the stored bin, approximately
(exactly a bound when the model was trained on uniformly dequantised data, Theis et al. 2016; see
derivations/discrete.py). BCE on binary data is already a probability, so it adds nothing.

Why logged parts need not add up to the logged total: the total is recon + β·KL (not + KL); the
recon may be a per-pixel mean while the KL is a per-image sum; and the recon may lack constants
(MSE has no ½log 2πσ²). `convert` reports the total the log *should* show, so it can be checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from derivations.implied_sigma import coefficients

LOSSES = ("squared", "l1", "bce", "gaussian-nll")
REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class Converted:
    recon_nats: float  # −log p(x|z) per image in nats, constants included
    kl_nats: float  # KL(q(z|x) ‖ p(z)) per image in nats
    neg_elbo_nats: float  # recon_nats + kl_nats
    bits_per_dim: float  # (neg_elbo_nats + D·log(1/w)) / (D ln 2); for BCE no bin term
    logged_total: float  # what the log's total should read: logged recon + β·logged KL
    recon_constant: float  # nats per image the logged recon left out (restored above)
    notes: tuple[str, ...]  # why the logged numbers differ from these


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _finite(name: str, value: object, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def convert(
    recon: float,
    kl: float,
    *,
    loss: str,
    D: int,
    latent_dim: int,
    batch_size: int,
    recon_pixels: str = "mean",
    recon_batch: str = "mean",
    kl_latents: str = "sum",
    kl_batch: str = "mean",
    beta: float = 1.0,
    sigma: float = 1.0,
    scale: float = 1.0,
    levels: int = 256,
) -> Converted:
    """Per-image nats and bits/dim from a logged reconstruction and KL value.

    ``loss``: "squared" (MSE/SSE: needs the decoder ``sigma`` it stands for), "l1" (needs the
    Laplace ``scale`` b), "bce" (binary data), or "gaussian-nll" (PyTorch's
    ``F.gaussian_nll_loss`` with ``full=False``: ½(log σ² + r²/σ²) per value, ½log 2π dropped).
    Reductions say what the framework did over pixels/latents and over the batch of
    ``batch_size``. ``levels`` grey levels k/(levels − 1) give the bin width for bits/dim.
    """
    recon, kl = _finite("recon", recon), _finite("kl", kl)
    loss = _choice("loss", loss, LOSSES)
    D, J, B = (
        _positive_int(n, v)
        for n, v in (("D", D), ("latent_dim", latent_dim), ("batch_size", batch_size))
    )
    recon_pixels = _choice("recon_pixels", recon_pixels, REDUCTIONS)
    recon_batch = _choice("recon_batch", recon_batch, REDUCTIONS)
    kl_latents = _choice("kl_latents", kl_latents, REDUCTIONS)
    kl_batch = _choice("kl_batch", kl_batch, REDUCTIONS)
    beta = _finite("beta", beta)
    if beta < 0:
        raise ValueError(f"beta must be ≥ 0, got {beta!r}")
    levels = _positive_int("levels", levels)
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels!r}")

    notes = []
    # Undo the reductions. The logged values are a·Σ_n Σ_d ℓ and k·Σ_n KL_n, with (a, k) the
    # factors implied_sigma.coefficients gives the same reductions; per image is Σ_n / B.
    a, k = coefficients(D, J, B, recon_pixels, recon_batch, kl_latents, kl_batch, 1.0)
    per_image = recon / (a * B)
    kl_per_image = kl / (k * B)
    if recon_pixels == "mean":
        notes.append(f"The logged recon is a per-pixel mean: ×D = ×{D} gives the per-image sum.")
    if recon_batch == "sum" or kl_batch == "sum":
        notes.append(f"A sum over the batch is undone by ÷B = ÷{B}.")
    if kl_latents == "mean":
        notes.append(f"The logged KL is a mean over latents: ×J = ×{J} gives the per-image KL.")

    if loss == "squared":
        sigma = _finite("sigma", sigma, positive=True)
        constant = D * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
        recon_nats = per_image / (2 * sigma**2) + constant
        notes.append(
            f"Squared error is −log N only after dividing by 2σ² = {2 * sigma**2:.4g} and adding "
            f"D·(log σ + ½log 2π) = {constant:.4g} nats, constants the loss dropped."
        )
    elif loss == "l1":
        scale = _finite("scale", scale, positive=True)
        constant = D * math.log(2 * scale)
        recon_nats = per_image / scale + constant
        notes.append(
            f"L1 is −log Laplace only after dividing by b = {scale:.4g} and adding "
            f"D·log 2b = {constant:.4g} nats."
        )
    elif loss == "gaussian-nll":
        constant = 0.5 * D * math.log(2 * math.pi)
        recon_nats = per_image + constant
        notes.append(
            f"gaussian_nll_loss(full=False) drops ½log 2π per value: +{constant:.4g} nats."
        )
    else:
        constant = 0.0
        recon_nats = per_image
        notes.append(
            "BCE is −log Bernoulli exactly, on binary data; on grey data it is not a "
            "normalised likelihood, and these numbers are not comparable with others."
        )

    logged_total = recon + beta * kl
    if beta != 1.0:
        notes.append(f"The logged total weights the KL by β = {beta:g}; the ELBO uses weight 1.")
    neg_elbo = recon_nats + kl_per_image
    bins = 0.0 if loss == "bce" else D * math.log(levels - 1)
    return Converted(
        recon_nats=recon_nats,
        kl_nats=kl_per_image,
        neg_elbo_nats=neg_elbo,
        bits_per_dim=(neg_elbo + bins) / (D * math.log(2)),
        logged_total=logged_total,
        recon_constant=constant,
        notes=tuple(notes),
    )
