"""A demonstration on real 28×28 digits (mnist-5k): the F.mse_loss-mean convention trained beside
the exact ELBO at a σ the user picks, so the collapse to the mean digit shows at the real size.

`F.mse_loss(x_hat, x)` averages over the D = 784 pixels while the KL is summed over latents:
that is the Gaussian ELBO with σ² = D/2 = 392 (derivations/implied_sigma.py), outside the lab's
σ slider, so the demonstration keeps its own pair of sessions (one per tab, trained by the shared
background worker like the lab's). Shown on the implied-σ page and in the lab; both pages draw
the same pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

from figures.images import grid_png
from ui.controls import log_slider
from ui.lab_session import LabSession, cached_dataset
from ui.lab_settings import LabSettings

DATASET = "mnist-5k"
PIXELS = 784
CONVENTION_SIGMA2 = PIXELS / 2  # F.mse_loss(reduction="mean") + summed KL: σ² = D/2
DEMO_STEPS = 1000  # each model; the convention reaches the mean digit within ~500 (bench/README)
SHOWN = 8  # test digits in each grid


@dataclass
class MseDemo:
    convention: LabSession  # σ² = 392
    exact: LabSession  # σ chosen by the user

    @property
    def sessions(self) -> tuple[LabSession, LabSession]:
        return self.convention, self.exact

    @property
    def running(self) -> bool:
        return any(s.running for s in self.sessions)


def _settings(sigma: float) -> LabSettings:
    return LabSettings(dataset=DATASET, likelihood="gaussian", scale=sigma)


def demo_state() -> MseDemo:
    """This tab's pair of demonstration sessions, created on first use."""
    if "mse_demo" not in st.session_state:
        st.session_state.mse_demo = MseDemo(
            convention=LabSession(_settings(math.sqrt(CONVENTION_SIGMA2)), step_budget=DEMO_STEPS),
            exact=LabSession(_settings(0.1), step_budget=DEMO_STEPS),
        )
    return st.session_state.mse_demo


def mse_demo_panel(key: str) -> None:
    """The σ picker, the button, and the two models' reconstructions side by side."""
    demo = demo_state()
    with st.columns(2)[0]:
        sigma = log_slider("σ for the exact ELBO", f"{key}_sigma", demo.exact.settings.scale)
    demo.exact.apply(_settings(sigma))  # applies mid-run, like the lab's slider
    label = (
        f"Train the F.mse_loss-mean convention on MNIST (σ² = {CONVENTION_SIGMA2:g}) beside "
        f"the exact ELBO at σ = {sigma:g}"
    )
    if st.button(label, key=f"{key}_train", icon=":material/play_arrow:", disabled=demo.running):
        for session in demo.sessions:
            session.reset()
            session.step_budget = DEMO_STEPS
            session.start()
        st.rerun()

    def view() -> None:
        for session in demo.sessions:
            session.heartbeat()  # the background worker trains them only while this view beats
        if st.session_state.get(f"{key}_drawn_running") and not demo.running:
            st.session_state[f"{key}_drawn_running"] = False
            st.rerun()  # both budgets spent: redraw the button enabled, stop the timer
        _pair(demo, sigma)

    st.session_state[f"{key}_drawn_running"] = demo.running
    st.fragment(view, run_every=1.0 if demo.running else None)()


def _pair(demo: MseDemo, sigma: float) -> None:
    shape = cached_dataset(DATASET).image_shape
    titles = (
        f"F.mse_loss mean + summed KL: σ² = {CONVENTION_SIGMA2:g} (σ ≈ "
        f"{math.sqrt(CONVENTION_SIGMA2):.1f})",
        f"exact ELBO, σ = {sigma:g}",
    )
    columns = st.columns(2)
    for column, session, title in zip(columns, demo.sessions, titles, strict=True):
        with column:
            st.markdown(f"**{title}**")
            if session.trainer is None:
                st.caption("Not trained yet.")
                continue
            metrics = session.refresh_metrics(min_interval_steps=100)
            state = "training" if session.running else "done"
            st.caption(
                f"step {session.step:,} of {DEMO_STEPS:,} · {state} · test MSE per pixel "
                f"{metrics.mse:.4f} · KL {metrics.kl:.2f} nats"
            )
            rows = session.reconstruction_rows(SHOWN)  # per digit: input, mean, sample
            inputs, means = [r[0] for r in rows], [r[1] for r in rows]
            st.image(grid_png([inputs, means], shape, scale=3), width="stretch")
    mean_digit = cached_dataset(DATASET).train.mean(0).numpy()
    left, right = st.columns([1, 6])
    left.image(grid_png([[mean_digit]], shape, scale=3), caption="mean training digit")
    right.caption(
        "Rows: test digits, then decoder means at z = μ(x). With σ² = 392 the likelihood claims "
        "pixel noise of σ ≈ 19.8, twenty times the whole [0, 1] range, so the KL term dominates: "
        "q(z|x) stays at the prior (KL near 0) and every reconstruction becomes the mean digit "
        "(compare the image on the left). The exact ELBO at a small σ keeps each digit."
    )
