"""The ELBO with the right sign, and fixed-σ Gaussian ELBO = β-VAE on SSE with β = 2σ²."""

import streamlit as st
import sympy as sp

from derivations.elbo import beta_expr, beta_for_sigma, sigma_for_beta
from figures.likelihood_plots import beta_vs_sigma
from ui import pages
from ui.controls import SIGMA_GRID, log_slider
from ui.derivation_view import arrival_banner, show_derivation
from ui.lab_settings import BETA_RANGE
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
    "the prior can look implausible. Not noisy (they are decoder means): the codes of the "
    "training images, the aggregate posterior $\\mathbb E_x\\, q(z\\mid x)$, no longer match "
    "$p(z)$, and a $z$ drawn from the prior's mass in the holes between them decodes to no digit "
    "in particular. (Some blur remains even with a sensible σ: a factorised decoder outputs "
    "$\\mathbb E[x\\mid z]$, an average over every image the encoder's uncertainty about $z$ "
    "cannot tell apart.)"
)


@st.fragment
def beta_explorer() -> None:
    left, right = st.columns([1, 2])
    with left:
        sigma = log_slider("decoder σ", key="elbo_sigma", default=0.1)
        st.metric("equivalent KL weight β = 2σ²", f"{beta_for_sigma(sigma):.4g}")
        st.caption(
            "The two losses, SSE + β·KL and SSE/(2σ²) + KL, differ by the constant factor 2σ² "
            "(and a constant), so they have the same minimisers. Trained with Adam, as in the "
            "lab, they also follow the same path to the same weights: Adam divides a constant "
            "scale of the loss out (up to its ε). Under plain SGD the steps differ by 2σ² and so "
            "do the trajectories. Try both below."
        )
    with right:
        st.plotly_chart(
            beta_vs_sigma(sigma, beta_for_sigma, float(sigma_for_beta(1.0))), key="beta_curve"
        )
        st.caption(f"The curve is the derivation's own β(σ) = ${sp.latex(beta_expr())}$.")


beta_explorer()

st.subheader("The same weights two ways, in the lab", anchor="same-weights")
SSE_SIGMA = 0.707107  # 1/√2: the lab's Gaussian term SSE/(2σ²) is then the plain SSE (to 1e-7)
PAIR_GRID = tuple(s for s in SIGMA_GRID if BETA_RANGE[0] <= 2 * s * s <= BETA_RANGE[1])


@st.fragment
def same_weights_links() -> None:
    sigma = log_slider("decoder σ", key="elbo_pair_sigma", default=0.1, grid=PAIR_GRID)
    beta = float(f"{float(beta_for_sigma(sigma)):.6g}")
    st.page_link(
        pages.LAB.path,
        label=f"Lab run A: Gaussian decoder, σ = {sigma:g}, β = 1 (the ELBO)",
        icon=":material/science:",
        query_params={"likelihood": "gaussian", "scale": f"{sigma:g}", "beta": "1"},
    )
    st.page_link(
        pages.LAB.path,
        label=f"Lab run B: SSE + β·KL, i.e. σ = 1/√2 ≈ {SSE_SIGMA}, β = 2σ² = {beta:g}",
        icon=":material/science:",
        query_params={"likelihood": "gaussian", "scale": f"{SSE_SIGMA}", "beta": f"{beta:g}"},
    )
    st.caption(
        "Same seed, same batches: with the lab's Adam both runs reach the same weights (pin "
        "them and compare the ELBO column, which always uses the run's own σ, so it differs; "
        "the MSE and KL agree). A lab already open in this tab keeps its settings: set them in "
        "its sidebar instead."
    )


same_weights_links()

st.header("Numeric check against torch.distributions", anchor="numeric-check")
numeric_check_panel("elbo")
