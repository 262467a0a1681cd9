"""Issue 15's new sections: the ELBO gap, discrete pixels, logged numbers, test-time decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import integrate, stats

import derivations
from derivations import discrete, elbo_gap, logged_numbers
from derivations.base import check_derivation
from models.bound_gap import bound_curve, exact_log_likelihood, train_linear_vae
from models.data import load_dataset
from models.evaluate import evaluate
from models.test_time import METRIC_USES, ROWS, four_ways
from models.trainer import Trainer
from models.vae import VAEConfig


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# --- the gap under the bound --------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["elbo-gap", "dequantisation"])
def test_new_derivations_are_registered_and_every_step_passes_the_checker(slug):
    derivation = derivations.get(slug)
    checks = check_derivation(derivation)
    assert checks and all(c.ok for c in checks), checks


def test_elbo_gap_closed_forms_against_quadrature():
    values = {elbo_gap.x1: 0.8, elbo_gap.w: 1.3, elbo_gap.s: 0.6, elbo_gap.m: 0.2, elbo_gap.v: 0.7}
    x, w, s, m, v = (
        values[k] for k in (elbo_gap.x1, elbo_gap.w, elbo_gap.s, elbo_gap.m, elbo_gap.v)
    )
    q = stats.norm(m, v)
    log_joint = lambda z: stats.norm.logpdf(x, w * z, s) + stats.norm.logpdf(z)  # noqa: E731
    elbo, _ = integrate.quad(lambda z: q.pdf(z) * (log_joint(z) - q.logpdf(z)), -12, 12)
    post = stats.norm(w * x / (w * w + s * s), s / math.sqrt(w * w + s * s))
    gap, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - post.logpdf(z)), -12, 12)
    assert float(elbo_gap.elbo_closed_form().subs(values)) == pytest.approx(elbo, rel=1e-9)
    assert float(elbo_gap.gap_closed_form().subs(values)) == pytest.approx(gap, rel=1e-9)
    log_px = stats.norm.logpdf(x, 0, math.sqrt(w * w + s * s))
    assert elbo + gap == pytest.approx(log_px, rel=1e-9)


def test_gap_vanishes_when_q_is_the_true_posterior_and_only_then():
    at_posterior = {
        elbo_gap.m: elbo_gap.POSTERIOR_MEAN,
        elbo_gap.v: sp.sqrt(elbo_gap.POSTERIOR_VARIANCE),
    }
    assert sp.simplify(elbo_gap.gap_closed_form().subs(at_posterior)) == 0
    elsewhere = {elbo_gap.x1: 0.8, elbo_gap.w: 1.3, elbo_gap.s: 0.6, elbo_gap.m: 0.0, elbo_gap.v: 1}
    assert float(elbo_gap.gap_closed_form().subs(elsewhere)) > 0.01


def test_exact_log_likelihood_of_the_linear_vae_matches_scipy(digits):
    trainer = train_linear_vae(digits, sigma=0.3, latent_dim=3, steps=50)
    model = trainer.model
    x = digits.test[:20]
    W = model.W.detach().double().numpy()
    cov = W @ W.T + 0.09 * np.eye(64)
    reference = stats.multivariate_normal(model.b.detach().double().numpy(), cov).logpdf(
        x.double().numpy()
    )
    np.testing.assert_allclose(exact_log_likelihood(model, 0.3, x), reference, rtol=1e-10)


def test_exact_log_likelihood_refuses_a_non_linear_vae(digits):
    trainer = Trainer(VAEConfig(latent_dim=2, hidden=16), digits, "gaussian")
    with pytest.raises(ValueError, match="linear VAE"):
        exact_log_likelihood(trainer.model, 0.1, digits.test[:2])


@pytest.mark.parametrize("steps", [0, 100])
def test_bounds_sit_below_the_exact_log_likelihood_and_iwae_climbs_with_k(digits, steps):
    trainer = train_linear_vae(digits, sigma=0.3, latent_dim=4, steps=steps)
    curve = bound_curve(trainer, digits.test[:360])
    assert curve.elbo < curve.iwae[-1] <= curve.exact + 1e-3
    assert curve.iwae[0] < curve.iwae[7] < curve.iwae[63]
    assert curve.exact - curve.elbo > 0.05  # a visible gap before convergence
    # The same IWAE estimator as the engine's evaluation (different draws, same expectation).
    engine = evaluate(trainer, digits, k=8, max_examples=360)
    assert engine.log_px_iwae == pytest.approx(curve.iwae[7], abs=0.05 * abs(curve.exact) + 0.05)


# --- pixels are discrete ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "mu", "sigma", "levels"),
    [(0.5, 0.52, 0.05, 17), (0.0, 0.1, 0.2, 17), (1.0, 0.7, 0.01, 256), (0.25, 0.3, 0.3, 5)],
)
def test_dequantised_log_density_lower_bounds_the_discrete_log_likelihood(x, mu, sigma, levels):
    n = discrete.pixel_numbers(x, mu, sigma, levels, samples=200_000)
    w = n["width"]
    exact_dequantised, _ = integrate.quad(
        lambda u: -stats.norm.logpdf(n["x"] + w * u, mu, sigma), -0.5, 0.5
    )
    assert n["nll_dequantised"] == pytest.approx(exact_dequantised - math.log(w), rel=2e-2)
    assert exact_dequantised - math.log(w) >= n["nll_bin_closed"] - 1e-12  # Jensen
    assert n["nll_bin_closed"] >= n["nll_bin_engine"] - 1e-12  # open outer bins only add mass
    assert n["nll_bin_engine"] >= 0  # a probability's −log


def test_engine_bins_match_pixel_numbers():
    """The page's 'engine's bins' number is models.distributions' discretised log-probability."""
    from models.distributions import discretised_log_prob, symmetric_interval_log_prob

    mu, sigma, levels = torch.tensor([[0.1, 0.55]], dtype=torch.float64), 0.07, 17
    x = torch.tensor([[0.0, 0.5]], dtype=torch.float64)
    s = torch.tensor(sigma, dtype=torch.float64)
    log_p = discretised_log_prob(
        lambda lo, hi: symmetric_interval_log_prob(mu, s, torch.special.log_ndtr, lo, hi), x, levels
    )
    ours = sum(
        discrete.pixel_numbers(float(xi), float(mi), sigma, levels)["nll_bin_engine"]
        for xi, mi in zip(x[0], mu[0], strict=True)
    )
    assert float(-log_p[0]) == pytest.approx(ours, rel=1e-9)


