"""Claims the pages make in words, each checked by a small computation that could contradict it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize

from derivations.bernoulli import continuous_bernoulli_log_normaliser
from models.data import load_dataset
from models.trainer import TrainConfig, Trainer
from models.vae import VAEConfig

# --- item 1: dividing out 1/(2σ²) moves a VAE's optimum unless the KL is weighted by 2σ² --------

LAMBDA, SIGMA2 = 2.0, 0.1  # 1-D data variance and the decoder noise of the ELBO we mean


def squared_error(params) -> float:
    """E_x E_q (x − w z)² for a 1-D linear VAE: x ~ N(0, λ), q(z|x) = N(V x, v)."""
    w, V, log_v = params
    return (1 - w * V) ** 2 * LAMBDA + w**2 * math.exp(log_v)


def kl(params) -> float:
    _, V, log_v = params
    return 0.5 * (V**2 * LAMBDA + math.exp(log_v) - 1 - log_v)


def best_w(loss) -> float:
    result = optimize.minimize(
        loss,
        x0=[1.0, 0.3, -1.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20_000},
    )
    return abs(result.x[0])


def test_plain_squared_error_plus_kl_is_the_elbo_with_sigma2_one_half_not_sigma2():
    elbo_optimum = math.sqrt(LAMBDA - SIGMA2)  # pPCA: ‖w‖ = √(λ − σ²)
    weighted = best_w(lambda p: squared_error(p) + 2 * SIGMA2 * kl(p))
    plain = best_w(lambda p: squared_error(p) + kl(p))
    assert weighted == pytest.approx(elbo_optimum, rel=1e-4)
    assert plain == pytest.approx(math.sqrt(LAMBDA - 0.5), rel=1e-4)  # the ELBO with σ² = 1/2
    assert abs(plain - elbo_optimum) > 0.1


# --- item 10: Adam ignores a constant scale of the loss, SGD does not ---------------------------


def trajectory(optimiser: str, scale: float, steps: int = 60) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 5, generator=g), torch.randn(64, generator=g)
    w = torch.zeros(5, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05) if optimiser == "adam" else torch.optim.SGD([w], lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        (scale * ((X @ w - y) ** 2).sum()).backward()
        opt.step()
    return w.detach().clone()


def test_adam_is_invariant_to_a_constant_loss_scale_and_sgd_is_not():
    assert torch.allclose(trajectory("adam", 1.0), trajectory("adam", 0.02), atol=1e-5)
    assert not torch.allclose(trajectory("sgd", 1.0), trajectory("sgd", 0.02), atol=1e-2)


def test_lab_trains_gaussian_sigma_and_sse_plus_two_sigma2_kl_to_the_same_weights():
    """The ELBO page's promise: σ = 0.1 with β = 1 and σ = 1/√2 with β = 2σ² = 0.02, under Adam."""
    data = load_dataset("digits")

    def trained(sigma: float, beta: float) -> list[torch.Tensor]:
        tr = Trainer(
            VAEConfig(latent_dim=2, hidden=32),
            data,
            "gaussian",
            seed=0,
            train=TrainConfig(beta=beta),
        )
        tr.set_param(sigma=sigma)
        tr.run(max_steps=100)
        return [p.detach().clone() for p in tr.model.parameters()]

    a, b = trained(0.1, 1.0), trained(0.707107, 0.02)
    worst = max(float((pa - pb).abs().max()) for pa, pb in zip(a, b, strict=True))
    assert worst < 1e-3


# --- item 3: the whole single-sample ELBO estimate has zero variance at the true posterior ------


def test_single_sample_elbo_estimate_has_zero_variance_when_q_is_the_true_posterior():
    w, s2, x = 1.5, 0.2, 0.7  # p(z) = N(0, 1), p(x|z) = N(w z, s²)
    post_var = s2 / (w * w + s2)
    post_mean = w * x / (w * w + s2)
    z = post_mean + math.sqrt(post_var) * np.random.default_rng(0).standard_normal(10_000)

    def log_normal(v, m, var):
        return -0.5 * (np.log(2 * np.pi * var) + (v - m) ** 2 / var)

    log_pxz = log_normal(x, w * z, s2)
    whole = log_pxz + log_normal(z, 0, 1) - log_normal(z, post_mean, post_var)
    kl_closed = 0.5 * (post_mean**2 + post_var - 1 - math.log(post_var))
    closed_form_version = log_pxz - kl_closed
    assert np.var(whole) < 1e-20
    assert whole.mean() == pytest.approx(log_normal(x, 0, w * w + s2), abs=1e-12)  # = log p(x)
    assert np.var(closed_form_version) > 0.1
    assert closed_form_version.mean() == pytest.approx(whole.mean(), abs=0.05)


# --- item 12: BCE's function of a grey x integrates to 1/C(λ) ≤ ½, not to 1 -----------------------


@pytest.mark.parametrize("lam", [0.02, 0.3, 0.5, 0.7, 0.97])
def test_bernoulli_expression_on_grey_x_integrates_to_one_over_c(lam):
    mass, _ = integrate.quad(lambda v: lam**v * (1 - lam) ** (1 - v), 0, 1)
    log_c = float(continuous_bernoulli_log_normaliser(lam))
    assert mass == pytest.approx(math.exp(-log_c), rel=1e-9)
    assert mass <= 0.5 + 1e-12
