"""Laplace → L1, and Huber loss → its normalised density."""

import streamlit as st

from derivations.huber import huber_log_normaliser
from figures.likelihood_plots import robust_densities
from models import likelihoods
from ui import pages
from ui.controls import log_slider
from ui.derivation_view import arrival_banner, show_derivation
from ui.lab_controls import ALPHA_GRID
from ui.numeric_panel import numeric_check_panel

HUBER_ALPHA = likelihoods.info("huber").params["alpha"]  # the one default, as in the lab

st.title("Laplace → L1, Huber → its density")
arrival_banner(pages.LAPLACE_HUBER.url_path)
st.markdown(
    "Any loss $\\ell(x-\\mu)$ with $\\int e^{-\\ell(r)/s}\\,dr < \\infty$ defines a density "
    "$p(x\\mid z) = e^{-\\ell(x-\\mu)/s}/Z$, whose negative log is $\\ell/s + \\log Z$. So the "
    "loss is $-\\log p$ up to a positive **factor** $s$ and a **constant** $s\\log Z$: "
    "$\\ell = s\\,(-\\log p) - s\\log Z$. The constant does not move the optimum; the factor "
    "does once a KL is added, because it scales the reconstruction term only: the −ELBO "
    "$\\ell/s + \\mathrm{KL} + \\log Z$, multiplied by $s$, is $\\ell + s\\,\\mathrm{KL}$ plus a "
    "constant. The factor $s$ is the KL's weight, as $2\\sigma^2$ is for the Gaussian "
    "([β = 2σ²](/elbo-beta)); plain $\\ell + \\mathrm{KL}$ is the ELBO with $s = 1$. So L1 "
    "and Huber are valid reconstruction terms once that weight is chosen; what they assume is a "
    "heavier-tailed noise model than the Gaussian's."
)

st.header("Laplace → L1", anchor="laplace")
show_derivation("laplace-l1")

st.header("Huber → exp(−ρ_α((x−μ)/b)) / (b·Z(α))", anchor="huber")
show_derivation("huber")


@st.fragment
def robust_explorer() -> None:
    left, right = st.columns(2)
    with left:
        scale = log_slider("scale b (σ for the Gaussian)", "robust_scale", 0.1)
    with right:
        alpha = log_slider(
            "Huber α, in units of b (where quadratic turns linear)",
            "robust_alpha",
            HUBER_ALPHA,
            ALPHA_GRID,
        )
    st.plotly_chart(robust_densities(scale, alpha, huber_log_normaliser), key="robust_curve")
    st.caption(
        "All three use the same scale b. The Huber density's quadratic core is exactly the "
        "Gaussian with σ = b; beyond α·b from μ its tails fall like the Laplace's. This is the "
        "parametrisation of the derivation above, of the lab's Huber likelihood and of the "
        "implied-σ calculator."
    )


robust_explorer()

st.subheader("The Huber normaliser in closed form", anchor="huber-normaliser")
st.markdown(
    "$Z(\\alpha) = \\int e^{-\\rho_\\alpha(u)}\\,du$ over the standardised residual "
    "$u = (x-\\mu)/b$ splits into a Gaussian core and two exponential tails; it is finite for "
    "every α > 0, so the Huber density is proper for every scale b > 0."
)
show_derivation("huber-normaliser")

st.header("Numeric check", anchor="numeric-check")
numeric_check_panel("laplace-l1")
numeric_check_panel("huber")
