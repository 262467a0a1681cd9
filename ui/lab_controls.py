"""The lab's per-session state and its settings widgets (which return a plain LabSettings)."""

from __future__ import annotations

import os
from dataclasses import replace

import streamlit as st

from models import likelihoods
from ui.controls import SIGMA_GRID, log_slider, nearest_on_grid
from ui.lab_session import LabSession, suggested_lr
from ui.lab_settings import (
    ALPHA_RANGE,
    DATASETS,
    EMBEDDED_DATASETS,
    SIGMA_MIN_RANGE,
    SYMBOLS,
    LabSettings,
    carried_scale,
    from_query,
)

BETA_GRID = tuple(float(f"{v:.3g}") for v in (10 ** (k / 4) for k in range(-12, 13)))
LR_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)  # = LR_RANGE
ALPHA_GRID = tuple(v for v in SIGMA_GRID if ALPHA_RANGE[0] <= v <= ALPHA_RANGE[1])
SIGMA_MIN_GRID = tuple(v for v in SIGMA_GRID if SIGMA_MIN_RANGE[0] <= v <= SIGMA_MIN_RANGE[1])
DATA_FOLDER_ENV = "LIKELIHOOD_LAB_IDX_DIR"  # where MNIST / Fashion-MNIST IDX files live
DATASET_LABELS = {
    "mnist-5k": "MNIST 28×28, 5,000 digits (embedded)",
    "mnist-5k-binarised": "MNIST 28×28, 5,000 digits, binarised",
    "digits": "8×8 digits (embedded)",
    "digits-binarised": "8×8 digits, binarised",
    "mnist": "MNIST (IDX folder)",
    "fashion-mnist": "Fashion-MNIST (IDX folder)",
}


def lab_session() -> LabSession:
    """This browser session's lab, created once; the first visit reads settings from the URL."""
    if "lab" not in st.session_state:
        query = {key: st.query_params.get_all(key) for key in st.query_params}
        settings, problems = from_query(query)
        st.session_state.lab = LabSession(
            settings, data_folder=os.environ.get(DATA_FOLDER_ENV), live_metrics=True
        )
        st.session_state.lab_url_problems = problems
    for problem in st.session_state.get("lab_url_problems", []):
        # `problem` is safe Markdown: the link's text in it is an inline code span.
        st.warning(f"In the link: {problem}.", icon=":material/link_off:")
    return st.session_state.lab


def settings_controls(session: LabSession) -> LabSettings:
    """Widgets in the sidebar, seeded from the session's settings; returns what they show.

    Ordered by how often a learner reaches for them: the likelihood, its σ and the learning
    rate come first (above the fold at 1400×1000), the model and data choices last."""
    current = session.settings
    with st.sidebar:
        st.markdown("**Lab settings**")
        names = likelihoods.names()
        likelihood = st.selectbox(
            "likelihood p(x|z)",
            names,
            index=names.index(current.likelihood),
            format_func=lambda n: likelihoods.info(n).display,
            key="lab_likelihood",
        )
        info = likelihoods.info(likelihood)
        scale, note = carried_scale(current, likelihood)
        if note:  # the family changed in this run: say what the slider now holds, and why
            st.session_state.lab_scale_note = (likelihood, note)
        if info.slider:
            # One widget per family: a switch starts the new family's slider at `scale`.
            symbol = SYMBOLS[info.slider]
            scale = log_slider(
                f"{symbol} (log scale)", f"lab_scale_{likelihood}", scale, SIGMA_GRID
            )
            family, said = st.session_state.get("lab_scale_note", (None, ""))
            if family == likelihood:
                st.caption(said)
        lr = log_slider(SYMBOLS["lr"], "lab_lr", current.lr, LR_GRID)
        st.caption(info.note)
        alpha = current.alpha
        if "alpha" in info.params:
            alpha = log_slider(
                f"Huber {SYMBOLS['alpha']} (in units of b)", "lab_alpha", current.alpha, ALPHA_GRID
            )
        sigma_min = current.sigma_min
        if "sigma_min" in info.params:
            sigma_min = log_slider(
                f"floor {SYMBOLS['sigma_min']} on each pixel's σ",
                "lab_sigma_min",
                current.sigma_min,
                SIGMA_MIN_GRID,
                help="Without a floor, a pixel that is 0 in every image (the border) drives its "
                "σ to 0 and the log-likelihood to infinity. The floor applies mid-run; switching "
                "to or from this family needs Reset (its decoder outputs 2 numbers per pixel).",
            )
        beta = log_slider(
            f"KL weight {SYMBOLS['beta']} (1 = the ELBO)", "lab_beta", current.beta, BETA_GRID
        )
        st.markdown("**Model and data** (a change asks for a reset)")
        # MNIST-like sets only when the server names their folder: a visitor never picks a
        # path on the server (no file probing, no reading whatever a path points at).
        offered = DATASETS if session.data_folder else EMBEDDED_DATASETS
        if current.dataset not in offered:
            offered = (*offered, current.dataset)  # from a link; a reset will explain
        dataset = st.selectbox(
            "data set",
            offered,
            index=offered.index(current.dataset),
            format_func=DATASET_LABELS.get,
            key="lab_dataset",
            help=f"MNIST and Fashion-MNIST appear when the server sets {DATA_FOLDER_ENV} to a "
            "folder with their IDX files.",
        )
        latent_dim = st.number_input(
            "latent dimensions", 1, 32, current.latent_dim, key="lab_latent_dim"
        )
        seed = st.number_input("seed", 0, 2**31 - 1, current.seed, key="lab_seed")
    return LabSettings(
        dataset=dataset,
        likelihood=likelihood,
        scale=scale,
        alpha=alpha,
        sigma_min=sigma_min,
        latent_dim=int(latent_dim),
        beta=beta,
        lr=float(lr),
        seed=int(seed),
    )


def lower_lr_and_resume(session: LabSession) -> None:
    """The one-click fix after a divergence (a button callback, so it runs before the rerun
    draws the learning-rate slider, which then shows the new value)."""
    lr = nearest_on_grid(suggested_lr(session.settings.lr), LR_GRID)
    st.session_state.lab_lr = lr
    session.apply(replace(session.settings, lr=lr))
    session.start()
