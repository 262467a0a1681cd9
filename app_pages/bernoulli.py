"""Bernoulli decoder → BCE, the logits form, and the continuous Bernoulli for grey pixels."""

import streamlit as st

from derivations.bernoulli import continuous_bernoulli_log_normaliser
from figures.likelihood_plots import bernoulli_vs_continuous
from ui import pages
from ui.derivation_view import arrival_banner, show_derivation
from ui.numeric_panel import numeric_check_panel

st.title("Bernoulli decoder → binary cross-entropy")
arrival_banner(pages.BERNOULLI.url_path)
st.markdown(
    "Kingma & Welling's VAE paper uses a Gaussian decoder for real-valued data and a Bernoulli "
    "decoder for binary data. Both are choices of $p(x\\mid z)$; the loss follows from the choice."
)

st.header("Bernoulli → BCE", anchor="bce")
show_derivation("bernoulli-bce")
st.markdown(
    "**MSE or BCE?** Each is the negative log-likelihood of a different decoder distribution: "
    "MSE of a Gaussian, BCE of a Bernoulli. Their loss values are not comparable numbers (one is "
    "a density, the other a probability); compare models through a proper likelihood, e.g. "
    "bits/dim of the discretised data, which the lab reports for every family."
)

st.header("The logits form (what frameworks compute)", anchor="logits")
st.markdown(
    "`binary_cross_entropy_with_logits` never forms $p$: with $p=\\operatorname{sigmoid}(\\ell)$ "
    "the log-likelihood is $x\\ell - \\operatorname{softplus}(\\ell)$, which stays finite for "
    "logits of ±50 where $\\log(1-p)$ would be $\\log 0$."
)
show_derivation("bernoulli-logits")

st.header("Grey pixels: BCE is not a normalised likelihood", anchor="continuous-bernoulli")
st.markdown(
    "On $\\{0, 1\\}$, $\\lambda^x(1-\\lambda)^{1-x}$ is a probability mass that sums to 1. "
    "Read as a function of a grey $x \\in [0, 1]$, it integrates to $1/C(\\lambda)$, which is "
    "at most $\\tfrac12$ (at $\\lambda = \\tfrac12$) and never 1, so it is not a density. The "
    "**continuous Bernoulli** (Loaiza-Ganem & Cunningham, 2019) multiplies by that normaliser "
    "$C(\\lambda)$. Because $\\log C(\\lambda)$ depends on the decoder output "
    "$\\lambda$, it cannot be dropped: BCE on grey data optimises a different objective, and its "
    "best $\\lambda$ is not the normalised model's."
)
show_derivation("continuous-bernoulli")


@st.fragment
def grey_pixel_explorer() -> None:
    x = st.slider("a grey pixel value x", 0.0, 1.0, 0.3, 0.01, key="bernoulli_x")
    st.plotly_chart(
        bernoulli_vs_continuous(x, continuous_bernoulli_log_normaliser), key="bernoulli_curve"
    )


grey_pixel_explorer()

st.header("Numeric check against torch.distributions", anchor="numeric-check")
numeric_check_panel("bernoulli-bce")
numeric_check_panel("continuous-bernoulli")
