"""The race: many VAEs trained together in one batched step, ranked by a number that is fair
across likelihoods; and the σ sweep as points on the rate–distortion plane."""

import os

import streamlit as st

from figures.images import grid_png
from figures.race_plots import rate_distortion
from models import likelihoods, race
from ui.controls import SIGMA_GRID
from ui.lab_controls import BETA_GRID, DATA_FOLDER_ENV, DATASET_LABELS
from ui.race_session import (
    EVAL_EVERY,
    EVAL_K,
    STEP_CHOICES,
    RaceSession,
    RaceSettings,
    datasets,
)
from ui.run_controls import heartbeat, run_buttons, while_training

TICK_SECONDS = 0.5  # step counter and heartbeat (the background worker trains while the tab beats)
VIEWS_SECONDS = 2.0  # table, plane and pictures
MODES = {"likelihoods": "Likelihood race", "sigma-sweep": "σ sweep", "custom": "Custom"}

st.title("Race")
st.markdown(
    "Several small VAEs train **together**, in one batched step: the same data, the same seed, "
    "the same architecture, each with its own likelihood, σ or β. The likelihood race answers "
    "*which reconstruction loss should I use?* with numbers; the σ sweep shows what *σ is a KL "
    "weight* looks like on the rate–distortion plane."
)

if "race" not in st.session_state:
    st.session_state.race = RaceSession(data_folder=os.environ.get(DATA_FOLDER_ENV))
session: RaceSession = st.session_state.race


def display(name: str) -> str:
    return likelihoods.info(name).display


# ---- settings ----------------------------------------------------------------------------------
preset = st.radio("race", list(MODES), format_func=MODES.get, horizontal=True, key="race_preset")
columns = st.columns(4)
offered = datasets(session.data_folder)
dataset = columns[0].selectbox(
    "data set",
    offered,
    index=offered.index("digits"),  # 8×8: K models still train live on 2 cores
    format_func=lambda n: DATASET_LABELS.get(n, n),
    key="race_dataset",
)
steps = columns[1].selectbox("steps", STEP_CHOICES, index=1, key="race_steps")
latent_dim = columns[2].number_input("latent dimensions", 1, 16, 2, key="race_latent")
seed = columns[3].number_input("seed", 0, 2**31 - 1, 0, key="race_seed")
family, values, betas = "gaussian", race.SWEEP_VALUES, (1.0,)
value_grid = sorted(set(SIGMA_GRID) | set(race.SWEEP_VALUES))
if preset == "likelihoods":
    st.caption("Every family: " + "; ".join(display(n) for n in likelihoods.names()) + ".")
else:
    names = race.sweep_families() if preset == "sigma-sweep" else likelihoods.names()
    columns = st.columns([1, 2, 1] if preset == "custom" else [1, 3])
    family = columns[0].selectbox("family", names, format_func=display, key="race_family")
    slider = likelihoods.info(family).slider
    if slider:
        symbol = "σ" if slider == "sigma" else "scale"
        values = tuple(
            columns[1].multiselect(
                f"{symbol} values", value_grid, default=list(race.SWEEP_VALUES), key="race_values"
            )
        )
    if preset == "custom":
        betas = tuple(columns[-1].multiselect("β values", BETA_GRID, default=[1.0], key="race_b"))
settings = RaceSettings(
    preset=preset,
    dataset=dataset,
    family=family,
    values=tuple(sorted(values)),
    betas=tuple(sorted(betas)),
    latent_dim=int(latent_dim),
    steps=int(steps),
    seed=int(seed),
)
problem = None
try:
    model_count = len(settings.specs())
except ValueError as error:
    problem, model_count = str(error), 0
if problem:
    st.error(f"Cannot build this race: {problem}.")
session.apply(settings)

# ---- run controls ------------------------------------------------------------------------------
buttons = st.columns([1, 1, 1, 1, 2])
run_buttons(
    session,
    buttons,
    prefix="race",
    start_label=(
        "Start"
        if not session.step or session.pending_reset
        else ("Finished" if session.finished else "Resume")
    ),
    start_key="race_start",
    start_disabled=problem is not None or (session.finished and not session.pending_reset),
    pin_label="Pin result",
    csv_label="Table CSV",
    csv_data=session.table_csv,
    csv_file_name="likelihood-lab-race.csv",
)
if session.message:
    st.error(f"Training stopped: {session.message}", icon=":material/warning:")
