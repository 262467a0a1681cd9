"""The catalogue of likelihood families p(x | z): what the decoder's output means.
(About 500 lines because it is the whole catalogue, one short class per family, like
sympy.stats' crv_types; the machinery lives in models/distributions.py.)

Every family answers the same small interface (a `Likelihood`, an nn.Module so a learned σ trains
with the model):

    lik = make("gaussian", sigma=0.1)
    d = lik.distribution(out)          # torch Distribution over the whole vector: (B, D) -> (B,)
    d.log_prob(x)                      # full normalised log-density in nats, constants included
    lik.log_prob(out, x)               # the same numbers by a shorter path
    lik.nll(out, x)                    # -mean of log_prob over the batch, fused (the training loss)
    lik.mean(out), lik.sample(out)     # the displayed reconstruction, and a draw from p(x | z)
    lik.discretised_log_prob(out, x, levels)   # log P of the binned data, for bits/dim

The decoder's output has `outputs_per_pixel` numbers per pixel: 1 for every family (a location or
logits) except gaussian-per-pixel, whose decoder outputs μ and a log-scale for each pixel (2·D
numbers). A VAE is built with the width its likelihood asks for; `mean` and `sample` always
return one value per pixel.

Every parameter is bounded to a stated range (`PARAM_RANGES`): outside it float32 losses overflow
or a log-density stops being finite, so `make` refuses it with a message naming the range.

`REGISTRY` maps names to classes and `info(name)` gives the metadata the UI builds its controls from
(display name, which parameter a slider controls, whether bits/dim is defined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Bernoulli, Distribution, Independent, Laplace, Normal

from models.distributions import (
    HALF_LOG_2PI,
    ContinuousBernoulli,
    Huber,
    discretised_log_prob,
    huber_std_log_cdf,
    laplace_std_log_cdf,
    symmetric_interval_log_prob,
)

# The range each likelihood parameter may take. σ and the scale b: 1e-4 keeps 1/(2σ²) and 1/b
# far from float32's limit for residuals up to 1, and 1e3 is a thousand times the data's range.
# α (Huber's switch point, in units of b): beyond 1e2 the density is a Gaussian to 1e-2000, below
# 1e-2 it is a Laplace. σ_min (gaussian-per-pixel's floor) is at most the data's range.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "sigma": (1e-4, 1e3),
    "scale": (1e-4, 1e3),
    "alpha": (1e-2, 1e2),
    "sigma_min": (1e-4, 1.0),
}


@dataclass(frozen=True)
class LikelihoodInfo:
    name: str  # registry key, e.g. "gaussian-learned"
    display: str  # label for menus, e.g. "Gaussian, learned σ"
    output: str  # what the decoder outputs: "location", "logits" or "location and log-scale"
    outputs_per_pixel: int  # decoder outputs per pixel: 1, or 2 for μ and log-scale
    params: dict[str, float]  # the parameters `make` accepts, with their defaults
    slider: str | None  # the parameter a UI slider controls ("sigma" or "scale"), None if none
    has_cdf: bool  # True if bits/dim of grey data is defined (the family has a CDF)
    note: str  # one sentence for the UI


def check_positive(name: str, value) -> float:
    """float(value) if it is a positive finite number (not a bool), else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    return v


