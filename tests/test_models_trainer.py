"""The VAE and its trainer: shapes, saving, reproducibility, guards, mid-run changes, quality."""

import math

import numpy as np
import pytest
import torch

from derivations.linear_vae import data_eigen, optimum
from models import likelihoods
from models.data import load_dataset
from models.evaluate import evaluate
from models.trainer import TrainConfig, Trainer
from models.vae import VAE, VAEConfig, from_bytes, kl_per_dim, to_bytes


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# -- the model


@pytest.mark.parametrize("linear", [False, True])
def test_vae_shapes_and_helpers(linear):
    m = VAE(VAEConfig(data_dim=64, latent_dim=3, hidden=16, linear=linear))
    x = torch.rand(5, 64)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert m.decode(mu).shape == (5, 64)
    out, mu2, _ = m(x, torch.zeros(5, 3))
    torch.testing.assert_close(out, m.decode(mu2))  # ε = 0 decodes the posterior mean
    torch.testing.assert_close(m.reconstruct(x), out)
    z, o = m.sample_prior(4, seed=7)
    z2, o2 = m.sample_prior(4, seed=7)
    assert z.shape == (4, 3) and o.shape == (4, 64)
    assert torch.equal(z, z2) and torch.equal(o, o2)


def test_linear_vae_is_the_lucas_parameterisation():
    m = VAE(VAEConfig(data_dim=6, latent_dim=2, linear=True))
    x = torch.rand(4, 6)
    mu, logvar = m.encode(x)
    torch.testing.assert_close(mu, (x - m.b) @ m.V.T)  # μ = V(x - b)
    assert torch.equal(logvar, m.enc_logvar.expand(4, 2))  # independent of x
    z = torch.randn(4, 2)
    torch.testing.assert_close(m.decode(z), z @ m.W.T + m.b)  # Wz + b


def test_init_is_seeded_privately():
    torch.manual_seed(123)
    a = VAE(VAEConfig(hidden=8), seed=1).state_dict()
    torch.manual_seed(456)
    b = VAE(VAEConfig(hidden=8), seed=1).state_dict()
    c = VAE(VAEConfig(hidden=8), seed=2).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_kl_formula():
    """KL(N(μ, σ²) || N(0, 1)) against torch.distributions."""
    mu, logvar = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 4, dtype=torch.float64)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))
    torch.testing.assert_close(kl_per_dim(mu, logvar), ref)


def test_save_and_load_bytes_round_trip(digits):
    tr = Trainer(VAEConfig(latent_dim=2, hidden=16), digits, "gaussian-learned", seed=0)
    tr.run(max_steps=20)
    blob = to_bytes(tr.model, tr.likelihood)
    assert isinstance(blob, bytes)
    model, lik = from_bytes(blob)
    assert model.config == tr.model.config and lik.name == "gaussian-learned"
    assert lik.params == pytest.approx(tr.likelihood.params)
    x = digits.test[:3]
    torch.testing.assert_close(model.reconstruct(x), tr.model.reconstruct(x))


# -- the trainer


def small(digits, lik="gaussian", seed=0, **train):
    return Trainer(
        VAEConfig(latent_dim=2, hidden=32), digits, lik, seed=seed, train=TrainConfig(**train)
    )


def test_slices_history_and_reproducibility(digits):
    a = small(digits)
    r = a.run(max_steps=150)
    assert r.steps == 150 and r.step == 150 and r.seconds > 0 and r.steps_per_second > 0
    assert r.stopped_reason is None and math.isfinite(r.loss)
    assert r.loss == pytest.approx(r.recon + r.kl)
    h = a.history
    assert h.step == list(range(1, 151)) and len(h.loss) == len(h.recon) == len(h.kl) == 150
    assert np.allclose(h.loss, np.add(h.recon, h.kl), rtol=1e-5)
    assert h.slices == [r]
    b = small(digits)
    b.run(max_steps=40)  # other slicing, same steps: same numbers
    b.run(max_steps=110)
    assert b.history.loss == h.loss and b.history.kl == h.kl
    assert all(
        torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True)
    )
    c = small(digits, seed=1)
    c.run(max_steps=150)
    assert c.history.loss != h.loss


def test_time_budget(digits):
    tr = small(digits)
    r = tr.run(max_seconds=0.3)
    assert r.steps > 0 and r.seconds < 0.3 + 0.2
    assert r.steps == len(tr.history.step)
    r2 = tr.run(max_steps=10, max_seconds=60)
    assert r2.steps == 10
    with pytest.raises(ValueError, match="max_steps or max_seconds"):
        tr.run()