if session.pending_reset:
    st.info("The settings changed: press **Reset**, then **Start**, to race with them.")


# ---- live views ----------------------------------------------------------------------------------
def ticker() -> None:
    heartbeat(session, "race")  # the race finished or stopped itself: redraw the buttons
    if session.trainer is None:
        st.info(f"Press **Start** to train {model_count} models together.")
        return
    rate = session.steps_per_second()
    speed = f" · {rate:,.0f} steps/s × {session.trainer.K} models" if rate else ""
    state = "training" if session.running else ("finished" if session.finished else "paused")
    st.markdown(f"**step {session.step:,}** of {session.trained_settings.steps:,}{speed} · {state}")


def image_row(labels: list[str], images: list, shape, first=None) -> None:
    """One small grid per model, side by side, after the inputs (or a blank, so the columns of
    reconstructions and samples line up)."""
    items = list(zip(labels, images, strict=True))
    items.insert(0, ("input", first))
    for start in range(0, len(items), 9):
        chunk = items[start : start + 9]
        for column, (label, digits) in zip(st.columns(9), chunk, strict=False):
            if digits is None:
                continue
            rows = [list(digits[i : i + 2]) for i in range(0, len(digits), 2)]
            column.image(grid_png(rows, shape, scale=4), caption=label, width="stretch")


def views() -> None:
    if session.trainer is None:
        return
    metrics = session.current_metrics()
    trained = session.trained_settings
    data = session.trainer.dataset
    # The table's rows and the step they are of, read together (the background worker may
    # store a newer evaluation at any moment).
    rows = session.table_rows()
    evaluated_at = max((row["steps"] for row in rows), default=session.metrics_step)
    st.caption(
        f"Test-split metrics at step {evaluated_at:,} "
        f"(first {min(session.eval_examples, data.test.shape[0])} test images, "
        f"K = {EVAL_K} importance samples); while racing, re-evaluated in the background every "
        f"{EVAL_EVERY:,} steps."
    )
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn(width="small"),
            "steps": st.column_config.NumberColumn(width="small"),
            "active units": st.column_config.NumberColumn("active", width="small"),
            "note": st.column_config.TextColumn(width="medium"),
            "bits/dim": st.column_config.NumberColumn(format="%.3f"),
            "ELBO (nats)": st.column_config.NumberColumn(format="%.1f"),
            "log p(x) IWAE": st.column_config.NumberColumn(format="%.1f"),
            "rate KL (nats)": st.column_config.NumberColumn(format="%.2f"),
            "distortion −E log p(x|z)": st.column_config.NumberColumn(format="%.1f"),
            "MSE": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    bce_note = ""
    if any(spec.likelihood == "bernoulli" for spec in session.trainer.specs):
        bce_note = (
            "**BCE on grey data is improper**: the Bernoulli formula is a probability for "
            "x ∈ {0, 1}; on grey pixels it integrates to less than 1 over [0, 1], so its ELBO "
            "bounds no log-likelihood and it has no bits/dim."
            if data.levels != 2
            else "On binarised data the Bernoulli is a proper distribution, and ranks too."
        )
    st.caption(
        "Ranked by **discretised bits/dim**: −log₂ of the probability a model gives the test "
        f"image's bins on the data's grid of {data.levels} values (each pixel's bin from the "
        "family's CDF, z integrated out by the IWAE estimate), divided by the number of pixels. "
        "Every family is scored on the same event, the data's "
        "bins, so this is the fair comparison. The **ELBO is not**: for the continuous families "
        "it is a log-*density*, and on data that takes a few grey levels a density can exceed 1 "
        "and grows without bound as a model piles its mass onto those levels (a Gaussian with "
        "σ → 0), so nats of ELBO reward that rather than a better fit. " + bce_note
    )
    if trained.preset != "likelihoods" and metrics:
        sweep_plane(data)
    labels = session.labels()
    st.markdown("**Reconstructions** of the same test digits (decoder means at z = μ(x))")
    image_row(labels, session.reconstructions(6), data.image_shape, session.test_digits(6))
    st.markdown("**Samples**: decoder means at the same six draws z ~ N(0, I)")
    image_row(labels, session.prior_samples(6), data.image_shape)


