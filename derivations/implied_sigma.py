"""Which likelihood does your VAE loss really assume? The implied σ² of a reduction convention.
(Over 500 lines: the calculator, its verdicts and the verified derivation it shows are one
concept; the page and the paste-your-loss reader both use all three.)

A VAE loss written in code has the shape

    L = a · Σ_n Σ_d ℓ(x̂_nd, x_nd)  +  k · Σ_n KL_n,

where ℓ is the per-pixel loss (squared error, L1, Huber or BCE), a is what the reductions did
to the reconstruction term (``mean`` over the D pixels divides by D, ``mean`` over the B examples
divides by B) and k is what they did to the KL term (``mean`` over the J latent dimensions
divides by J, ``mean`` over the batch by B) times the explicit KL weight. Dividing by a,

    L = a · [ Σ ℓ  +  β · Σ KL ],        β = k / a.

That bracket *is* a negative ELBO, up to a positive factor and an additive constant:

- squared error: −log N(x | x̂, σ²) = (x − x̂)²/(2σ²) + ½ log 2πσ², so the bracket is
  2σ² · [−ELBO] − const with **σ² = β / 2**;
- L1: −log Laplace(x | x̂, b) = |x − x̂|/b + log 2b, so **b = β** (the Laplace scale);
- Huber (PyTorch ``F.huber_loss(delta=δ)``: ½r² for |r| ≤ δ, δ(|r| − ½δ) beyond): the app's
  Huber density exp(−ρ_α(r/b))/(b·Z(α)) (`derivations.huber`) has −log p = H_δ(r)/b² + log bZ
  with δ = α·b, so **b² = β**: the scale is b = √β, the switch point α = δ/√β in units of b, its
  Gaussian core has σ = b (``sigma2 = β``) and the density's own standard deviation is
  b·√E[u²](α) (`huber.huber_std`). (``F.smooth_l1_loss(beta=δ)`` is H_δ/δ, so its β is δ·β.);
- BCE: −log Bernoulli(x | x̂) *is* the BCE, with no noise parameter to absorb β, so the code is the
  β-VAE objective with this **β**; it is the ELBO only when β = 1.

So ``beta`` is always k/a: the weight the KL gets when the reconstruction term is a plain sum of
per-pixel losses. It is the β-VAE β relative to the ELBO with σ² = ½ (squared error), b = 1 (L1),
b = 1 (Huber) or the Bernoulli ELBO (BCE).
The reconstruction term stands for the one-sample estimate of E_q[log p(x | z)]: x̂ is the decoder
output at the sampled z, and the KL is the closed form of KL(q(z | x) ‖ N(0, I)).

The headline bug: ``F.mse_loss(x_hat, x)`` averages over pixels *and* batch; with the KL summed
over latents and averaged over the batch, β = D and σ² = D/2 (392 on MNIST, σ ≈ 19.8). With the
classic ``-0.5 * torch.sum(...)`` KL, which also sums over the batch, it is worse: σ² = B·D/2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from numbers import Integral
from typing import NamedTuple

import sympy as sp

from derivations import huber
from derivations.base import D as Dsym
from derivations.base import Derivation, Step, i, j, mu, mu_z, sigma_z, x
from derivations.base import J as Jsym
from derivations.validation import check_choice, check_positive

REDUCTIONS = ("sum", "mean")
LOSSES = ("squared", "l1", "huber", "bce")
DATA_DIMENSIONS = {"digits (8×8)": 64, "MNIST (28×28)": 784, "CIFAR-10 (32×32×3)": 3072}

# A plausible per-pixel noise standard deviation (`Implied.noise_std`: σ, the Huber density's
# standard deviation, or √2·b for Laplace) for data scaled to [0, 1]: below 0.05 the model claims
# near-noiseless pixels, above 0.5 the noise spans half the data range.
SIGMA_RANGE = (0.05, 0.5)
# For BCE there is no noise level; β within a factor of 2 of 1 counts as "the ELBO".
BETA_RANGE = (0.5, 2.0)

# Every reduction *is* an ELBO (of some σ): the verdict rates how plausible that σ (or β) is.
MATCHES = "plausible noise level (for BCE: β near 1)"
OVER = "KL over-weighted: expect posterior collapse and blur"
UNDER = "KL under-weighted: expect sharp reconstructions but poor samples"


@dataclass(frozen=True)
class Implied:
    """What a reduction convention implies. ``None`` where a family has no such parameter."""

    sigma2: float | None  # Gaussian σ² = β/2 (squared); Huber core variance b² = β; else None
    sigma: float | None  # √sigma2
    scale: float | None  # Laplace b = β (l1) or Huber b = √β (huber); else None
    beta: float  # k/a: KL weight relative to a plain per-pixel sum of the loss
    loss: str  # "squared", "l1", "huber" or "bce"
    kl_coefficient: float  # k: what multiplies Σ_n KL_n in the code's loss
    recon_coefficient: float  # a: what multiplies Σ_n Σ_d ℓ_nd in the code's loss
    verdict: str  # MATCHES, OVER or UNDER
    explanation: str  # 1–3 sentences with the numbers
    huber_alpha: float | None = None  # Huber's switch point α = δ/b, in units of b; else None

    @property
    def noise_std(self) -> float | None:
        """Per-pixel noise standard deviation the likelihood assumes (None for BCE): σ for
        squared error, √2·b for L1 (the Laplace std), b·√E[u²](α) for Huber (its density's)."""
        if self.loss == "squared":
            return self.sigma
        if self.loss == "l1":
            return math.sqrt(2.0) * self.scale
        if self.loss == "huber":
            return huber.huber_std(self.scale, self.huber_alpha)
        return None


# --- the arithmetic -----------------------------------------------------------------------------


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _validate(D, latent_dim, batch_size, recon, recon_batch, kl, kl_batch, kl_weight, loss, delta):
    return (
        _check_size("D", D),
        _check_size("latent_dim", latent_dim),
        _check_size("batch_size", batch_size),
        check_choice("recon", recon, REDUCTIONS),
        check_choice("recon_batch", recon_batch, REDUCTIONS),
        check_choice("kl", kl, REDUCTIONS),
        check_choice("kl_batch", kl_batch, REDUCTIONS),
        check_positive("kl_weight", kl_weight),
        check_choice("loss", loss, LOSSES),
        check_positive("huber_delta", delta),
    )


def coefficients(D, J, B, recon, recon_batch, kl, kl_batch, kl_weight):
    """(a, k): the factors on Σ_n Σ_d ℓ_nd and on Σ_n KL_n; works on numbers and SymPy symbols."""
    a = (1 / D if recon == "mean" else 1) * (1 / B if recon_batch == "mean" else 1)
    k = kl_weight * (1 / J if kl == "mean" else 1) * (1 / B if kl_batch == "mean" else 1)
    return a, k


def _num(v: float) -> str:
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.3g}"
    if abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:.2e}"