def test_a_density_above_one_makes_the_loss_negative():
    assert discrete.gaussian_density_peak(0.05) == pytest.approx(stats.norm.pdf(0, 0, 0.05))
    assert discrete.gaussian_density_peak(0.5) < 1 < discrete.gaussian_density_peak(0.39)
    nll = discrete.gaussian_nll_per_image(0.001, 0.05, 784)
    reference = -stats.norm.logpdf(math.sqrt(0.001), 0, 0.05) * 784
    assert nll == pytest.approx(reference, rel=1e-12)
    assert nll < 0


def test_nats_bits_per_dim_round_trip_and_a_hand_worked_value():
    assert discrete.nats_to_bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    assert discrete.nats_to_bits_per_dim(80.0, 784) == pytest.approx(
        80 / (784 * 0.6931471805599453)
    )
    assert discrete.bits_per_dim_to_nats(discrete.nats_to_bits_per_dim(123.4, 64), 64) == (
        pytest.approx(123.4)
    )
    with pytest.raises(ValueError, match="positive whole number"):
        discrete.nats_to_bits_per_dim(1.0, 0)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_discrete_helpers_refuse_a_bad_sigma(bad):
    with pytest.raises(ValueError, match="sigma"):
        discrete.pixel_numbers(0.5, 0.5, bad, 17)


# --- what your logged numbers mean --------------------------------------------------------------