def test_threads_are_set_once_at_creation(digits):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        small(digits)
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        small(digits, num_threads=None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_non_finite_loss_stops_and_restores_good_weights(digits):
    tr = small(digits, lr=10.0, divergence_windows=0)  # only the non-finite guard
    tr.likelihood.update(sigma=1e-4)
    r = tr.run(max_steps=2000)
    st = tr.status
    assert st.stopped and r.stopped_reason == st.stopped_reason == "non-finite"
    stop = st.stop
    assert stop.reason == "non-finite" and stop.restored_step == st.step < stop.step <= 2000
    assert stop.settings == {"likelihood": "gaussian", "sigma": 1e-4, "lr": 10.0, "beta": 1.0}
    assert st.step % 100 == 0 and st.last_good_step == st.step
    assert tr.history.step == list(range(1, st.step + 1))  # only steps whose weights were kept
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    assert all(math.isfinite(v) for v in tr.history.loss)
    again = tr.run(max_steps=100)  # stays stopped until something changes
    assert again.steps == 0 and again.stopped_reason == "non-finite"
    tr.set_param(lr=1e-3, sigma=0.1)
    assert not tr.status.stopped
    r = tr.run(max_steps=100)
    assert r.steps == 100 and r.stopped_reason is None and math.isfinite(r.loss)


def test_a_diverging_run_stops_and_goes_back_to_before_the_rise(digits):
    """σ = 1e-3 with Adam at lr = 1: finite losses a thousand times the starting one."""
    tr = small(digits, lr=1.0)
    tr.set_param(sigma=1e-3)
    r = tr.run(max_steps=500)
    stop = tr.status.stop
    assert r.stopped_reason == "diverged" and stop.reason == "diverged"
    assert stop.step == 200 and stop.restored_step == 0 == tr.step  # two risen windows
    assert stop.loss > stop.threshold > stop.best and stop.loss > 10 * stop.best
    assert stop.settings["lr"] == 1.0 and stop.settings["sigma"] == 1e-3
    assert tr.history.step == []  # the risen steps are forgotten with their weights
    assert tr.run(max_steps=100).steps == 0  # stays stopped
    tr.set_param(lr=1e-3)  # the fix the lab offers: a lower learning rate
    r = tr.run(max_steps=300)
    assert r.steps == 300 and r.stopped_reason is None and r.loss < stop.best


def test_divergence_mid_run_restores_the_last_calm_window(digits):
    tr = small(digits)
    tr.run(max_steps=300)
    calm = [p.detach().clone() for p in tr.model.parameters()]
    tr.set_param(sigma=1e-3, lr=1.0)
    tr.run(max_steps=1000)
    stop = tr.status.stop
    assert stop.reason in ("diverged", "non-finite")  # whichever comes first; both restore
    assert stop.restored_step == 300 == tr.step
    assert all(torch.equal(p, q) for p, q in zip(tr.model.parameters(), calm, strict=True))


@pytest.mark.parametrize("name", likelihoods.names())
@pytest.mark.parametrize("seed", [0, 1])
def test_a_healthy_run_is_never_stopped(digits, name, seed):
    """Default settings, every family, two seeds: 1000 steps, no stop, and every window far
    from the threshold (a rise would need ten spreads; healthy noise is about a tenth)."""
    ds = load_dataset("digits-binarised") if name == "bernoulli" else digits
    tr = Trainer(VAEConfig(latent_dim=2), ds, name, seed=seed)
    r = tr.run(max_steps=1000)
    assert r.stopped_reason is None and tr.step == 1000
    losses = np.asarray(tr.history.loss).reshape(10, 100)
    medians = np.median(losses, axis=1)
    iqr = np.subtract(*np.percentile(losses, [75, 25], axis=1))
    best = np.minimum.accumulate(medians)
    spread_at_best = iqr[[int(np.flatnonzero(medians == b)[0]) for b in best]]
    assert np.all((medians[1:] - best[:-1]) / spread_at_best[:-1] < 3)


def test_mid_run_changes_are_recorded(digits):
    tr = small(digits)
    tr.run(max_steps=50)
    tr.set_param(sigma=0.2, beta=0.5, lr=3e-3)
    tr.run(max_steps=50)
    tr.set_likelihood("gaussian-learned", sigma=0.3)
    r = tr.run(max_steps=50)
    assert r.steps == 50 and math.isfinite(r.loss)
    ev = [(e.step, e.name, e.before, e.after) for e in tr.history.events]
    assert ev == [
        (50, "sigma", 0.1, 0.2),
        (50, "beta", 1.0, 0.5),
        (50, "lr", 1e-3, 3e-3),
        (100, "likelihood", "gaussian", "gaussian-learned"),
        (100, "sigma", None, pytest.approx(0.3)),
    ]
    assert tr.likelihood.params["sigma"] != pytest.approx(0.3)  # σ is being learned
    assert tr.lik_opt.param_groups[0]["lr"] == 3e-3
    assert r.loss == pytest.approx(r.recon + 0.5 * r.kl, rel=1e-5)  # β = 0.5 applies
    tr.set_likelihood("laplace")
    with pytest.raises(ValueError, match="laplace takes scale; got sigma"):
        tr.set_param(sigma=0.1)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        tr.set_param(lr=-1)
    with pytest.raises(ValueError, match="beta must be"):
        tr.set_param(beta=float("nan"))
    with pytest.raises(ValueError, match="beta must be"):
        tr.set_param(beta=True)
    with pytest.raises(ValueError, match="unknown likelihood"):
        tr.set_likelihood("poisson")
    with pytest.raises(ValueError, match="2 outputs per pixel and this model has 1"):
        tr.set_likelihood("gaussian-per-pixel")


def test_per_pixel_sigma_model_has_a_double_width_decoder_and_learns_sigma(digits):
    tr = small(digits, "gaussian-per-pixel")
    assert tr.config.outputs_per_pixel == 2
    assert tr.model.decode(torch.zeros(1, 2)).shape == (1, 2 * digits.dim)
    tr.run(max_steps=600)
    x = digits.test[:200]
    _, sigma = tr.likelihood.split(tr.model.reconstruct(x))
    border = x.std(0) == 0  # pixels that are 0 in every test digit
    assert border.any() and (sigma >= 0.01).all()
    # σ shrinks towards the floor where the data never varies, and stays wide where it does
    assert sigma[:, border].median() < 0.5 * sigma[:, ~border].median()
    with pytest.raises(ValueError, match="1 outputs per pixel and this model has 2"):
        tr.set_likelihood("gaussian")
    model, lik = from_bytes(to_bytes(tr.model, tr.likelihood))
    assert lik.name == "gaussian-per-pixel" and model.config.outputs_per_pixel == 2
    torch.testing.assert_close(model.reconstruct(x), tr.model.reconstruct(x))


@pytest.mark.parametrize("name", likelihoods.names())
def test_every_family_trains(digits, name):
    ds = load_dataset("digits-binarised") if name == "bernoulli" else digits
    tr = small(ds, name)
    first = tr.run(max_steps=100).loss
    last = tr.run(max_steps=200).loss
    assert last < first


def test_gaussian_optimal_tracks_the_rmse(digits):
    tr = small(digits, "gaussian-optimal")
    tr.run(max_steps=600)
    m = evaluate(tr, digits, k=1, split="train")
    assert tr.likelihood.params["sigma"] == pytest.approx(math.sqrt(m.mse), rel=0.2)


# -- quality bars (slow)


@pytest.mark.slow
def test_trains_to_a_quality_bar(digits):
    """Default MLP, latent 8, Gaussian σ = 0.1: test per-pixel MSE < 0.03 within 1500 steps."""
    tr = Trainer(VAEConfig(latent_dim=8), digits, "gaussian", seed=0)
    tr.run(max_steps=1500)
    m = evaluate(tr, digits, k=16)
    assert m.mse < 0.03
    assert m.active_units == 8 and m.log_px_iwae >= m.elbo
    assert 0 < m.bits_per_dim < 3.5  # the data itself is log2(17) = 4.09 bits/dim if uniform


@pytest.mark.slow
@pytest.mark.parametrize("sigma2", [0.1, 0.32, 0.45, 1.0])
def test_linear_vae_reaches_the_ppca_active_units(digits, sigma2):
    """Lucas et al. 2019: latent i of a linear VAE stays active iff λ_i > σ²."""
    X = digits.train.numpy().astype(np.float64)
    eigenvalues, _ = data_eigen(X)
    lam = eigenvalues[:8]
    assert np.min(np.abs(np.log(lam / sigma2))) > 0.15  # σ² is not too close to an eigenvalue
    theory = optimum(eigenvalues, sigma2, 8)  # the analytic optimum the collapse page draws
    expected = theory.active
    tr = Trainer(VAEConfig(latent_dim=8, linear=True), digits, "gaussian", seed=0,
                 train=TrainConfig(lr=1e-2))  # fmt: skip
    tr.set_param(sigma=math.sqrt(sigma2))
    tr.run(max_steps=2000)
    tr.set_param(lr=1e-3)  # settle the stochastic gradient noise
    tr.run(max_steps=1000)
    m = evaluate(tr, digits, k=1, split="train")
    kl = np.sort(m.kl_per_dim)[::-1]
    assert int((kl > 0.01).sum()) == expected
    assert m.active_units == expected
    analytic = np.where(lam > sigma2, 0.5 * np.log(lam / sigma2), 0.0)  # Lucas et al., Thm 1
    np.testing.assert_allclose(theory.kl_per_dim, analytic, rtol=1e-10)
    np.testing.assert_allclose(kl, theory.kl_per_dim, atol=0.06)