def sweep_plane(data) -> None:
    st.subheader("The rate–distortion plane", anchor="plane")
    axis = st.radio(
        "distortion",
        ["mse", "nll"],
        format_func={"mse": "squared error per pixel", "nll": "−E log p(x|z) (nats)"}.get,
        horizontal=True,
        key="race_axis",
    )
    points = session.sweep_points()
    gaussians = [p for p in points if p["gaussian"] and p["scale"] and len(p["rate"])]
    optimum = None
    if axis == "mse" and len(gaussians) > 1:
        optimum = race.fixed_sigma_optimum(
            [p["scale"] for p in gaussians],
            [p["mse"][-1] for p in gaussians],
            [p["rate"][-1] for p in gaussians],
        )
    event = st.plotly_chart(
        rate_distortion(points, axis, data.dim, session.selected, optimum),
        key="race_plane",
        on_select="rerun",
        selection_mode="points",
    )
    picked = event.selection.points if event and event.selection else []
    if picked and "customdata" in picked[0]:
        custom = picked[0]["customdata"]
        session.selected = int(custom[0] if isinstance(custom, list) else custom)
    if axis == "nll":
        st.caption(
            "Each point is one model after training so far (its faint line: where it has been). "
            "Dashed lines have slope −β; at β = 1 rate + distortion = −ELBO is constant along "
            "them, so a point further down-left has a higher ELBO. Each model's distortion is "
            "measured with its own σ, so points with different σ use different yardsticks: "
            "switch to squared error to compare them on one."
        )
    else:
        all_gaussian = bool(points) and all(p["gaussian"] for p in points)
        st.caption(
            (
                "Squared error E_q‖x − μ(z)‖²/D at z drawn from q(z|x), read from each "
                "Gaussian's −E log p(x|z). "
                if all_gaussian
                else "Squared error of the reconstruction at z = μ(x) (the mean per pixel). "
            )
            + "Each point is one model (its faint line: where it has been). For a Gaussian "
            "with fixed σ the loss is D·MSE/(2σ²) + β·KL + a constant, so it is constant along the "
            "dashed line of slope −2βσ²/D (straight in linear units, so curved on this log axis): "
            "small σ makes rate cheap, large σ makes it dear. "
            + (
                "Grey diamonds: each model's σ². Where they meet the models' squared error "
                "(gold star) is the fixed-σ optimum σ² = MSE: for fixed weights the ELBO's "
                "derivative in σ vanishes there."
                if optimum
                else (
                    "The fixed-σ optimum σ² = MSE is marked for a Gaussian sweep whose σ² "
                    "crosses the squared error."
                )
            )
        )
    chosen = session.selected
    if chosen is not None and chosen < session.trainer.K:
        recon = session.reconstructions(8)[chosen]
        st.image(
            grid_png([list(session.test_digits(8)), list(recon)], data.image_shape, scale=5),
            caption=f"{session.labels()[chosen]}: test digits (top) and reconstructions",
        )
    else:
        st.caption("Click a point to see that model's reconstructions.")


st.fragment(ticker, run_every=while_training(session, TICK_SECONDS))()
st.fragment(views, run_every=while_training(session, VIEWS_SECONDS))()

# ---- pinned results ----------------------------------------------------------------------------
if session.pinned:
    st.header("Pinned results", anchor="pinned")
    for index, run in enumerate(session.pinned, start=1):
        s = run.settings
        with st.expander(
            f"{index}. {MODES[s.preset]} on {s.dataset}, step {run.step:,}", expanded=True
        ):
            st.dataframe(run.rows, hide_index=True, width="stretch")
            image_row(run.labels, run.reconstructions, run.image_shape, run.inputs)
            st.download_button(
                "Table CSV",
                data=session.table_csv(run.rows),
                file_name=f"likelihood-lab-race-{index}.csv",
                mime="text/csv",
                icon=":material/download:",
                key=f"race_pin_csv_{index}",
                on_click="ignore",
            )