def _verdict(loss: str, beta: float, noise_std: float | None) -> str:
    lo, hi = BETA_RANGE if loss == "bce" else SIGMA_RANGE
    value = beta if loss == "bce" else noise_std
    if value > hi:
        return OVER
    if value < lo:
        return UNDER
    return MATCHES


def _explain(loss, a, beta, sigma2, scale, noise_std, verdict) -> str:
    if loss == "squared":
        head = (
            f"Your loss is {_num(a)} × [Σ(x̂ − x)² + {_num(beta)}·ΣKL]: the Gaussian −ELBO with "
            f"σ² = β/2 = {_num(sigma2)} (σ ≈ {_num(noise_std)}), up to a positive factor and a "
            "constant."
        )
    elif loss == "l1":
        head = (
            f"Your loss is {_num(a)} × [Σ|x̂ − x| + {_num(beta)}·ΣKL]: the Laplace −ELBO with "
            f"scale b = β = {_num(scale)} (noise std √2·b ≈ {_num(noise_std)}), up to a positive "
            "factor and a constant."
        )
    elif loss == "huber":
        head = (
            f"Your loss is {_num(a)} × [ΣHuber(x̂ − x) + {_num(beta)}·ΣKL]: the Huber −ELBO "
            f"with scale b = √β = {_num(scale)} (noise std ≈ {_num(noise_std)}), up to a "
            "positive factor and a constant."
        )
    else:
        head = (
            f"Your loss is {_num(a)} × [ΣBCE + {_num(beta)}·ΣKL]: the Bernoulli ELBO with the KL "
            f"weighted by β = {_num(beta)}; the Bernoulli has no noise level to absorb β, so this "
            "is the ELBO only when β = 1."
        )
    if loss == "bce":
        tail = {
            MATCHES: "That is within a factor of 2 of the ELBO's weight.",
            OVER: "The KL counts more than the ELBO says: expect posterior collapse and blurry "
            "reconstructions.",
            UNDER: "The KL counts less than the ELBO says: expect sharp reconstructions but poor "
            "samples from the prior.",
        }[verdict]
    else:
        lo, hi = SIGMA_RANGE
        tail = {
            MATCHES: f"That is a plausible pixel noise for data in [0, 1] ({lo}–{hi}): the ELBO "
            "your code optimises has a sensible noise model.",
            OVER: f"That much noise on data in [0, 1] (plausible: {lo}–{hi}) lets the KL dominate: "
            "expect posterior collapse and blurry reconstructions.",
            UNDER: f"That little noise on data in [0, 1] (plausible: {lo}–{hi}) makes the KL "
            "almost free to ignore: expect sharp reconstructions but poor samples.",
        }[verdict]
    return f"{head} {tail}"


