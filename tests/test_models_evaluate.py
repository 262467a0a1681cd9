"""Evaluation metrics: their definitions and sanity relations between them."""

import math

import numpy as np
import pytest
import torch

from models import likelihoods
from models.data import load_dataset
from models.evaluate import Metrics, evaluate
from models.trainer import Trainer
from models.vae import VAE, VAEConfig

KEYS = [
    "elbo",
    "recon_log_prob",
    "kl",
    "mse",
    "kl_per_dim",
    "active_units",
    "log_px_iwae",
    "bits_per_dim",
]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    tr = Trainer(VAEConfig(latent_dim=3, hidden=64), digits, "gaussian", seed=0)
    tr.run(max_steps=400)
    return tr


def test_metrics_relations(trained, digits):
    m = evaluate(trained, digits, k=32)
    assert isinstance(m, Metrics) and m.n == 360 and m.k == 32
    assert list(m.as_dict()) == KEYS
    assert m.elbo == pytest.approx(m.recon_log_prob - m.kl)
    assert m.kl == pytest.approx(sum(m.kl_per_dim))
    assert len(m.kl_per_dim) == 3 and all(v >= 0 for v in m.kl_per_dim)
    assert m.log_px_iwae >= m.elbo  # IWAE is the tighter bound
    assert 0 < m.mse < 0.1
    assert 0 <= m.active_units <= 3
    assert math.isfinite(m.bits_per_dim) and 0 < m.bits_per_dim < 8
    again = evaluate(trained, digits, k=32)
    assert again == m  # seeded
    assert trained.model.training  # modes restored


def test_iwae_tightens_with_k(trained, digits):
    vals = [evaluate(trained, digits, k=k, seed=s).log_px_iwae for k in (1, 64) for s in (0, 1)]
    assert min(vals[2:]) > max(vals[:2])


def test_mse_is_of_the_mean_reconstruction(trained, digits):
    m = evaluate(trained, digits, k=1)
    x = digits.test
    want = float(((trained.likelihood.mean(trained.model.reconstruct(x)) - x) ** 2).mean())
    assert m.mse == pytest.approx(want, rel=1e-5)


def test_active_units_counts_latents_that_carry_information(digits):
    model = VAE(VAEConfig(data_dim=64, latent_dim=4, hidden=16), seed=0)
    lik = likelihoods.make("gaussian")
    with torch.no_grad():
        last = model.enc[2]  # rows 0..3 give μ, rows 4..7 give log σ²
        last.weight[:4] = 0.0
        last.bias[:4] = 0.0
        last.weight[0, :] = 1.0  # μ_0 varies with x: active
        last.weight[4:] = 0.0
        last.bias[4:] = 0.0  # σ = 1 everywhere: the collapsed latents match the prior
    m = evaluate(model, digits, lik, k=4)
    assert m.active_units == 1
    assert m.kl_per_dim[1:] == pytest.approx([0, 0, 0], abs=1e-9)
    assert m.kl_per_dim[0] > 0.01


def test_bits_per_dim_where_defined(trained, digits):
    lik_names = likelihoods.names()
    for name in lik_names:
        lik = likelihoods.make(name)
        if lik.outputs_per_pixel != 1:  # reads μ and a log-scale: needs a wider decoder
            with pytest.raises(ValueError, match="reads 2 decoder outputs per pixel"):
                evaluate(trained.model, digits, lik, k=4)
            wide = Trainer(VAEConfig(latent_dim=2, hidden=32), digits, name, seed=0)
            m = evaluate(wide, digits, k=4, max_examples=50)
            assert math.isfinite(m.bits_per_dim) and m.bits_per_dim > 0
            continue
        m = evaluate(trained.model, digits, lik, k=4, max_examples=50)
        if name == "bernoulli":
            assert m.bits_per_dim is None and m.as_dict()["bits_per_dim"] is None
        else:
            assert math.isfinite(m.bits_per_dim) and m.bits_per_dim > 0
    binary = load_dataset("digits-binarised")
    m = evaluate(trained.model, binary, likelihoods.make("bernoulli"), k=4)
    assert m.bits_per_dim > 0 and m.bits_per_dim == pytest.approx(
        -m.log_px_iwae / (64 * math.log(2)), rel=1e-6
    )  # for a pmf, the binned probability is the pmf itself


def test_bits_per_dim_of_a_known_model(digits):
    """A decoder that ignores z and outputs 0 with σ = 1e3: bin probabilities are known."""
    model = VAE(VAEConfig(data_dim=64, latent_dim=2, hidden=8), seed=0)
    with torch.no_grad():
        for p in model.dec.parameters():
            p.zero_()
    wide = evaluate(model, digits, likelihoods.make("gaussian", sigma=1e3), k=2)
    # the 15 inner bins have width 1/16 and density ~1/(σ√(2π)); the outer two hold ~½ each
    x = digits.test.numpy()
    inner = np.log2(1e3 * math.sqrt(2 * math.pi) * 16)
    want = np.where((x == 0) | (x == 1), 1.0, inner).mean()
    assert wide.bits_per_dim == pytest.approx(want, rel=1e-3)


def test_evaluate_arguments(trained, digits):
    with pytest.raises(ValueError, match="needs a likelihood"):
        evaluate(trained.model, digits)
    with pytest.raises(ValueError, match="split"):
        evaluate(trained, digits, split="valid")
    with pytest.raises(ValueError, match="k must be"):
        evaluate(trained, digits, k=0)
    m = evaluate(trained, digits, k=2, split="train", max_examples=100)
    assert m.n == 100
    nan = Metrics(math.nan, 0.0, 0.0, 0.0, [math.inf], 0, 0.0, None, 1, 1).as_dict()
    assert nan["elbo"] is None and nan["kl_per_dim"] == [None]
