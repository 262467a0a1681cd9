"""Glue between the implied-σ calculator and the rest of the app (cached steps, lab link)."""

from __future__ import annotations

import streamlit as st

from derivations import implied_sigma
from ui.lab_settings import ALPHA_RANGE, BETA_RANGE, LabSettings, clamp_scale
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
    # One Huber parametrisation (derivations.huber): the calculator's b and α are the lab's.
    parameter = result.sigma if family == "gaussian" else result.scale
    alpha = result.huber_alpha if family == "huber" else LabSettings().alpha
    settings = LabSettings(
        likelihood=family,
        scale=clamp_scale(parameter),
        alpha=min(max(alpha, ALPHA_RANGE[0]), ALPHA_RANGE[1]),
    )
    return settings.to_query(), (settings.scale, settings.alpha) != (parameter, alpha)