def implied(
    D: int,
    latent_dim: int,
    batch_size: int,
    recon: str = "sum",
    recon_batch: str = "sum",
    kl: str = "sum",
    kl_batch: str = "sum",
    kl_weight: float = 1.0,
    loss: str = "squared",
    *,
    huber_delta: float = 1.0,
) -> Implied:
    """The likelihood parameter and β implied by a VAE loss's reductions (see the module docstring).

    ``recon``/``kl`` say how the reconstruction/KL terms are reduced over pixels/latent dimensions,
    ``recon_batch``/``kl_batch`` how they are reduced over the batch ("sum" or "mean").
    ``huber_delta`` is PyTorch's ``delta``; it shapes the Huber density but not the implied scale.
    """
    D, J, B, recon, recon_batch, kl, kl_batch, w, loss, _ = _validate(
        D, latent_dim, batch_size, recon, recon_batch, kl, kl_batch, kl_weight, loss, huber_delta
    )
    # Exact fractions, so that e.g. σ² = D/2 comes out as exactly 392.0 and not 392.00000000000006.
    a, k = coefficients(*map(Fraction, (D, J, B)), recon, recon_batch, kl, kl_batch, Fraction(w))
    beta, a, k = float(k / a), float(a), float(k)
    sigma2 = {"squared": beta / 2, "huber": beta}.get(loss)
    scale = {"l1": beta, "huber": math.sqrt(beta)}.get(loss)
    sigma = math.sqrt(sigma2) if sigma2 is not None else None
    huber_alpha = huber_delta / scale if loss == "huber" else None
    noise_std = {"squared": sigma, "l1": math.sqrt(2.0) * beta}.get(loss)
    if loss == "huber":
        noise_std = huber.huber_std(scale, huber_alpha)
    verdict = _verdict(loss, beta, noise_std)
    return Implied(
        huber_alpha=huber_alpha,
        sigma2=sigma2,
        sigma=sigma,
        scale=scale,
        beta=beta,
        loss=loss,
        kl_coefficient=k,
        recon_coefficient=a,
        verdict=verdict,
        explanation=_explain(loss, a, beta, sigma2, scale, noise_std, verdict),
    )


# --- snippets people actually write -------------------------------------------------------------