def test_converter_on_f_mse_loss_with_a_batch_mean_kl():
    """F.mse_loss = 0.01 (mean over pixels and batch), KL summed over latents, mean over batch."""
    c = logged_numbers.convert(
        0.01, 5.0, loss="squared", D=784, latent_dim=20, batch_size=128, sigma=0.1
    )
    # By hand: SSE per image = 0.01·784 = 7.84; /(2·0.01) = 392; constant 784·(log 0.1 + ½log 2π)
    constant = 784 * (-2.302585092994046 + 0.9189385332046727)
    assert c.recon_constant == pytest.approx(constant)
    assert c.recon_nats == pytest.approx(392 + constant)
    assert c.kl_nats == 5.0
    assert c.neg_elbo_nats == pytest.approx(397 + constant)
    assert c.logged_total == pytest.approx(5.01)
    assert c.bits_per_dim == pytest.approx(
        (397 + constant + 784 * math.log(255)) / (784 * math.log(2))
    )


def test_converter_undoes_batch_sums_latent_means_and_beta():
    c = logged_numbers.convert(
        1280.0,
        64.0,
        loss="bce",
        D=64,
        latent_dim=4,
        batch_size=32,
        recon_pixels="sum",
        recon_batch="sum",
        kl_latents="mean",
        kl_batch="sum",
        beta=4.0,
    )
    assert c.recon_nats == pytest.approx(40.0)  # 1280 / 32 images
    assert c.kl_nats == pytest.approx(8.0)  # 64 · 4 latents / 32 images
    assert c.logged_total == pytest.approx(1280 + 4 * 64)
    assert c.bits_per_dim == pytest.approx(48 / (64 * math.log(2)))  # no bin term for BCE
    assert any("β = 4" in note for note in c.notes)


def test_converter_l1_and_gaussian_nll_constants():
    l1 = logged_numbers.convert(0.05, 0.0, loss="l1", D=10, latent_dim=1, batch_size=1, scale=0.1)
    assert l1.recon_nats == pytest.approx(0.5 / 0.1 + 10 * math.log(0.2))
    g = logged_numbers.convert(-1.0, 0.0, loss="gaussian-nll", D=10, latent_dim=1, batch_size=1)
    assert g.recon_nats == pytest.approx(-10.0 + 5 * math.log(2 * math.pi))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "mse"}, "loss must be one of"),
        ({"sigma": 0.0}, "sigma must be positive"),
        ({"D": 0}, "D must be a positive whole number"),
        ({"recon_pixels": "avg"}, "recon_pixels"),
        ({"beta": -1.0}, "beta"),
    ],
)
def test_converter_rejects_bad_input_with_a_clear_message(kwargs, message):
    arguments = {"loss": "squared", "D": 784, "latent_dim": 20, "batch_size": 128, **kwargs}
    with pytest.raises(ValueError, match=message):
        logged_numbers.convert(0.01, 5.0, **arguments)


def test_converter_rejects_nan():
    with pytest.raises(ValueError, match="recon must be a finite number"):
        logged_numbers.convert(math.nan, 1.0, loss="bce", D=4, latent_dim=1, batch_size=1)


# --- at test time -------------------------------------------------------------------------------


def test_four_ways_returns_the_documented_pictures(digits):
    trainer = Trainer(VAEConfig(latent_dim=2, hidden=16), digits, "gaussian", seed=0)
    trainer.run(max_steps=50)
    x = digits.test[:5]
    pictures = four_ways(trainer.model, trainer.likelihood, x, seed=1)
    assert list(pictures) == [name for name, _ in ROWS]
    assert all(p.shape == (5, 64) for p in pictures.values())
    with torch.no_grad():
        expected_mean = trainer.likelihood.mean(trainer.model.reconstruct(x)).numpy()
    np.testing.assert_allclose(pictures["mean_at_mu"], expected_mean, rtol=1e-6)
    # a Gaussian sample is the mean plus σ-sized noise, not the mean
    noise = pictures["sample_at_mu"] - pictures["mean_at_mu"]
    assert 0.05 < noise.std() < 0.2
    assert not np.allclose(pictures["mean_at_sample"], pictures["mean_at_mu"])
    again = four_ways(trainer.model, trainer.likelihood, x, seed=1)
    np.testing.assert_array_equal(again["sample_at_sample"], pictures["sample_at_sample"])


def test_metric_table_names_the_engine_metrics():
    assert [row["metric"] for row in METRIC_USES] == [
        "ELBO",
        "IWAE log p(x) estimate",
        "MSE per pixel",
        "bits/dim",
    ]
