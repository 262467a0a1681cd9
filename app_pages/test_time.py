"""At test time: decoder mean vs a sample of p(x|z), posterior mean vs a sample of q(z|x)."""

import streamlit as st

from figures.images import grid_png
from models.data import DataError
from models.test_time import METRIC_USES, ROWS, four_ways
from ui import pages
from ui.derivation_view import arrival_banner
from ui.lab_controls import lab_session

QUICK_STEPS = 1500  # enough for recognisable digits with the default settings
DIGITS = 8

st.title("At test time: mean or sample?")
arrival_banner(pages.TEST_TIME.url_path)
st.markdown(
    "A trained VAE offers two choices when you decode a test image $x$. **Which z:** the "
    "posterior mean $\\mu(x)$ or a sample $z \\sim q(z\\mid x)$. **Which x:** the decoder mean "
    "$\\mathbb E[x\\mid z]$ or a sample $x \\sim p(x\\mid z)$. Training uses neither picture: it "
    "evaluates the density of the *real* $x$ under $p(x\\mid z)$ at sampled $z$."
)

session = lab_session()
st.header("Side by side, on the lab's current model", anchor="side-by-side")
if session.trainer is None:
    st.info(
        "The lab in this tab has no model yet. Train one in the [Live lab](/live-lab), or "
        f"train a quick one here ({QUICK_STEPS:,} steps with the lab's current settings)."
    )
    if st.button("Train a quick model", icon=":material/play_arrow:", key="test_time_train"):
        try:
            trainer = session.ensure_trainer()
        except DataError as error:
            st.error(f"Cannot load the lab's data set: {error}")
            st.stop()
        with session.lock:
            trainer.run(max_steps=QUICK_STEPS)
        st.rerun()
else:
    with session.lock:
        trainer = session.trainer
        data = trainer.dataset
        pictures = four_ways(trainer.model, trainer.likelihood, data.test[:DIGITS], seed=0)
        settings = session.model_settings()
        step = trainer.step
    st.image(
        grid_png([list(pictures[name]) for name, _ in ROWS], data.image_shape, scale=6),
        width=DIGITS * 60,
    )
    st.markdown(
        "Rows, top to bottom: "
        + "; ".join(f"**{i + 1}.** {text}" for i, (_, text) in enumerate(ROWS))
        + "."
    )
    st.caption(
        f"The lab's model at step {step:,}: {settings.likelihood} likelihood, "
        f"{settings.dataset}, {settings.latent_dim} latents. Samples use a fixed seed; shown "
        "clipped to [0, 1]."
    )

st.header("Which one each metric uses", anchor="metrics")
st.dataframe(list(METRIC_USES), hide_index=True, width="stretch")
st.markdown(
    "So the ELBO, IWAE and bits/dim never look at a picture at all: they score the real image "
    "under the decoder's distribution, at $z$ drawn from $q(z\\mid x)$. Only the MSE scores a "
    "picture, the decoder mean at the posterior mean: the reconstruction pages show."
)

st.header("Mean or sample: which should I show?", anchor="mean-or-sample")
st.markdown(
    "- **The decoder mean** $\\mathbb E[x\\mid z]$ is the model's best guess in squared error, "
    "and what most papers display. For a Gaussian or Laplace decoder it is also the most likely "
    "image (mean = mode); for a Bernoulli it is a grey image that is not itself a possible "
    "binary image, while a sample is.\n"
    "- **A sample of $p(x\\mid z)$** adds the likelihood's own noise, independently per pixel "
    "(the decoder factorises). With a Gaussian of σ = 0.1 that is static on top of the mean, "
    "not a sharper digit: the model's pixels are independent given $z$, so its samples show "
    "exactly what it believes about noise.\n"
    "- **z = μ(x) or z ~ q(z|x)?** The posterior mean gives one deterministic reconstruction; "
    "a sampled $z$ shows the range of images the encoder finds plausible for $x$. Where $q$ is "
    "wide (a latent near collapse), the two differ visibly."
)