class Snippet(NamedTuple):
    code: str  # what the line looks like in the wild
    kwargs: dict  # the `implied` arguments it fixes
    source: str  # where the convention comes from, and any catch


RECON_SNIPPETS: dict[str, Snippet] = {
    "PyTorch F.mse_loss (default mean)": Snippet(
        "F.mse_loss(x_hat, x)",
        {"loss": "squared", "recon": "mean", "recon_batch": "mean"},
        "reduction='mean' averages over every element: pixels and batch.",
    ),
    "PyTorch F.mse_loss, reduction='sum'": Snippet(
        "F.mse_loss(x_hat, x, reduction='sum')",
        {"loss": "squared", "recon": "sum", "recon_batch": "sum"},
        "Sums over pixels and batch, like the KL in pytorch/examples.",
    ),
    "PyTorch F.mse_loss, sum then / batch": Snippet(
        "F.mse_loss(x_hat, x, reduction='sum') / x.size(0)",
        {"loss": "squared", "recon": "sum", "recon_batch": "mean"},
        "Sum over pixels, mean over the batch.",
    ),
    "PyTorch nn.MSELoss()": Snippet(
        "nn.MSELoss()(x_hat, x)",
        {"loss": "squared", "recon": "mean", "recon_batch": "mean"},
        "Same default as F.mse_loss: mean over every element.",
    ),
    "PyTorch F.l1_loss, reduction='sum'": Snippet(
        "F.l1_loss(x_hat, x, reduction='sum')",
        {"loss": "l1", "recon": "sum", "recon_batch": "sum"},
        "Laplace likelihood; the implied quantity is the scale b.",
    ),
    "PyTorch F.huber_loss, reduction='sum'": Snippet(
        "F.huber_loss(x_hat, x, reduction='sum', delta=1.0)",
        {"loss": "huber", "recon": "sum", "recon_batch": "sum"},
        "F.smooth_l1_loss(beta=δ) is this divided by δ, which multiplies the implied scale by δ.",
    ),
    "PyTorch F.binary_cross_entropy, reduction='sum'": Snippet(
        "F.binary_cross_entropy(x_hat, x, reduction='sum')",
        {"loss": "bce", "recon": "sum", "recon_batch": "sum"},
        "pytorch/examples' VAE: sums over pixels and batch.",
    ),
    "PyTorch F.binary_cross_entropy (default mean)": Snippet(
        "F.binary_cross_entropy(x_hat, x)",
        {"loss": "bce", "recon": "mean", "recon_batch": "mean"},
        "Averages over pixels and batch.",
    ),
    "Keras mse (compile loss / MeanSquaredError)": Snippet(
        "keras.losses.mean_squared_error(x, x_hat)",
        {"loss": "squared", "recon": "mean", "recon_batch": "mean"},
        "Keras means over the last axis, then over the batch (as does MeanSquaredError()).",
    ),
    "Keras mse × original_dim": Snippet(
        "original_dim * keras.losses.mse(x, x_hat)",
        {"loss": "squared", "recon": "sum", "recon_batch": "mean"},
        "The old keras examples/variational_autoencoder.py with --mse: the ×D undoes the mean "
        "over pixels; the outer K.mean averages over the batch.",
    ),
    "Keras binary_crossentropy × original_dim": Snippet(
        "original_dim * keras.losses.binary_crossentropy(x, x_hat)",
        {"loss": "bce", "recon": "sum", "recon_batch": "mean"},
        "Keras blog / examples VAE: the ×D undoes the mean over pixels; K.mean over the batch.",
    ),
    "Keras binary_crossentropy summed over pixels (keras.io VAE)": Snippet(
        "ops.mean(ops.sum(keras.losses.binary_crossentropy(x, x_hat), axis=(1, 2)))",
        {"loss": "bce", "recon": "sum", "recon_batch": "mean"},
        "The keras.io convolutional VAE; also the TensorFlow CVAE tutorial's reduce_sum of "
        "sigmoid_cross_entropy_with_logits over pixels then reduce_mean over the batch.",
    ),
}

