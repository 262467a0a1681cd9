"""The implied σ², scale and β of a VAE loss, checked against the losses PyTorch computes."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from scipy import integrate
from torch.distributions import Bernoulli, Laplace, Normal, kl_divergence

from derivations.base import check_derivation
from derivations.implied_sigma import (
    KL_SNIPPETS,
    LOSSES,
    MATCHES,
    OVER,
    RECON_SNIPPETS,
    REDUCTIONS,
    UNDER,
    Bsym,
    Dsym,
    Jsym,
    derivation,
    from_snippets,
    implied,
)

B, D, J = 3, 6, 2  # batch, pixels, latent dimensions of the brute-force tensors
DELTA = 0.3  # Huber threshold small enough that residuals in [0, 1] hit both branches


def code_loss(x, out, mu, logvar, recon, recon_batch, kl, kl_batch, kl_weight, loss):
    """The loss exactly as code would write it with torch.nn.functional and .sum()/.mean()."""
    fn = {
        "squared": F.mse_loss,
        "l1": F.l1_loss,
        "huber": lambda a, b, reduction: F.huber_loss(a, b, reduction=reduction, delta=DELTA),
        "bce": F.binary_cross_entropy,
    }[loss]
    if recon == recon_batch:
        rec = fn(out, x, reduction=recon)
    else:
        per = fn(out, x, reduction="none")  # B × D
        rec = getattr(getattr(per, recon)(dim=1), recon_batch)(dim=0)
    kl_el = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())  # B × J
    if kl == kl_batch:
        k = getattr(kl_el, kl)()
    else:
        k = getattr(getattr(kl_el, kl)(dim=1), kl_batch)(dim=0)
    return rec + kl_weight * k


def huber_nll(x, out, s):
    r = x - out
    h = torch.where(r.abs() <= DELTA, 0.5 * r**2, DELTA * (r.abs() - 0.5 * DELTA))
    log_z = math.log(integrate.quad(lambda t: math.exp(-_huber(t) / s), -np.inf, np.inf)[0])
    return h / s + log_z


def _rho(u, a):
    return 0.5 * u * u if abs(u) <= a else a * (abs(u) - 0.5 * a)


def _huber(t):
    return 0.5 * t**2 if abs(t) <= DELTA else DELTA * (abs(t) - 0.5 * DELTA)


def neg_elbo(x, out, mu, logvar, result):
    """The family's −ELBO (β-VAE objective for BCE) at the implied parameter, via distributions."""
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum()
    if result.loss == "squared":
        nll = -Normal(out, math.sqrt(result.sigma2)).log_prob(x)
    elif result.loss == "l1":
        nll = -Laplace(out, result.scale).log_prob(x)
    elif result.loss == "huber":
        nll = huber_nll(x, out, result.scale**2)  # exp(−H_δ/b²): b² is the temperature
    else:
        nll = -Bernoulli(probs=out, validate_args=False).log_prob(x)
        return nll.sum() + result.beta * kl
    return nll.sum() + kl


def _settings(seed: int, count: int = 4):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, D, generator=g, dtype=torch.float64)
    for _ in range(count):
        out = 0.05 + 0.9 * torch.rand(B, D, generator=g, dtype=torch.float64)
        mu = torch.randn(B, J, generator=g, dtype=torch.float64)
        logvar = torch.randn(B, J, generator=g, dtype=torch.float64)
        yield x, out, mu, logvar


COMBOS = list(itertools.product(REDUCTIONS, REDUCTIONS, REDUCTIONS, REDUCTIONS, LOSSES, [1.0, 0.3]))


@pytest.mark.parametrize(("recon", "recon_batch", "kl", "kl_batch", "loss", "kl_weight"), COMBOS)
def test_code_loss_is_positive_multiple_of_neg_elbo(
    recon, recon_batch, kl, kl_batch, loss, kl_weight
):
    """loss(θ) = c·(−ELBO(θ)) + const: differences between settings share one ratio c > 0."""
    reductions = dict(recon=recon, recon_batch=recon_batch, kl=kl, kl_batch=kl_batch)
    result = implied(D, J, B, **reductions, kl_weight=kl_weight, loss=loss, huber_delta=DELTA)
    points = [
        (
            code_loss(x, out, mu, lv, **reductions, kl_weight=kl_weight, loss=loss).item(),
            neg_elbo(x, out, mu, lv, result).item(),
        )
        for x, out, mu, lv in _settings(
            seed=COMBOS.index((recon, recon_batch, kl, kl_batch, loss, kl_weight))
        )
    ]
    (l0, e0), rest = points[0], points[1:]
    ratios = [(l - l0) / (e - e0) for l, e in rest]
    assert min(ratios) > 0
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-9)
    # and c is what the algebra says: k for a likelihood with a free scale, a for BCE
    expected = result.recon_coefficient if loss == "bce" else result.kl_coefficient
    assert ratios[0] == pytest.approx(expected, rel=1e-9)


