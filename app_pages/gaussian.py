"""Gaussian decoder: from log N(x; μ, σ²I) to MSE, the dropped constants, σ learned or per pixel."""

import streamlit as st

from derivations import numeric
from figures.likelihood_plots import gaussian_loglik_vs_residual
from ui import pages
from ui.controls import log_slider
from ui.derivation_view import arrival_banner, show_derivation
from ui.numeric_panel import numeric_check_panel

st.title("Gaussian decoder → MSE")
arrival_banner(pages.GAUSSIAN.url_path)
st.markdown(
    "A VAE's decoder maps a latent code $z$ to $\\mu = f_\\theta(z)$, and the model says the image "
    "is $x \\sim \\mathcal N(\\mu, \\sigma^2 I)$. Here $x_i$ is pixel $i$ of the **input image** "
    "(the 'label') and $\\mu_i$ is the decoder's **output** for it (the 'prediction'); training "
    "evaluates the density of the real $x$ under that Gaussian and never samples from it."
)

st.header("From log N(x; μ, σ²I) to MSE", anchor="to-mse")
st.markdown(
    "Each line below is a SymPy expression, and each step is checked by the app: an "
    ":green-badge[identity], a :red-badge[dropped constant] (a term free of $\\mu$, so the best "
    "$\\mu$ does not move), or a :blue-badge[positive factor] divided out (same argmax)."
)
st.warning(
    "**For this term alone.** Dividing out $1/(2\\sigma^2)$ keeps the best $\\mu$ of the "
    "reconstruction term, but a VAE's loss also has a KL term that is *not* divided. So MSE is "
    "the ELBO's reconstruction term only if the KL is weighted by $2\\sigma^2$ (summed squared "
    "error) or $2\\sigma^2/D$ (mean squared error); plain MSE + KL is the Gaussian ELBO with "
    "$\\sigma^2 = D/2$. See [β = 2σ²](/elbo-beta).",
    icon=":material/balance:",
)
show_derivation("gaussian-mse")

st.header("The dropped constants, for your σ and D", anchor="dropped-constants")


DIMENSION_LABELS = {64: "64 (8×8 digits)", 784: "784 (MNIST)", 3072: "3072 (CIFAR-10)"}


@st.fragment
def constants_explorer() -> None:
    left, right = st.columns([1, 2])
    with left:
        sigma = log_slider("decoder σ", key="gaussian_sigma", default=0.1)
        dimension = st.selectbox(
            "pixels D",
            options=(64, 784, 3072),
            key="gaussian_D",
            format_func=DIMENSION_LABELS.get,
        )
        constants = numeric.dropped_constants(sigma, dimension)
        st.markdown("**What the drop step removes, in nats per image:**")
        st.dataframe(
            [{"term": name, "value (nats)": value} for name, value in constants.items()],
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "These shift log p(x|z) by the same amount for every μ, so the optimum stays put. "
            "They still matter when you *report* a log-likelihood or compare two σ values."
        )
    with right:
        st.plotly_chart(gaussian_loglik_vs_residual(sigma), key="gaussian_curve")


constants_explorer()

st.header("Sum or mean over pixels?", anchor="sum-vs-mean")
st.markdown(
    "The log-likelihood of an image **sums** over its $D$ pixels (the last step above divides "
    "by $D$ to reach the mean). On its own, dividing by $D$ does not move the optimum. Inside a "
    "VAE it does: the KL term is not divided, so a pixel-mean MSE next to a summed KL weights "
    "the KL $D$ times more, which is the Gaussian ELBO with $\\sigma^2 = D/2$ "
    "(σ ≈ 19.8 for MNIST). See [the ELBO page](/elbo-beta) for β = 2σ²."
)

st.header("The gradient: (x − μ)/σ² against the MSE gradient", anchor="gradient")
st.markdown(
    "Gradients tell the same story: the log-density's gradient in $\\mu_j$ is the *negative* "
    "MSE gradient times the positive constant $D/(2\\sigma^2)$ (ascending one is descending the "
    "other). Alone that only rescales the step, as a learning rate would under plain SGD "
    "(Adam divides a constant scale of the loss out, up to its ε, so there it changes almost "
    "nothing). But the ELBO adds a KL gradient that is *not* rescaled, so σ sets the balance "
    "between the two under any optimiser: see [β = 2σ²](/elbo-beta)."
)
show_derivation("gaussian-gradient")

st.header("Per-pixel σᵢ: what stops being constant", anchor="per-pixel-sigma")
st.markdown(
    "A common slip (see the question this page answers) is writing $-\\tfrac12\\sum_i \\sigma_i^2$ "
    "after taking the log. The determinant of $\\operatorname{diag}(\\sigma_i^2)$ is "
    "$\\prod_i \\sigma_i^2$, and its log is $\\sum_i \\log \\sigma_i^2$: the term is "
    "$-\\tfrac12\\sum_i\\log\\sigma_i^2 = -\\sum_i \\log \\sigma_i$. If the decoder also outputs "
    "$\\sigma_i$, that term depends on the parameters and must stay."
)
show_derivation("gaussian-diagonal")
st.markdown(
    "**Why a floor on σ.** For fixed $\\mu_i$ the best $\\sigma_i^2$ is the squared residual "
    "$(x_i-\\mu_i)^2$. Where the decoder can make that residual exactly 0 (the constant black "
    "border of every digit), the best $\\sigma_i$ is 0 and $-\\log\\sigma_i \\to +\\infty$: the "
    "likelihood is unbounded and maximising it is ill-posed (Mattei & Frellsen, 2018). The "
    "cure is a floor: the lab's calibrated decoder (`gaussian-optimal`) clamps its σ at "
    "$10^{-3}$, and a floor $\\sigma_{\\min}$ caps what one pixel can add to the "
    "log-likelihood at $-\\log\\sigma_{\\min} - \\tfrac12\\log 2\\pi$ nats. (One *shared* σ "
    "escapes the problem unless every residual of every image is 0.)"
)

st.header("A learned shared σ: the calibrated decoder", anchor="learned-sigma")
st.markdown(
    "If the decoder also learns one shared σ, $D\\log\\sigma$ is no longer a constant. Setting "
    "$\\partial/\\partial\\sigma = 0$ gives $\\sigma^2 = \\mathrm{MSE}$; putting that back "
    "leaves $-\\tfrac D2\\log\\mathrm{MSE}$ plus constants: the *calibrated decoder* objective "
    "(the lab's `gaussian-optimal` likelihood sets σ this way every batch)."
)
show_derivation("gaussian-learned-sigma")
st.subheader("Where the gradient in σ vanishes", anchor="sigma-stationary")
show_derivation("gaussian-sigma-stationary")
st.subheader("The profile likelihood: σ² = MSE put back", anchor="calibrated")
show_derivation("gaussian-calibrated")

st.header("Numeric check against scipy", anchor="numeric-check")
numeric_check_panel("gaussian-mse")
