"""What your logged numbers mean: a training log's recon and KL → nats per image and bits/dim."""

import streamlit as st

from derivations import logged_numbers
from ui import pages
from ui.derivation_view import arrival_banner

st.title("What your logged numbers mean")
arrival_banner(pages.LOGGED.url_path)
st.markdown(
    "A training loop prints a reconstruction value and a KL value, and a paper reports "
    "bits/dim or nats per image. They are rarely the same kind of number. Type what your log "
    "shows and how your code reduced it; the converter undoes each reduction, puts back the "
    "constants the loss dropped, and gives the −ELBO per image and bits/dim."
)

st.header("Why the logged parts need not add up", anchor="add-up")
st.markdown(
    "- **β weights.** The total a β-VAE logs is recon + β·KL, not recon + KL.\n"
    "- **Different reductions.** `F.mse_loss` averages over pixels (÷D) while the KL is summed "
    "over latents: the two logged parts are per-pixel and per-image numbers, and a total that "
    "adds them adds apples to pears (which is also the Gaussian ELBO with σ² = D/2: see "
    "[What σ does my code assume?](/what-sigma)).\n"
    "- **Dropped constants.** MSE is $-\\log\\mathcal N$ without $\\tfrac D2\\log 2\\pi\\sigma^2$ "
    "and without the $1/(2\\sigma^2)$; a log-likelihood you compare must have them back.\n"
    "- **Batch reductions.** A sum over the batch grows with the batch size; a mean does not."
)

st.header("Convert a training log", anchor="converter")
c1, c2, c3, c4 = st.columns(4)
loss = c1.selectbox(
    "reconstruction loss",
    logged_numbers.LOSSES,
    format_func={
        "squared": "squared error (MSE / SSE)",
        "l1": "L1 (absolute error)",
        "bce": "BCE (binary data)",
        "gaussian-nll": "F.gaussian_nll_loss (full=False)",
    }.get,
    key="logged_loss",
)
recon = c1.number_input("logged recon value", value=0.01, format="%.6g", key="logged_recon")
kl = c1.number_input("logged KL value", value=5.0, format="%.6g", key="logged_kl")
recon_pixels = c2.radio(
    "recon over pixels", logged_numbers.REDUCTIONS, index=1, horizontal=True, key="logged_rp"
)
recon_batch = c2.radio(
    "recon over the batch", logged_numbers.REDUCTIONS, index=1, horizontal=True, key="logged_rb"
)
kl_latents = c3.radio(
    "KL over latents", logged_numbers.REDUCTIONS, index=0, horizontal=True, key="logged_kj"
)
kl_batch = c3.radio(
    "KL over the batch", logged_numbers.REDUCTIONS, index=1, horizontal=True, key="logged_kb"
)
D = int(c4.number_input("pixels D", 1, 10_000_000, 784, key="logged_D"))
J = int(c4.number_input("latent dimensions J", 1, 100_000, 20, key="logged_J"))
B = int(c4.number_input("batch size B", 1, 1_000_000, 128, key="logged_B"))
d1, d2, d3 = st.columns(3)
beta = d1.number_input("β in the logged total", 0.0, 1e9, 1.0, format="%g", key="logged_beta")
levels = int(d2.number_input("grey levels of the data", 2, 65_536, 256, key="logged_levels"))
noise = 1.0
if loss == "squared":
    noise = d3.number_input(
        "decoder σ the squared error stands for",
        min_value=1e-6,
        max_value=1e6,
        value=0.1,
        format="%g",
        key="logged_sigma",
        help="The loss does not say: pick the σ you mean (the best one for a trained model is "
        "σ² = per-pixel MSE).",
    )
elif loss == "l1":
    noise = d3.number_input(
        "Laplace scale b the L1 stands for", 1e-6, 1e6, 0.1, format="%g", key="logged_scale"
    )

try:
    result = logged_numbers.convert(
        recon,
        kl,
        loss=loss,
        D=D,
        latent_dim=J,
        batch_size=B,
        recon_pixels=recon_pixels,
        recon_batch=recon_batch,
        kl_latents=kl_latents,
        kl_batch=kl_batch,
        beta=beta,
        sigma=noise,
        scale=noise,
        levels=levels,
    )
except ValueError as error:
    st.error(f"Cannot convert these numbers: {error}")
    st.stop()

m = st.columns(5)
m[0].metric("−log p(x|z) per image (nats)", f"{result.recon_nats:,.2f}")
m[1].metric("KL per image (nats)", f"{result.kl_nats:,.3f}")
m[2].metric("−ELBO per image (nats)", f"{result.neg_elbo_nats:,.2f}")
m[3].metric("bits/dim", f"{result.bits_per_dim:.4f}")
m[4].metric("your log's total should read", f"{result.logged_total:.6g}")
st.markdown("**What changed on the way:**\n" + "\n".join(f"- {n}" for n in result.notes))
st.caption(
    "Bits/dim = (−ELBO + D·log(levels − 1)) / (D·ln 2) for a density on levels k/(levels − 1) "
    "(no bin term for BCE on binary data). It is a bound on the discrete model's bits/dim only "
    "if the model was trained on dequantised data; otherwise an approximation. See "
    "[Pixels are discrete](/bits-per-dim)."
)
