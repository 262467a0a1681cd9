"""The live lab: this browser session trains its own VAE while you change σ and the likelihood."""

import time

import streamlit as st

from figures.images import grid_png
from figures.lab_plots import kl_per_dimension, latent_scatter, loss_curves
from models.evaluate import ACTIVE_THRESHOLD
from ui import pages
from ui.derivation_view import arrival_banner
from ui.draw_view import drawing_panel, mark_drawing
from ui.lab_controls import lab_session, lower_lr_and_resume, settings_controls
from ui.lab_session import EVAL_K, comparison_rows, settings_caption, suggested_lr
from ui.mse_demo import mse_demo_panel
from ui.number_format import compact
from ui.run_controls import heartbeat, run_buttons, while_training

TICK_SECONDS = 0.3  # step counter refresh (and heartbeat: training needs the tab to be open)
PICTURES_SECONDS = 2.0  # loss curves and images (each redraw is a Plotly render in the browser)
ANALYSIS_SECONDS = 5.0  # test-set metrics, latent space, KL per dimension

st.title("Live lab")
arrival_banner(pages.LAB.url_path)
st.markdown(
    "This browser tab trains **its own** small VAE (nobody else's tab sees it). Press Train, "
    "watch the reconstructions sharpen, then drag σ or switch the likelihood while it trains. "
    "The [ELBO page](/elbo-beta) explains why σ acts as a KL weight β = 2σ²; the "
    "[Gaussian page](/gaussian-mse) why MSE is a Gaussian log-likelihood negated, rescaled and "
    "shifted by a constant."
)

session = lab_session()
settings = settings_controls(session)
changed = session.apply(settings)
st.query_params.from_dict(settings.to_query())  # the URL reopens the lab with these settings

# ---- run controls ----------------------------------------------------------------------------
buttons = st.columns([1, 1, 1, 1, 1])
run_buttons(
    session,
    buttons,
    prefix="lab",
    start_label="Resume" if session.step else "Train",
    start_key="lab_train",
    pin_label="Pin this run",
    csv_label="Metrics CSV",
    csv_data=session.metrics_csv,
    csv_file_name="likelihood-lab-metrics.csv",
)
buttons[4].download_button(
    "Weights",
    data=session.weights_bytes,
    file_name="likelihood-lab-vae.pt",
    mime="application/octet-stream",
    icon=":material/download:",
    key="lab_weights",
    on_click="ignore",
    disabled=session.trainer is None,
)

if session.message:
    st.error(f"Training paused: {session.message}", icon=":material/warning:")
    fixes = st.columns(2)
    if session.stop is not None:
        fixes[0].button(
            f"Lower the learning rate to {suggested_lr(session.settings.lr):g} and resume",
            key="lab_lower_lr",
            icon=":material/trending_down:",
            on_click=lower_lr_and_resume,
            args=(session,),
        )
    if fixes[1].button("Reset the model and try again", key="lab_reset_after_error"):
        session.reset()
        st.rerun()
if session.pending_reset:
    st.info(
        "Data set, latent size, seed or the decoder's outputs per pixel (per-pixel σ) changed: "
        "press **Reset** to build the new model."
    )
if changed and session.trainer is not None:
    st.toast("Applied mid-run: " + ", ".join(changed))


def show_grid(rows, image_shape, width: int, caption: str | None = None) -> None:
    """A grid of digits, made as a PNG of exactly the width it is shown at (see grid_png)."""
    st.image(grid_png(rows, image_shape, width=width), width=width, caption=caption)


# ---- the live views ------------------------------------------------------------------------
# Three fragments on their own timers, so each update stays short: a ticker (step counter and the
# heartbeat the background worker needs), the pictures, and the test-set analysis. Training runs
# apart, in ui/training_pool.py. Each fragment records its own server-side duration for the
# update-time readout and the benchmark.
def timed(view):
    def run() -> None:
        started = time.perf_counter()
        view()
        session.record_update(time.perf_counter() - started)

    return run


def training_ticker() -> None:
    # The background worker trains this session only while the tab beats; if training stopped
    # itself (non-finite loss), this redraws the buttons and message.
    heartbeat(session, "lab")
    if session.trainer is None:
        st.info("Press **Train** to start.")
        return
    steps_per_second = session.steps_per_second()
    rate = f" · {steps_per_second:,.0f} steps/s" if steps_per_second else ""
    state = "training" if session.running else "paused"
    st.markdown(f"**step {session.step:,}**{rate} · {state}")


def developer_readout() -> None:
    """Server-side update times of the live views, for whoever tunes the refresh timers."""
    percentiles = session.update_percentiles()
    if percentiles:
        st.caption(
            f"server-side update times over the last {len(session.update_ms)} updates: "
            f"p50 {percentiles[0]:.0f} ms, p95 {percentiles[1]:.0f} ms"
        )
    else:
        st.caption("No updates timed yet.")