def test_wrong_beta_is_not_the_elbo():
    """The check above has teeth: the Gaussian −ELBO at another σ² is not a multiple of the loss."""
    result = implied(D, J, B, "mean", "mean", "sum", "mean")
    wrong = implied(D, J, B, "sum", "sum", "sum", "sum")  # σ² = ½ instead of D/2
    points = [
        (
            code_loss(x, out, mu, lv, "mean", "mean", "sum", "mean", 1.0, "squared").item(),
            neg_elbo(x, out, mu, lv, wrong).item(),
        )
        for x, out, mu, lv in _settings(seed=1)
    ]
    (l0, e0), rest = points[0], points[1:]
    ratios = [(l - l0) / (e - e0) for l, e in rest]
    assert max(ratios) - min(ratios) > 1e-3 * abs(max(ratios))
    assert result.sigma2 == pytest.approx(D / 2)


def test_headline_mnist_mse_mean():
    """F.mse_loss (mean) + KL summed over latents, averaged over the batch: σ² = D/2 = 392."""
    r = implied(784, 20, 128, recon="mean", recon_batch="mean", kl="sum", kl_batch="mean")
    assert r.sigma2 == 392.0  # exact: the coefficients are computed as fractions
    assert r.sigma == pytest.approx(19.8, abs=0.01)
    assert r.beta == pytest.approx(784.0)
    assert r.verdict == OVER
    assert "392" in r.explanation and "19.8" in r.explanation
    # the batch size does not matter here, nor does the latent size
    assert implied(784, 2, 7, "mean", "mean", "sum", "mean").sigma2 == pytest.approx(392.0)


def test_classic_sum_kl_with_mean_mse_is_worse_by_the_batch_size():
    r = from_snippets(
        "PyTorch F.mse_loss (default mean)",
        "PyTorch classic KL (sum over everything)",
        784,
        20,
        128,
    )
    assert r.sigma2 == pytest.approx(392.0 * 128)


def test_mean_kl_over_latents_divides_by_latent_size():
    """Keras-guide convention: MSE and KL both averaged over everything, so σ² = D/(2J)."""
    r = from_snippets(
        "Keras mse (compile loss / MeanSquaredError)",
        "Keras guide KL (tf.reduce_mean over everything)",
        784,
        32,
        64,
    )
    assert r.sigma2 == pytest.approx(784 / (2 * 32))
    assert implied(784, 8, 64, "mean", "mean", "mean", "mean").sigma2 == pytest.approx(4 * r.sigma2)


def test_consistent_conventions_give_the_elbo():
    for recon, kl in [
        (
            "PyTorch F.binary_cross_entropy, reduction='sum'",
            "PyTorch classic KL (sum over everything)",
        ),
        (
            "Keras binary_crossentropy × original_dim",
            "Keras KL summed over latents (K.sum axis=-1, then K.mean)",
        ),
    ]:
        r = from_snippets(recon, kl, 784, 20, 128)
        assert r.beta == pytest.approx(1.0)
        assert r.verdict == MATCHES
        assert r.sigma2 is None and r.scale is None


def test_every_snippet_pair_is_usable():
    for recon, kl in itertools.product(RECON_SNIPPETS, KL_SNIPPETS):
        assert set(RECON_SNIPPETS[recon].kwargs) == {"loss", "recon", "recon_batch"}
        assert set(KL_SNIPPETS[kl].kwargs) == {"kl", "kl_batch"}
        r = from_snippets(recon, kl, 784, 16, 32)
        assert r.beta > 0 and r.explanation
    with pytest.raises(ValueError, match="unknown KL snippet"):
        from_snippets("PyTorch nn.MSELoss()", "nope", 784, 16, 32)


@pytest.mark.parametrize(
    ("kl_weight", "verdict"),
    [(1.0, OVER), (0.02, MATCHES), (1e-4, UNDER)],  # σ = 0.71, 0.1, 0.007 with sums everywhere
)
def test_verdict_thresholds(kl_weight, verdict):
    r = implied(784, 20, 128, kl_weight=kl_weight)
    assert r.sigma2 == pytest.approx(kl_weight / 2)
    assert r.verdict == verdict


def test_l1_huber_and_bce_parameters():
    l1 = implied(784, 20, 128, "mean", "mean", "sum", "mean", loss="l1")
    assert l1.scale == pytest.approx(784) and l1.sigma2 is None
    assert l1.noise_std == pytest.approx(math.sqrt(2) * 784)
    huber = implied(784, 20, 128, kl_weight=0.01, loss="huber")
    assert huber.scale == pytest.approx(0.1) and huber.sigma2 == pytest.approx(0.01)  # b = √β
    assert huber.huber_alpha == pytest.approx(10.0)  # δ = 1 is ten scales: nearly Gaussian
    assert huber.noise_std == pytest.approx(0.1, rel=1e-6)
    assert huber.verdict == MATCHES
    wide = implied(784, 20, 128, kl_weight=4.0, loss="huber", huber_delta=0.5)
    assert wide.scale == pytest.approx(2.0) and wide.huber_alpha == pytest.approx(0.25)
    # the density's own std (Laplace-like tails beyond 0.25 scales), by quadrature
    z = integrate.quad(lambda t: math.exp(-_rho(t / 2.0, 0.25)), -np.inf, np.inf)[0]
    var = integrate.quad(lambda t: t * t * math.exp(-_rho(t / 2.0, 0.25)), -np.inf, np.inf)[0]
    assert wide.noise_std == pytest.approx(math.sqrt(var / z), rel=1e-6)
    bce = implied(784, 20, 128, "sum", "mean", "sum", "sum", loss="bce")
    assert bce.beta == pytest.approx(128) and bce.verdict == OVER
    assert bce.noise_std is None