KL_SNIPPETS: dict[str, Snippet] = {
    "PyTorch classic KL (sum over everything)": Snippet(
        "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())",
        {"kl": "sum", "kl_batch": "sum"},
        "pytorch/examples' VAE (Kingma & Welling, Appendix B); sums over latents and batch.",
    ),
    "PyTorch KL summed over latents, mean over batch": Snippet(
        "torch.mean(-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1), dim=0)",
        {"kl": "sum", "kl_batch": "mean"},
        "Per-example KL, averaged over the batch: the .mean() convention.",
    ),
    "PyTorch KL .mean() over everything": Snippet(
        "-0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())",
        {"kl": "mean", "kl_batch": "mean"},
        "Averages over latent dimensions too, so the latent size J divides the KL.",
    ),
    "Keras KL summed over latents (K.sum axis=-1, then K.mean)": Snippet(
        "K.mean(-0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1))",
        {"kl": "sum", "kl_batch": "mean"},
        "The Keras blog / examples VAE and keras.io's VAE.",
    ),
    "Keras guide KL (tf.reduce_mean over everything)": Snippet(
        "-0.5 * tf.reduce_mean(z_log_var - tf.square(z_mean) - tf.exp(z_log_var) + 1)",
        {"kl": "mean", "kl_batch": "mean"},
        "TensorFlow guide 'Making new layers and models via subclassing'; mean over latents too.",
    ),
}


def from_snippets(
    recon_snippet: str,
    kl_snippet: str,
    D: int,
    latent_dim: int,
    batch_size: int,
    kl_weight: float = 1.0,
) -> Implied:
    """`implied` with the reductions filled in from one RECON_SNIPPETS and one KL_SNIPPETS name."""
    if recon_snippet not in RECON_SNIPPETS:
        raise ValueError(f"unknown reconstruction snippet {recon_snippet!r}")
    if kl_snippet not in KL_SNIPPETS:
        raise ValueError(f"unknown KL snippet {kl_snippet!r}")
    kwargs = {**RECON_SNIPPETS[recon_snippet].kwargs, **KL_SNIPPETS[kl_snippet].kwargs}
    return implied(D, latent_dim, batch_size, kl_weight=kl_weight, **kwargs)


# --- the same algebra in SymPy ------------------------------------------------------------------

# The shared symbols (pixel i of D, latent j of J, data x, decoder mean mu, encoder mu_z and
# sigma_z) plus a batch: example n of B. The decoder mean mu plays the code's x_hat, and the code's
# logvar is log(sigma_z**2).
n = sp.Symbol("n", integer=True, positive=True)  # example index within the batch
Bsym = sp.Symbol("B", integer=True, positive=True)  # batch size


def _over(numer: sp.Expr, denom: sp.Expr) -> sp.Expr:
    """numer/denom kept unevaluated, so 1/(2σ²) prints as 2·σ² rather than collapsing."""
    return sp.Mul(numer, sp.Pow(denom, -1, evaluate=False), evaluate=False)


def _per_pixel(loss: str, delta: sp.Expr) -> sp.Expr:
    r = mu[n, i] - x[n, i]
    if loss == "squared":
        return r**2
    if loss == "l1":
        return sp.Abs(r)
    if loss == "huber":
        # ½r² for |r| ≤ δ and δ(|r| − ½δ) beyond, written without Piecewise so it can sit in a Sum.
        return sp.Min(sp.Abs(r), delta) ** 2 / 2 + delta * sp.Max(sp.Abs(r) - delta, 0)
    return -(x[n, i] * sp.log(mu[n, i]) + (1 - x[n, i]) * sp.log(1 - mu[n, i]))


TITLES = {
    "squared": "Your loss as a Gaussian ELBO: the implied σ²",
    "l1": "Your loss as a Laplace ELBO: the implied scale b",
    "huber": "Your loss as a Huber-density ELBO: the implied scale b",
    "bce": "Your loss as a Bernoulli ELBO: the implied β",
}


