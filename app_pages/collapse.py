"""Posterior collapse explained with the linear VAE: theory (pPCA) against live training."""

import math

import numpy as np
import streamlit as st
import sympy as sp

from derivations import linear_vae
from figures.images import grid_png
from figures.lab_plots import eigen_spectrum, kl_theory_vs_trained
from models.evaluate import ACTIVE_THRESHOLD
from ui import pages
from ui.collapse_view import COLLAPSE_DATA, column_images, dataset_eigen
from ui.controls import log_slider
from ui.derivation_view import arrival_banner, show_derivation
from ui.lab_session import LabSession, cached_dataset
from ui.lab_settings import LabSettings
from ui.number_format import compact
from ui.run_controls import heartbeat, while_training

SIGMA2_GRID = (
    0.01,
    0.02,
    0.03,
    0.05,
    0.07,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.45,
    0.5,
    0.6,
    0.7,
    0.8,
    1.0,
    1.5,
    2.0,
)
TRAIN_STEPS = 4000  # enough for the linear VAE on digits to reach its optimum (lr 1e-2)

st.title("Posterior collapse, explained by the linear VAE")
arrival_banner(pages.COLLAPSE.url_path)
# The formulas shown are the SymPy objects derivations/linear_vae.py derives and lambdifies.
NORM_TEX = sp.latex(linear_vae.column_norm_expr())
KL_TEX = sp.latex(linear_vae.kl_per_direction_expr())
st.markdown(
    "Lucas et al. (2019), *Don't Blame the ELBO!*: for a **linear** Gaussian VAE the ELBO's "
    "optimum is probabilistic PCA. With data-covariance eigenvalues $\\lambda_i$ and decoder "
    "noise $\\sigma^2$, latent dimension $i$ is active only when $\\lambda_i > \\sigma^2$; "
    "then its decoder column's norm and its expected KL are"
)
st.latex(
    f"\\lVert w_i\\rVert = {NORM_TEX}, \\qquad "
    f"\\mathbb E_x\\,\\mathrm{{KL}}\\big(q(z_i\\mid x)\\,\\|\\,p(z_i)\\big) = {KL_TEX}."
)
st.markdown(
    "Dimensions with $\\lambda_i \\le \\sigma^2$ **collapse**: their column is zero and "
    "their posterior is the prior. So collapse is not a bug of the ELBO; it is what a too-large "
    "σ (a too-large KL weight) asks for."
)

st.header("Theory: drag σ² across the spectrum", anchor="spectrum")
left, right = st.columns([1, 3])
with left:
    data_name = st.radio(
        "data", list(COLLAPSE_DATA), format_func=COLLAPSE_DATA.get, key="collapse_data"
    )
    sigma2 = log_slider("decoder noise σ²", "collapse_sigma2", 0.3, SIGMA2_GRID)
    latent_dim = st.slider("latent dimensions J", 1, 16, 8, key="collapse_J")
eigenvalues, eigenvectors = dataset_eigen(data_name)
optimum = linear_vae.optimum(eigenvalues, sigma2, latent_dim)
with left:
    st.metric("active dimensions", f"{optimum.active} / {latent_dim}")
    st.metric("optimal log-likelihood (nats/image)", compact(optimum.loglik, 1))
    st.metric("total KL at the optimum (nats)", compact(optimum.total_kl, 2))
with right:
    st.plotly_chart(eigen_spectrum(eigenvalues[:24], sigma2, latent_dim), key="collapse_spectrum")

st.subheader("The optimal decoder columns")
columns = linear_vae.decoder_columns(eigenvectors, eigenvalues, sigma2, latent_dim)
image_shape = cached_dataset(data_name).image_shape
st.image(
    grid_png([column_images(columns)], image_shape, scale=64 // image_shape[0]),
    width=min(90 * latent_dim, 900),
)
st.markdown(
    f"Column $i$ is the $i$-th principal direction scaled by ${NORM_TEX}$; a collapsed "
    "dimension's column is exactly zero (flat grey): the decoder ignores that latent."
)

st.header("Practice: train a linear VAE with this σ²", anchor="training")
st.markdown(
    "The same σ² and J, trained by gradient descent on the ELBO (the lab's engine, with linear "
    "encoder and decoder). Its KL per dimension should land on the analytic bars."
)
if "collapse" not in st.session_state:
    st.session_state.collapse = LabSession(linear=True, step_budget=TRAIN_STEPS)
session: LabSession = st.session_state.collapse
session.apply(
    LabSettings(dataset=data_name, scale=math.sqrt(sigma2), latent_dim=latent_dim, lr=1e-2)
)
if session.pending_reset:
    session.reset()
st.session_state.collapse_drawn_running = session.running  # for heartbeat
if session.running:
    if st.button("Pause", key="collapse_pause", icon=":material/pause:"):
        session.pause()
        st.rerun()
elif st.button(
    "Train the linear VAE", key="collapse_train", icon=":material/play_arrow:", type="primary"
):
    session.step_budget = session.step + TRAIN_STEPS
    session.start()
    st.rerun()


ACTIVE_RULE = (
    f"Active units, counted the same way for both (Burda et al. 2016): Var_x μᵢ(x) > "
    f"{ACTIVE_THRESHOLD}, the variance over the data of the encoder mean. At the optimum it is "
    f"${sp.latex(linear_vae.posterior_mean_variance_expr())}$ for an active direction."
)


def training_view() -> None:
    # The background worker trains this session only while the tab beats; once the step budget
    # is spent, this redraws the button and stops the timer.
    heartbeat(session, "collapse")
    analytic_active = int(np.sum(optimum.posterior_mean_variances > ACTIVE_THRESHOLD))
    if session.trainer is None or session.step == 0:
        # Nothing has been trained yet: a freshly initialised model is not "trained".
        st.plotly_chart(kl_theory_vs_trained(optimum.kl_per_dim, None), key="collapse_kl")
        st.markdown(
            f"Analytic optimum: **{analytic_active}** active units. Press **Train the linear "
            "VAE** to compare a model trained by gradient descent."
        )
        st.caption(ACTIVE_RULE)
        return
    metrics = session.refresh_metrics(min_interval_steps=100)
    trained = np.asarray(metrics.kl_per_dim)
    label = f"after {session.metrics_step:,} steps"
    st.plotly_chart(kl_theory_vs_trained(optimum.kl_per_dim, trained, label), key="collapse_kl")
    st.markdown(
        f"Active units: analytic optimum **{analytic_active}** · {label} "
        f"**{metrics.active_units}** · {'training' if session.running else 'stopped'} "
        f"(step {session.step:,})"
    )
    st.caption(ACTIVE_RULE)


st.fragment(training_view, run_every=while_training(session, 0.5))()

st.header("Why dimensions collapse, per direction", anchor="derivation")
show_derivation("linear-vae-collapse")