def test_accepts_numpy_integers():
    r = implied(np.int64(784), np.int32(20), np.int64(128), "mean", "mean", "sum", "mean")
    assert r.sigma2 == pytest.approx(392.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"D": 0}, "D must be a positive integer, got 0"),
        ({"D": 7.5}, "D must be a positive integer, got 7.5"),
        ({"D": True}, "D must be a positive integer, got True"),
        ({"latent_dim": -1}, "latent_dim must be a positive integer"),
        ({"batch_size": "64"}, "batch_size must be a positive integer"),
        ({"recon": "avg"}, "recon must be 'sum' or 'mean', got 'avg'"),
        ({"recon_batch": None}, "recon_batch must be 'sum' or 'mean', got None"),
        ({"kl": "Sum"}, "kl must be 'sum' or 'mean'"),
        ({"kl_batch": "batchmean"}, "kl_batch must be 'sum' or 'mean'"),
        ({"kl_weight": 0.0}, "kl_weight must be positive, got 0.0"),
        ({"kl_weight": -1}, "kl_weight must be positive"),
        ({"kl_weight": float("nan")}, "kl_weight must be a positive finite number"),
        ({"kl_weight": float("inf")}, "kl_weight must be a positive finite number"),
        ({"loss": "mse"}, "loss must be one of 'squared', 'l1', 'huber', 'bce', got 'mse'"),
        ({"huber_delta": 0}, "huber_delta must be positive"),
    ],
)
def test_invalid_inputs(kwargs, message):
    args = {"D": 784, "latent_dim": 20, "batch_size": 128, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        implied(**args)
    with pytest.raises(ValueError, match=re.escape(message)):
        derivation(**args)


def test_huber_derivation_adds_back_the_true_normaliser():
    """The constant in the Huber −ELBO step is B·D·log Z with Z the integral of exp(−H_δ/s)."""
    dv = derivation(
        10, 2, 3, "sum", "sum", "sum", "sum", kl_weight=0.4, loss="huber", huber_delta=0.3
    )
    s = implied(10, 2, 3, kl_weight=0.4, loss="huber").scale ** 2  # the temperature b² = β
    z = integrate.quad(lambda t: math.exp(-_huber(t) / s), -np.inf, np.inf)[0]
    term = float(dv.step("−ELBO").term.subs({Dsym: 10, Bsym: 3}))
    assert term == pytest.approx(-30 * math.log(z), rel=1e-9)


@pytest.mark.parametrize(
    ("reductions", "loss", "kl_weight"),
    [
        (("mean", "mean", "sum", "mean"), "squared", 1.0),
        (("mean", "sum", "mean", "mean"), "squared", 0.5),
        (("sum", "sum", "sum", "sum"), "squared", 1.0),
        (("mean", "mean", "sum", "mean"), "l1", 1.0),
        (("sum", "sum", "sum", "sum"), "huber", 0.25),
        (("sum", "mean", "sum", "sum"), "bce", 1.0),
    ],
)
def test_derivation_steps_check(reductions, loss, kl_weight):
    dv = derivation(784, 20, 128, *reductions, kl_weight=kl_weight, loss=loss)
    checks = check_derivation(dv)
    assert all(c.ok for c in checks), checks
    assert dv.steps[-1].label in ("−ELBO", "sum + β·KL", "code's loss")
    # the β in the algebra is the β `implied` reports
    num = implied(784, 20, 128, *reductions, kl_weight=kl_weight, loss=loss)
    beta_steps = [s for s in dv.steps if s.relation == "scale" and s.label != "sum + β·KL"]
    for s in beta_steps:
        value = float(s.term.subs({Dsym: 784, Jsym: 20, Bsym: 128}))
        assert value == pytest.approx(num.beta)
    assert "D = 784" in dv.summary


def test_derivation_of_the_headline_bug_names_sigma_squared():
    dv = derivation(784, 20, 128, "mean", "mean", "sum", "mean")  # F.mse_loss's defaults
    assert "σ²" in dv.title and [s.label for s in dv.steps][-1] == "−ELBO"
    gaussian = dv.step("Gaussian form")
    assert gaussian.term == Dsym  # β = D
    assert r"\sigma^2 = \beta/2 = \frac{D}{2}" in gaussian.note
    elbo = dv.step("−ELBO")
    assert sp.simplify(elbo.term + Bsym * Dsym * sp.log(sp.pi * Dsym) / 2) == 0
