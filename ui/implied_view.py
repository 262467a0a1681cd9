"""Glue between the implied-σ calculator and the rest of the app (cached steps, lab link)."""

from __future__ import annotations

import math

import streamlit as st

from derivations import implied_sigma
from ui.lab_settings import BETA_RANGE, LabSettings, clamp_sigma
from ui.latex import StepView, derivation_views

_FAMILY = {"squared": "gaussian", "l1": "laplace", "huber": "huber", "bce": "bernoulli"}


# Sizes for building the steps: the steps keep D, J and B as symbols, so the numbers only fill
# the summary (not shown; the page states its own numbers), and the cache key can leave them out.
_SIZES = {"D": 784, "latent_dim": 20, "batch_size": 128}


@st.cache_data(show_spinner="Deriving and checking the steps…", max_entries=128)
def implied_steps(reductions: tuple[tuple[str, object], ...]) -> list[StepView]:
    """Verified steps for one loss, reduction and weight choice, whatever D, J and B are."""
    return derivation_views(implied_sigma.derivation(**_SIZES, **dict(reductions)))


def lab_query(result: implied_sigma.Implied) -> tuple[dict[str, str], bool]:
    """The lab's query string that trains with the likelihood this code implies, and whether
    σ (or β) had to be clamped into the lab's range."""
    family = _FAMILY[result.loss]
    if family == "bernoulli":
        beta = min(max(result.beta, BETA_RANGE[0]), BETA_RANGE[1])
        settings = LabSettings(dataset="digits-binarised", likelihood=family, beta=beta)
        return settings.to_query(), beta != result.beta
    if family == "huber":
        # derivations: exp(−H_δ(r)/s), δ = 1; the lab's Huber: exp(−ρ_α(r/b)) with α in units
        # of b. They match for b = √s and α = δ/√s.
        parameter, alpha = math.sqrt(result.scale), 1.0 / math.sqrt(result.scale)
    else:
        parameter, alpha = (result.sigma if family == "gaussian" else result.scale), 1.0
    settings = LabSettings(
        likelihood=family, sigma=clamp_sigma(parameter), alpha=clamp_sigma(alpha)
    )
    return settings.to_query(), (settings.sigma, settings.alpha) != (parameter, alpha)
