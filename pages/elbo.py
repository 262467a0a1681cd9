"""The ELBO with the right sign, and fixed-σ Gaussian ELBO = β-VAE on SSE with β = 2σ²."""

import streamlit as st
import sympy as sp

from derivations.elbo import beta_expr, beta_for_sigma, sigma_for_beta
from figures.likelihood_plots import beta_vs_sigma
from ui import pages
from ui.controls import log_slider
from ui.derivation_view import arrival_banner, show_derivation
from ui.numeric_panel import numeric_check_panel

st.title("The ELBO, and why σ is a KL weight")
arrival_banner(pages.ELBO.url_path)

st.header("The sign of the KL term", anchor="sign")
st.markdown(
    "$$\\mathrm{ELBO}(x) = \\mathbb E_{q(z\\mid x)}[\\log p(x\\mid z)] "
    "\\;-\\; \\mathrm{KL}\\big(q(z\\mid x)\\,\\|\\,p(z)\\big) \\;\\le\\; \\log p(x).$$\n\n"
    "The KL is **subtracted** (a question we answer writes it with a plus). The loss a framework "
    "minimises is $-\\mathrm{ELBO}$ = reconstruction loss **+** KL, which is where the plus sign "
    "people remember comes from."
)

st.header("The reconstruction term in code", anchor="reconstruction-term")
st.markdown(
    "$\\mathbb E_{q}[\\log p(x\\mid z)]$ is estimated with one sample: encode $x$ to "
    "$(\\mu_z, \\sigma_z)$, draw $z = \\mu_z + \\sigma_z\\odot\\varepsilon$ (the "
    "reparameterisation, so gradients flow), decode $z$ to $\\mu$, and evaluate "
    "$\\log\\mathcal N(x;\\mu,\\sigma^2 I)$, which the Gaussian page expands into "
    "$-\\lVert x-\\mu\\rVert^2/(2\\sigma^2)$ plus constants. So the 'MSE' in code is a "
    "one-sample estimate of the expected log-likelihood, up to those constants and the "
    "$1/(2\\sigma^2)$ factor."
)

st.header("Fixed-σ Gaussian ELBO = β-VAE with β = 2σ²", anchor="beta")
show_derivation("elbo")
st.markdown(
    "So **σ is not a learning rate**: the factor $1/(2\\sigma^2)$ multiplies the reconstruction "
    "term only, which sets its weight *relative to the KL*. Large σ (or a pixel-mean MSE, "
    "σ² = D/2) means a heavy KL weight: "
    "the encoder is pushed to the prior, latent dimensions collapse, and reconstructions blur to "
    "the average image. Small σ means a light KL weight: sharp reconstructions, but samples from "
    "the prior look noisy because $q(z\\mid x)$ drifts from $p(z)$."
)


@st.fragment
def beta_explorer() -> None:
    left, right = st.columns([1, 2])
    with left:
        sigma = log_slider("decoder σ", key="elbo_sigma", default=0.1)
        st.metric("equivalent KL weight β = 2σ²", f"{beta_for_sigma(sigma):.4g}")
        st.caption(
            "Train this in the lab: β-VAE on summed squared error with this β and a Gaussian "
            "decoder with this σ reach the same weights."
        )
    with right:
        st.plotly_chart(
            beta_vs_sigma(sigma, beta_for_sigma, float(sigma_for_beta(1.0))), key="beta_curve"
        )
        st.caption(f"The curve is the derivation's own β(σ) = ${sp.latex(beta_expr())}$.")


beta_explorer()

st.header("Numeric check against torch.distributions", anchor="numeric-check")
numeric_check_panel("elbo")
