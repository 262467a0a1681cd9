"""Pixels are discrete and bounded: densities on [0, 1], bins, dequantisation, bits/dim.

A Gaussian (or Laplace, Huber) decoder puts a *density* on the whole real line while the data are
a few grey levels in [0, 1]. That is a modelling choice, and it has two consequences:

- A density is not a probability: N(x; μ, σ²) at x = μ is 1/(√(2π)σ), above 1 for σ < 0.399, so
  −log p(x) and a whole −ELBO can be negative. That is not a bug, and it means a continuous
  density's numbers cannot be compared with a probability's (a Bernoulli's, say).
- The comparable number is the probability of the data's *bin*, P(x̃) = ∫_bin p(y) dy (the
  engine's bits/dim: models/evaluate.py). Uniform dequantisation (Theis, van den Oord & Bethge
  2016, "A note on the evaluation of generative models") trains and evaluates a density on
  y = x̃ + w·u, u ~ U(−½, ½): by Jensen, E_u log p(x̃ + w u) + log w ≤ log P(x̃), so the dequantised
  number, with log w per pixel added, is a lower bound on the discrete log-likelihood, and the two
  become comparable.

`dequantisation()` is the derivation (every step an identity, checked); the Jensen inequality at
the end is checked numerically in the tests. The functions below are the page's numbers.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy import stats

from derivations.base import Derivation, Step
from derivations.gaussian import normal_pdf
from derivations.validation import check_positive

y = sp.Symbol("y", real=True)  # a continuous value inside the bin
u = sp.Symbol("u", real=True)  # uniform dequantisation noise, u ~ U(−½, ½)
x_bin = sp.Symbol("xtilde", real=True)  # the bin's centre: the grey level actually stored
width = sp.Symbol("w", positive=True)  # bin width: 1/(levels − 1) for levels k/(levels − 1)
mu1 = sp.Symbol("mu", real=True)  # decoder mean for this pixel
sigma1 = sp.Symbol("sigma", positive=True)  # decoder σ


def _check_dimension(D: object) -> int:
    if isinstance(D, bool) or not isinstance(D, int) or D < 1:
        raise ValueError(f"D (values per image) must be a positive whole number, got {D!r}")
    return D


def dequantisation() -> Derivation:
    pdf = normal_pdf(y, mu1, sigma1)
    steps = (
        Step(
            sp.log(sp.Integral(pdf, (y, x_bin - width / 2, x_bin + width / 2))),
            "start",
            "The discrete log-likelihood of a stored level x̃: log of the probability the density "
            "puts on its bin (width w).",
            label="bin probability",
        ),
        Step(
            sp.log(width * sp.Integral(pdf.subs(y, x_bin + width * u), (u, -0.5, 0.5))),
            "equal",
            "Substitute y = x̃ + w·u, dy = w du: the bin becomes u ∈ (−½, ½).",
            label="substitution",
        ),
        Step(
            sp.log(width) + sp.log(sp.Integral(pdf.subs(y, x_bin + width * u), (u, -0.5, 0.5))),
            "equal",
            "log of a product = sum of logs. The integral is E_u p(x̃ + wu), u ~ U(−½, ½); "
            "Jensen bounds its log below (summary).",
            label="log w + log E_u p",
        ),
    )
    return Derivation(
        slug="dequantisation",
        title="Bin probability = bin width × average density",
        parameters=(mu1, sigma1),
        steps=steps,
        summary="log P(x̃) = log w + log E_u p(x̃ + w u) ≥ log w + E_u log p(x̃ + w u): the "
        "density of uniformly dequantised data, shifted by log w per value, never claims more "
        "than the discrete likelihood (Theis et al. 2016).",
        symbols={"y": y, "u": u, "xtilde": x_bin, "w": width, "mu": mu1, "sigma": sigma1},
        sample_ranges={x_bin: (0.0, 1.0), width: (0.01, 0.3), mu1: (0.0, 1.0), sigma1: (0.05, 0.5)},
    )


# --- the page's numbers -------------------------------------------------------------------------


def nats_to_bits_per_dim(nats_per_image: float, D: int) -> float:
    """−log p in nats per image → bits per dimension: divide by D·ln 2."""
    return float(nats_per_image) / (_check_dimension(D) * math.log(2))


def bits_per_dim_to_nats(bits_per_dim: float, D: int) -> float:
    """Bits per dimension → nats per image: multiply by D·ln 2."""
    return float(bits_per_dim) * _check_dimension(D) * math.log(2)


def bin_width(levels: int) -> float:
    """Spacing of `levels` grey levels k/(levels − 1) on [0, 1] (ToTensor's /255 gives 1/255)."""
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be a whole number of at least 2, got {levels!r}")
    return 1.0 / (levels - 1)


def gaussian_density_peak(sigma: float) -> float:
    """N(μ; μ, σ²) = 1/(√(2π)σ): above 1 whenever σ < 1/√(2π) ≈ 0.399."""
    return 1.0 / (math.sqrt(2 * math.pi) * check_positive("sigma", sigma))


def gaussian_nll_per_image(mse: float, sigma: float, D: int) -> float:
    """−log N(x; μ, σ²I) in nats for an image with per-pixel mean squared error `mse`."""
    sigma = check_positive("sigma", sigma)
    D = _check_dimension(D)
    if not (math.isfinite(mse) and mse >= 0):
        raise ValueError(f"mse must be a finite number ≥ 0, got {mse!r}")
    return D * mse / (2 * sigma**2) + D * (math.log(sigma) + 0.5 * math.log(2 * math.pi))


def _log_interval(normal, lo: float, hi: float) -> float:
    """log P(lo < Y ≤ hi), in the tail where it is not 0 in floating point (log-CDFs)."""
    if lo > normal.mean():  # upper tail: differences of survival functions
        a, b = float(normal.logsf(lo)), float(normal.logsf(hi))
    else:
        a, b = float(normal.logcdf(hi)), float(normal.logcdf(lo))
    return a + math.log1p(-math.exp(b - a)) if b < a else -math.inf


def pixel_numbers(x: float, mu: float, sigma: float, levels: int, samples: int = 20_000) -> dict:
    """One pixel x on a grid of `levels` grey levels, under N(μ, σ²), four ways (nats):

    −log p(x) (the density), −log P(bin) the engine's way (interior bins ±w/2, the outer bins open
    to ±∞), −log P(bin) for the closed bin [x − w/2, x + w/2], and the dequantised estimate
    −E_u log p(x + w u) − log w with u ~ U(−½, ½) (a fixed-seed Monte-Carlo average)."""
    sigma = check_positive("sigma", sigma)
    w = bin_width(levels)
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise ValueError(f"x must be a grey level in [0, 1], got {x!r}")
    k = round(x / w)
    x = k * w  # snap to the grid: the data are stored on it
    normal = stats.norm(mu, sigma)
    lo = -math.inf if k == 0 else x - w / 2
    hi = math.inf if k == levels - 1 else x + w / 2
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, samples)
    dequantised = -float(np.mean(normal.logpdf(x + w * noise))) - math.log(w)
    return {
        "x": x,
        "width": w,
        "density": float(normal.pdf(x)),
        "nll_density": float(-normal.logpdf(x)),
        "nll_bin_engine": -_log_interval(normal, lo, hi),
        "nll_bin_closed": -_log_interval(normal, x - w / 2, x + w / 2),
        "nll_dequantised": dequantised,
    }