def pictures() -> None:
    if session.trainer is None:
        return
    data = session.data
    history = session.history()
    y_axis = st.radio(
        "loss axis",
        ("latest", "symlog"),
        format_func={
            "latest": "zoom on the run since the last change",
            "symlog": "whole run, log scale (symmetric: losses can be negative)",
        }.get,
        horizontal=True,
        key="lab_loss_axis",
    )
    st.plotly_chart(
        loss_curves(
            history["step"],
            history["loss"],
            history["recon"],
            history["kl"],
            history["events"],
            y_axis=y_axis,
        ),
        key="lab_losses",
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Test digits**, rows: input, decoder mean, a sample from p(x|z)")
        columns = session.reconstruction_rows(8)  # per digit: input, mean, sample
        rows = [list(row) for row in zip(*columns, strict=True)]
        show_grid(rows, data.image_shape, width=420)
        st.caption(
            "The mean is what the model predicts; the sample adds the likelihood's own noise "
            "(which metric uses which: [At test time](/mean-or-sample)). Large σ: blurry means. "
            "Tiny σ: sharp means, but the model claims near-zero noise."
        )
    with right:
        st.markdown("**Samples from the prior**: decoder means at z ~ N(0, I)")
        samples = session.prior_samples(16)
        rows = [samples[i : i + 4] for i in range(0, 16, 4)]
        show_grid(rows, data.image_shape, width=260)
        st.caption(
            "If the KL weight is too small, the encoded digits' codes (the aggregate posterior "
            "E_x q(z|x)) stop filling N(0, I): z drawn from the holes between them decode to "
            "implausible digits."
        )


def analysis() -> None:
    if session.trainer is None:
        return
    data = session.data
    # While training, the background worker's latest evaluation (the caption names its step);
    # paused, the model as it is now.
    metrics, metrics_step = session.current_metrics()
    m = st.columns(5)
    m[0].metric("test ELBO (nats/image)", compact(metrics.elbo, 1))
    m[1].metric("MSE per pixel", compact(metrics.mse, 4))
    m[2].metric("KL (nats)", compact(metrics.kl, 2))
    m[3].metric(
        "active units",
        f"{metrics.active_units} / {session.trainer.config.latent_dim}",
        help=ACTIVE_RULE,
    )
    m[4].metric(
        "bits/dim (discretised)",
        compact(metrics.bits_per_dim, 3),
        help="The one number comparable across likelihoods: −log₂ P(data bin) per pixel.",
    )
    st.caption(
        f"Test-split metrics at step {metrics_step:,} on {metrics.n} test images "
        f"(importance samples K = {EVAL_K}). While it trains, the model is re-evaluated in the "
        f"background every {session.METRICS_SECONDS:g} s, so this step trails the counter above."
    )
    left, middle, right = st.columns([3, 2, 2])
    with middle:
        drawn = drawing_panel(session)
    with left:
        z, labels = session.latent_codes()
        event = st.plotly_chart(
            mark_drawing(latent_scatter(z, labels), z, drawn),
            key="lab_latent",
            on_select="rerun",
            selection_mode="points",
        )
        points = event.selection.points if event and event.selection else []
        if points:
            decoded = session.decode_test_point(int(points[0]["customdata"]))
            if decoded is not None:
                caption = "clicked digit | its decoding"
                show_grid([list(decoded)], data.image_shape, width=120, caption=caption)
        else:
            st.caption("Click a point to see that digit and its decoding.")
    with right:
        st.plotly_chart(
            kl_per_dimension(
                metrics.kl_per_dim, metrics.active_per_dim, metrics.mean_variance_per_dim
            ),
            key="lab_kl",
        )
        st.caption(
            f"Bar height: the dimension's KL. Colour: {ACTIVE_RULE} The counter above counts "
            "the blue bars. Raise σ (or β) and watch them go grey."
        )


ACTIVE_RULE = (
    "a dimension is **active** (blue) when its posterior mean μᵢ(x) varies across the test "
    f"images, Var_x μᵢ(x) > {ACTIVE_THRESHOLD} (Burda et al. 2016); an inactive (grey) one "
    "barely changes with the image: their test for a unit the model does not use."
)


def every(seconds: float) -> float | None:
    return while_training(session, seconds)


st.subheader("Live views", anchor="live")
st.fragment(timed(training_ticker), run_every=every(TICK_SECONDS))()
st.fragment(timed(pictures), run_every=every(PICTURES_SECONDS))()
st.fragment(timed(analysis), run_every=every(ANALYSIS_SECONDS))()
with st.expander("For developers: update times of the live views"):
    st.fragment(developer_readout, run_every=every(PICTURES_SECONDS))()

# ---- pinned runs ----------------------------------------------------------------------------
if session.pinned:
    st.header("Pinned runs", anchor="pinned")
    st.dataframe(comparison_rows(session.pinned), hide_index=True, width="stretch")
    columns = st.columns(min(4, len(session.pinned)))
    for index, run in enumerate(session.pinned):
        with columns[index % len(columns)]:
            show_grid(
                run.grid_rows,
                run.image_shape,
                width=150,
                caption=f"run {index + 1}: {settings_caption(run.settings)}",
            )

with st.expander("Demonstration: the F.mse_loss-mean convention on real MNIST digits"):
    mse_demo_panel("lab_demo")
