"""The KL term: closed form, and the single-sample Monte-Carlo estimate with its variance."""

import streamlit as st

from derivations.kl import kl_mc_variance, kl_value, single_sample_estimates
from figures.likelihood_plots import kl_monte_carlo
from ui import pages
from ui.derivation_view import arrival_banner, show_derivation
from ui.numeric_panel import numeric_check_panel

st.title("The KL term")
arrival_banner(pages.KL.url_path)
st.markdown(
    "The encoder outputs a mean and a standard deviation per latent dimension, "
    "$q(z\\mid x) = \\mathcal N(\\mu_z, \\operatorname{diag}\\sigma_z^2)$, and the prior is "
    "$p(z)=\\mathcal N(0, I)$. The ELBO subtracts $\\mathrm{KL}(q\\,\\|\\,p)$."
)

st.header("Closed form", anchor="closed-form")
show_derivation("kl-gaussian")

st.header("The single-sample Monte-Carlo estimate", anchor="monte-carlo")
st.markdown(
    "Some tutorials (TensorFlow's CVAE among them) never write the KL: they compute "
    "$\\log p(x\\mid z) + \\log p(z) - \\log q(z\\mid x)$ at one sampled $z$. That is an unbiased "
    "estimate of the same ELBO. Why write it that way? It needs no closed-form KL, so the same "
    "code works for priors or posteriors where none exists (a mixture prior, a flow posterior), "
    "and it is the same code as the IWAE bound, which averages K such weights inside a log.\n\n"
    "Its **KL part alone** is noisier than the closed form (the variance below). The **whole** "
    "estimate need not be: the noise of $\\log q(z\\mid x)$ can cancel that of "
    "$\\log p(x, z)$, and when $q$ is the true posterior, $\\log p(x, z) - \\log q(z\\mid x) = "
    "\\log p(x)$ for every sampled $z$: zero variance (Roeder et al., 2017). The closed-form "
    "version keeps the noise of $\\log p(x\\mid z)$ and loses that cancellation."
)
show_derivation("kl-monte-carlo")


@st.fragment
def monte_carlo_explorer() -> None:
    left, right = st.columns([1, 2])
    with left:
        mu = st.slider("encoder mean μ_z", -3.0, 3.0, 1.0, 0.1, key="kl_mu")
        sigma = st.slider("encoder std σ_z", 0.05, 3.0, 0.5, 0.05, key="kl_sigma")
        samples = single_sample_estimates(mu, sigma, n=4000, seed=0)
        closed = float(kl_value(mu, sigma))
        st.metric("closed-form KL", f"{closed:.4f} nats")
        st.metric("mean of 4,000 single-sample estimates", f"{samples.mean():.4f} nats")
        st.metric("predicted variance (σ²−1)²/2 + μ²σ²", f"{kl_mc_variance(mu, sigma):.4f}")
        st.metric("sample variance", f"{samples.var():.4f}")
    with right:
        st.plotly_chart(kl_monte_carlo(mu, sigma, samples, closed), key="kl_hist")


monte_carlo_explorer()

st.subheader("The variance of the single-sample estimate", anchor="variance")
show_derivation("kl-monte-carlo-variance")

st.header("Numeric check against torch.distributions.kl_divergence", anchor="numeric-check")
numeric_check_panel("kl-gaussian")