def check_param(name: str, value) -> float:
    """float(value) if it is a number within PARAM_RANGES[name], else ValueError naming both."""
    low, high = PARAM_RANGES[name]
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(
            f"{name} must be a finite number between {low:g} and {high:g}, got {value!r}"
        )
    v = float(value)
    if not (low <= v <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {v:g}")
    return v


class Likelihood(nn.Module):
    """Base class: subclasses set the class attributes and implement `base` (the elementwise
    distribution); `log_prob`, `nll`, `mean`, `sample` have generic versions they may shortcut."""

    name: ClassVar[str]
    display: ClassVar[str]
    output: ClassVar[str] = "location"
    outputs_per_pixel: ClassVar[int] = 1
    defaults: ClassVar[dict[str, float]] = {}
    slider: ClassVar[str | None] = None
    has_cdf: ClassVar[bool] = True
    note: ClassVar[str] = ""

    def __init__(self, **params):
        super().__init__()
        self._params: dict[str, float] = {}
        self.update(**{**self.defaults, **params})

    # -- parameters
    def update(self, **params) -> None:
        """Change parameters in place (validated): `update(sigma=0.05)`."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            takes = ", ".join(self.defaults) or "no parameters"
            raise ValueError(f"{self.name} takes {takes}; got {', '.join(unknown)}")
        for k, v in params.items():
            self._set(k, check_param(k, v))

    def _set(self, key: str, value: float) -> None:
        self._params[key] = value

    @property
    def params(self) -> dict[str, float]:
        """Current parameter values as plain floats (reads a learned σ once)."""
        return dict(self._params)

    def info(self) -> LikelihoodInfo:
        return info(self.name)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())

    # -- the interface
    def base(self, output: Tensor, x: Tensor | None = None) -> Distribution:
        """The elementwise distribution (batch shape (B, D))."""
        raise NotImplementedError

    def distribution(self, output: Tensor, x: Tensor | None = None) -> Distribution:
        """p(x | z) over the whole data vector: log_prob maps (B, D) to (B,).

        `x` is only read by gaussian-optimal in training mode (σ is fitted to the batch).
        """
        return Independent(self.base(output, x), 1)

    def log_prob(self, output: Tensor, x: Tensor) -> Tensor:
        """log p(x | z) per example in nats, (B, D) -> (B,). Subclasses may shortcut the object."""
        return self.distribution(output, x).log_prob(x)

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        """Mean over the batch of -log p(x | z): the training loss term (a scalar).

        Equal to -log_prob(output, x).mean(); families override it with one fused torch loss
        (mse_loss, l1_loss, BCE-with-logits), which saves a dozen small ops per training step.
        """
        return -self.log_prob(output, x).mean()

    def mean(self, output: Tensor) -> Tensor:
        """E[x | z], the reconstruction to display."""
        return self.base(output).mean

    def sample(self, output: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One draw x ~ p(x | z) per row, by inverting the CDF at a seeded uniform."""
        u = torch.rand(output.shape, generator=generator, dtype=output.dtype)
        return self.base(output).icdf(u.clamp(1e-7, 1 - 1e-7))

    def interval_log_prob(self, output: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
        """log P(lo < x_d <= hi) elementwise, for families with a CDF."""
        raise NotImplementedError(f"{self.name} has no CDF")

    def discretised_log_prob(self, output: Tensor, x: Tensor, levels: int) -> Tensor:
        """log P(x̃ | z) of the data binned to `levels` values (float64, (B,)); see bin_edges."""
        out = output.double()
        return discretised_log_prob(lambda lo, hi: self.interval_log_prob(out, lo, hi), x, levels)


# -------------------------------------------------------------------------------------------------
# Gaussian: log N(x; μ, σ²) = -(x - μ)²/(2σ²) - log σ - ½ log 2π per pixel


class _GaussianBase(Likelihood):
    output = "location"

    def sigma(self, output: Tensor, x: Tensor | None = None) -> Tensor | float:
        raise NotImplementedError

    def base(self, output, x=None):
        return Normal(output, self.sigma(output, x), validate_args=False)

    def log_prob(self, output, x):
        s = self.sigma(output, x)
        D = output.shape[-1]
        log_s = math.log(s) if isinstance(s, float) else torch.log(s)
        return -0.5 * ((x - output) ** 2).sum(-1) / s**2 - D * (log_s + HALF_LOG_2PI)

    def nll(self, output, x):
        s = self.sigma(output, x)
        B, D = output.shape
        log_s = math.log(s) if isinstance(s, float) else torch.log(s)
        return F.mse_loss(output, x, reduction="sum") / (2 * B * s**2) + D * (log_s + HALF_LOG_2PI)

    def sample(self, output, generator=None):
        s = self.sigma(output)
        return output + s * torch.randn(output.shape, generator=generator, dtype=output.dtype)

    def interval_log_prob(self, output, lo, hi):
        s = torch.as_tensor(self.sigma(output), dtype=output.dtype)
        return symmetric_interval_log_prob(output, s, torch.special.log_ndtr, lo, hi)


class Gaussian(_GaussianBase):
    name = "gaussian"
    display = "Gaussian, fixed σ"
    defaults = {"sigma": 0.1}  # noqa: RUF012
    slider = "sigma"
    note = "Fixed σ: the loss is squared error divided by 2σ², so σ sets the weight of the KL term."

    def sigma(self, output, x=None):
        return self._params["sigma"]


class GaussianLearned(_GaussianBase):
    name = "gaussian-learned"
    display = "Gaussian, learned σ"
    defaults = {"sigma": 0.1}  # noqa: RUF012 (the initial σ)
    note = "One σ shared by all pixels, trained with the model by gradient descent on log σ."

    def __init__(self, **params):
        self.log_sigma = None
        super().__init__(**params)

    def _set(self, key, value):
        if self.log_sigma is None:
            self.log_sigma = nn.Parameter(torch.tensor(math.log(value)))
        else:
            with torch.no_grad():
                self.log_sigma.fill_(math.log(value))

    @property
    def params(self):
        return {"sigma": float(self.log_sigma.detach().exp())}

    def sigma(self, output, x=None):
        return self.log_sigma.exp()


class GaussianOptimal(_GaussianBase):
    """σ² set to the batch mean squared error, the σ that maximises the batch likelihood.

    This is the calibrated decoder of Rybkin et al. 2021 ("Simple and Effective VAE Training with
    Calibrated Decoders", σ-VAE): ∂/∂σ of Σ log N(x; μ, σ²) = 0 gives σ*² = mean((x - μ)²). σ* is
    detached; at the optimum its gradient is zero anyway (envelope theorem), so the gradient for μ
    is unchanged. Like BatchNorm, training mode fits σ to the batch and keeps a running average
    (`running_var`); eval mode, and any call without x, uses the running value, so evaluation does
    not depend on how the test split is chunked.
    """

    name = "gaussian-optimal"
    display = "Gaussian, optimal σ (calibrated decoder)"
    note = "σ is set analytically to the batch RMSE at every step (σ-VAE, Rybkin et al. 2021)."
    sigma_min = 1e-3  # floor on σ, as σ-VAE's soft clip of log σ
    momentum = 0.1  # weight of the newest batch in running_var

    def __init__(self, **params):
        super().__init__(**params)
        self.register_buffer("running_var", torch.tensor(1.0))

    @property
    def params(self):
        return {"sigma": float(self.running_var.sqrt())}

    def sigma(self, output, x=None):
        if self.training and x is not None:
            var = ((x - output.detach()) ** 2).mean().clamp(min=self.sigma_min**2)
            with torch.no_grad():
                self.running_var.lerp_(var, self.momentum)
            return var.sqrt()
        return self.running_var.clamp(min=self.sigma_min**2).sqrt()


class GaussianPerPixel(Likelihood):
    """N(xᵢ; μᵢ, σᵢ²) with μᵢ and σᵢ both decoded from z: σᵢ = σ_min + exp(sᵢ).

    The decoder outputs 2·D numbers: μ (the first D) and sᵢ (the last D), the log of how far σᵢ
    sits above the floor σ_min. Without a floor the likelihood is unbounded: where a pixel's
    residual can be 0 (the constant black border of a digit), σᵢ → 0 sends log p to +∞ (Mattei &
    Frellsen 2018). The floor caps each pixel's log-density at -log(σ_min·√(2π)).
    """

    name = "gaussian-per-pixel"
    display = "Gaussian, per-pixel σ from the decoder"
    output = "location and log-scale"
    outputs_per_pixel = 2
    defaults = {"sigma_min": 0.01}  # noqa: RUF012
    note = (
        "The decoder outputs a mean and a σ for every pixel. σ stays above the floor σ_min: "
        "without it, a pixel that is always 0 drives its σ to 0 and the likelihood to infinity."
    )

    def split(self, output: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, σ), each (B, D), from the decoder's (B, 2·D) output."""
        mu, log_excess = output.chunk(2, dim=-1)
        return mu, self._params["sigma_min"] + log_excess.exp()

    def base(self, output, x=None):
        mu, sigma = self.split(output)
        return Normal(mu, sigma, validate_args=False)

    def log_prob(self, output, x):
        mu, sigma = self.split(output)
        return (-0.5 * ((x - mu) / sigma) ** 2 - sigma.log() - HALF_LOG_2PI).sum(-1)

    def mean(self, output):
        return self.split(output)[0]

    def sample(self, output, generator=None):
        mu, sigma = self.split(output)
        return mu + sigma * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)

    def interval_log_prob(self, output, lo, hi):
        mu, sigma = self.split(output)
        return symmetric_interval_log_prob(mu, sigma, torch.special.log_ndtr, lo, hi)


# -------------------------------------------------------------------------------------------------
# Bernoulli and continuous Bernoulli: the decoder outputs logits η


class BernoulliLikelihood(Likelihood):
    """log p(x | η) = x log σ(η) + (1 - x) log(1 - σ(η)) = -BCE(η, x).

    A probability mass for x in {0, 1}. On grey x the same expression is used (as every "BCE loss"
    VAE does), but it is then not a density: it integrates over [0, 1] to less than one, so its
    values are not comparable with the other families. Bits/dim is defined only for binary data.
    """

    name = "bernoulli"
    display = "Bernoulli (BCE)"
    output = "logits"
    has_cdf = False
    note = "For binary data; on grey data BCE is an improper density (it integrates to < 1)."

    def base(self, output, x=None):
        return Bernoulli(logits=output, validate_args=False)

    def log_prob(self, output, x):
        return -F.binary_cross_entropy_with_logits(output, x, reduction="none").sum(-1)

    def nll(self, output, x):
        return F.binary_cross_entropy_with_logits(output, x, reduction="sum") / output.shape[0]

    def mean(self, output):
        return torch.sigmoid(output)

    def sample(self, output, generator=None):
        u = torch.rand(output.shape, generator=generator, dtype=output.dtype)
        return (u < torch.sigmoid(output)).to(output.dtype)

    def discretised_log_prob(self, output, x, levels):
        if levels != 2:
            raise NotImplementedError("bernoulli is a distribution over {0, 1} only")
        return self.log_prob(output.double(), x.double())


class ContinuousBernoulliLikelihood(Likelihood):
    """p(x | η) = C(η)·λ^x (1 - λ)^(1-x), λ = sigmoid(η), C(η) = η/((1 - λ)(e^η - 1)).

    The Bernoulli expression renormalised on [0, 1] (Loaiza-Ganem & Cunningham 2019); its mean is
    not λ, see distributions.ContinuousBernoulli.
    """

    name = "continuous-bernoulli"
    display = "Continuous Bernoulli"
    output = "logits"
    note = "BCE plus the normaliser log C(λ) that makes it a proper density on [0, 1]."

    def base(self, output, x=None):
        return ContinuousBernoulli(logits=output, validate_args=False)

    def log_prob(self, output, x):
        return self.base(output).log_prob(x).sum(-1)

    def interval_log_prob(self, output, lo, hi):
        return self.base(output).interval_log_prob(lo, hi)


# -------------------------------------------------------------------------------------------------
# Laplace and Huber: heavier tails than the Gaussian


class LaplaceLikelihood(Likelihood):
    """log p(x | μ) = -|x - μ|/b - log(2b) per pixel: absolute error, scaled."""

    name = "laplace"
    display = "Laplace, fixed scale"
    defaults = {"scale": 0.1}  # noqa: RUF012
    slider = "scale"
    note = "Absolute error divided by the scale b, plus log 2b; its mean reconstruction is μ."

    def base(self, output, x=None):
        return Laplace(output, self._params["scale"], validate_args=False)

    def log_prob(self, output, x):
        b = self._params["scale"]
        return -(x - output).abs().sum(-1) / b - output.shape[-1] * math.log(2 * b)

    def nll(self, output, x):
        b = self._params["scale"]
        B, D = output.shape
        return F.l1_loss(output, x, reduction="sum") / (B * b) + D * math.log(2 * b)

    def interval_log_prob(self, output, lo, hi):
        b = torch.tensor(self._params["scale"], dtype=output.dtype)
        return symmetric_interval_log_prob(output, b, laplace_std_log_cdf, lo, hi)


class HuberLikelihood(Likelihood):
    """log p(x | μ) = -ρ_α((x - μ)/s) - log s - log Z(α); see distributions.Huber."""

    name = "huber"
    display = "Huber, fixed scale"
    defaults = {"scale": 0.1, "alpha": 1.0}  # noqa: RUF012 (α in units of the scale)
    slider = "scale"
    note = "Squared error within α·scale of μ, absolute error beyond; normalised exactly."

    def base(self, output, x=None):
        p = self._params
        return Huber(output, p["scale"], p["alpha"], validate_args=False)

    def interval_log_prob(self, output, lo, hi):
        p = self._params
        s = torch.tensor(p["scale"], dtype=output.dtype)
        a = torch.tensor(p["alpha"], dtype=output.dtype)
        return symmetric_interval_log_prob(output, s, lambda u: huber_std_log_cdf(u, a), lo, hi)


REGISTRY: dict[str, type[Likelihood]] = {
    c.name: c
    for c in (
        Gaussian,
        GaussianLearned,
        GaussianOptimal,
        GaussianPerPixel,
        BernoulliLikelihood,
        ContinuousBernoulliLikelihood,
        LaplaceLikelihood,
        HuberLikelihood,
    )
}


def names() -> list[str]:
    """The registered family names, in menu order."""
    return list(REGISTRY)


def _lookup(name: str) -> type[Likelihood]:
    if name not in REGISTRY:
        raise ValueError(f"unknown likelihood {name!r}; choose one of: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def make(name: str, **params) -> Likelihood:
    """A fresh likelihood, e.g. make("huber", alpha=1.0, scale=0.05); bad values: ValueError."""
    return _lookup(name)(**params)


def noise_std(name: str, params: dict[str, float]) -> float | None:
    """The standard deviation of one pixel's noise under a fixed-scale family: σ (Gaussian),
    √2·b (Laplace), b·√E[u²](α) (Huber); None for a family without a fixed scale."""
    if name == "gaussian":
        return params["sigma"]
    if name == "laplace":
        return math.sqrt(2.0) * params["scale"]
    if name == "huber":
        unit = Huber(torch.tensor(0.0, dtype=torch.float64), 1.0, params["alpha"])
        return params["scale"] * math.sqrt(float(unit.variance))
    return None


def scale_for_std(name: str, std: float, params: dict[str, float]) -> float | None:
    """The inverse of `noise_std`: the family's slider parameter giving noise std `std`."""
    unit = noise_std(name, {**params, "sigma": 1.0, "scale": 1.0})
    return None if unit is None else std / unit


def info(name: str) -> LikelihoodInfo:
    c = _lookup(name)
    return LikelihoodInfo(
        name=c.name,
        display=c.display,
        output=c.output,
        outputs_per_pixel=c.outputs_per_pixel,
        params=dict(c.defaults),
        slider=c.slider,
        has_cdf=c.has_cdf,
        note=c.note,
    )