def _m(expr: sp.Expr) -> str:
    """Inline LaTeX for notes and summaries (Streamlit markdown renders $…$)."""
    return f"${sp.latex(expr)}$"


def derivation(
    D: int,
    latent_dim: int,
    batch_size: int,
    recon: str = "sum",
    recon_batch: str = "sum",
    kl: str = "sum",
    kl_batch: str = "sum",
    kl_weight: float = 1.0,
    loss: str = "squared",
    *,
    huber_delta: float = 1.0,
) -> Derivation:
    """From the code's loss to a positive multiple of the −ELBO, with D, J, B kept symbolic.

    The numbers (D, latent_dim, batch_size) are validated and used in the summary; the steps keep
    the sizes as symbols so the reader sees where D, J and B enter σ². For BCE the chain stops at
    the β-VAE objective: no scale or constant turns it into the ELBO unless β = 1.
    """
    D_, J_, B_, recon, recon_batch, kl, kl_batch, w, loss, delta = _validate(
        D, latent_dim, batch_size, recon, recon_batch, kl, kl_batch, kl_weight, loss, huber_delta
    )
    w_sym = sp.nsimplify(w, rational=True)
    delta_sym = sp.nsimplify(delta, rational=True)
    ell = _per_pixel(loss, delta_sym)
    # KL(N(μ, e^logvar) ‖ N(0, 1)) per latent dimension, as the code writes it
    # (Kingma & Welling 2014, Appendix B).
    kl_elem = sp.Mul(
        -sp.Rational(1, 2),
        1 + sp.log(sigma_z[n, j] ** 2) - mu_z[n, j] ** 2 - sigma_z[n, j] ** 2,
        evaluate=False,
    )

    # The code's loss, each reduction written where the code applies it.
    r_term = sp.Sum(ell, (i, 1, Dsym))
    r_term = sp.Sum(r_term / Dsym if recon == "mean" else r_term, (n, 1, Bsym))
    r_term = r_term / Bsym if recon_batch == "mean" else r_term
    k_term = sp.Sum(kl_elem, (j, 1, Jsym))
    k_term = sp.Sum(k_term / Jsym if kl == "mean" else k_term, (n, 1, Bsym))
    k_term = k_term / Bsym if kl_batch == "mean" else k_term
    code_loss = r_term + (k_term if w_sym == 1 else sp.Mul(w_sym, k_term, evaluate=False))

    a, k = (
        sp.Integer(1) * c
        for c in coefficients(Dsym, Jsym, Bsym, recon, recon_batch, kl, kl_batch, w_sym)
    )
    beta = sp.simplify(k / a)
    sum_ell = sp.Sum(ell, (i, 1, Dsym), (n, 1, Bsym))
    sum_kl = sp.Sum(kl_elem, (j, 1, Jsym), (n, 1, Bsym))
    what = {"squared": "squared errors", "l1": "absolute errors", "huber": "Huber losses"}
    what["bce"] = "cross-entropies"

    weight_note = "" if w_sym == 1 else f", times the KL weight {_m(w_sym)}"
    steps = [
        Step(
            code_loss,
            "start",
            "The code's loss, with μ for the code's x_hat and log σ_z² for its logvar: each mean "
            "divides by the size it averages over, and the KL line is the closed-form "
            f"KL(q(z|x) ‖ N(0, I)) per latent dimension{weight_note}.",
            label="code's loss",
        ),
        Step(
            a * sum_ell + k * sum_kl,
            "equal",
            f"Pull the reductions out: {_m(a)} multiplies the summed {what[loss]}, "
            f"{_m(k)} the summed KL.",
            label="coefficients",
        ),
        Step(
            sum_ell + beta * sum_kl,
            "scale",
            f"Divide by the positive constant $a = {sp.latex(a)}$: the KL now carries "
            f"$\\beta = k/a = {sp.latex(beta)}$.",
            term=a,
            label="sum + β·KL",
        ),
    ]
    if loss == "squared":
        sigma2 = beta / 2
        fitted = _over(sum_ell, sp.Mul(2, sigma2, evaluate=False))  # Σ(x − μ)²/(2σ²)
        log_z = sp.log(2 * sp.pi * sigma2) / 2
        steps.append(
            Step(
                fitted + sum_kl,
                "scale",
                f"Write β as 2σ²: dividing by it leaves Σ(x − μ)²/(2σ²) + ΣKL with "
                f"$\\sigma^2 = \\beta/2 = {sp.latex(sigma2)}$.",
                term=beta,
                label="Gaussian form",
            )
        )
        density, param = "−log N(x | μ, σ²)", f"$\\sigma^2 = \\beta/2 = {sp.latex(sigma2)}$"
    elif loss in ("l1", "huber"):
        fitted = _over(sum_ell, beta)
        if loss == "l1":
            log_z = sp.log(2 * beta)
            density, name = "−log Laplace(x | μ, b)", "Laplace form"
            note = f"Divide by β: the summed loss is now over $b = \\beta = {sp.latex(beta)}$."
            param = f"$b = \\beta = {sp.latex(beta)}$"
        else:
            # −log p = H_δ(r)/b² + log(b·Z(α)) with b = √β and α = δ/b (derivations.huber).
            b_sym = sp.sqrt(beta)
            log_z = sp.log(b_sym * huber.huber_normaliser().subs(huber.alpha, delta_sym / b_sym))
            density = "−log of the Huber density exp(−ρ_α((x − μ)/b))/(b·Z(α))"
            name = "Huber form"
            note = (
                f"Divide by β: the summed loss is now over $b^2 = \\beta = {sp.latex(beta)}$, "
                f"so the scale is $b = {sp.latex(b_sym)}$ and the switch point "
                f"$\\alpha = \\delta/b = {sp.latex(sp.simplify(delta_sym / b_sym))}$ in units of b."
            )
            param = f"$b = \\sqrt{{\\beta}} = {sp.latex(b_sym)}$"
        steps.append(Step(fitted + sum_kl, "scale", note, term=beta, label=name))
    else:
        param = f"$\\beta = {sp.latex(beta)}$"
    if loss != "bce":
        steps.append(
            Step(
                fitted + Bsym * Dsym * log_z + sum_kl,
                "drop",
                f"Add back {_m(log_z)} for each of the B·D pixels: each pixel's term is now "
                f"{density}, so this is that likelihood's −ELBO; a constant does not move the "
                "optimum.",
                term=-Bsym * Dsym * log_z,
                label="−ELBO",
            )
        )
    # With sums everywhere (a = 1, k = 1) some rewrites change nothing; show each line once.
    steps = [s for t, s in enumerate(steps) if t == 0 or s.expr != steps[t - 1].expr]
    if loss == "bce":
        exact = "the Bernoulli −ELBO itself" if beta == 1 else "the β-VAE objective, not the ELBO"
        steps[-1] = replace(
            steps[-1],
            note=f"{steps[-1].note} Each cross-entropy is exactly −log Bernoulli(x | μ), with no "
            f"constant left over and no noise level to absorb β: this is {exact}.",
        )
    num = implied(D_, J_, B_, recon, recon_batch, kl, kl_batch, w, loss, huber_delta=delta)
    return Derivation(
        slug=f"implied-sigma-{loss}",
        title=TITLES[loss],
        parameters=(mu, mu_z, sigma_z),
        steps=tuple(steps),
        summary=f"With D = {D_}, J = {J_}, B = {B_}: {param}. {num.explanation}",
        symbols={
            "x": x,
            "mu": mu,
            "mu_z": mu_z,
            "sigma_z": sigma_z,
            "n": n,
            "i": i,
            "j": j,
            "D": Dsym,
            "J": Jsym,
            "B": Bsym,
        },
        sample_ranges={mu: (0.05, 0.95), x: (0.0, 1.0), mu_z: (-2.0, 2.0), sigma_z: (0.2, 3.0)},
    )
