"""models.race: presets, the ranked report, the fixed-σ optimum's squared error, and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import likelihoods, race
from models.batched import BatchedTrainer, ModelSpec
from models.data import load_dataset
from models.vae import VAEConfig

ROOT = Path(__file__).resolve().parent.parent


def test_presets():
    names = [s.likelihood for s in race.preset_specs("likelihoods")]
    assert names == likelihoods.names()  # every family, once
    sweep = race.preset_specs("sigma-sweep")
    assert 6 <= len(sweep) <= 8 and {s.likelihood for s in sweep} == {"gaussian"}
    assert sorted(s.params["sigma"] for s in sweep) == list(race.SWEEP_VALUES)
    laplace = race.preset_specs("sigma-sweep", family="laplace", values=(0.1, 0.2))
    assert [s.params for s in laplace] == [{"scale": 0.1}, {"scale": 0.2}]
    custom = race.preset_specs("custom", family="gaussian", values=(0.1, 0.2), betas=(1, 4))
    assert [(s.params["sigma"], s.beta) for s in custom] == [(0.1, 1), (0.2, 1), (0.1, 4), (0.2, 4)]
    assert len(race.preset_specs("custom", family="bernoulli", betas=(0.5, 1, 2))) == 3
    with pytest.raises(ValueError, match="no scale parameter"):
        race.preset_specs("sigma-sweep", family="bernoulli")
    with pytest.raises(ValueError, match="1 to 16 models"):
        race.preset_specs("custom", values=tuple(0.01 * i for i in range(1, 10)), betas=(1, 2))


def test_squared_error_under_q_is_the_sampled_reconstruction_error():
    """Read back from the Gaussian's −E log p(x|z), it equals E_q ‖x − μ(z)‖²/D computed
    directly with evaluate's own draws of z (one chunk, generator seeded by `seed`)."""
    data = load_dataset("digits")
    spec = ModelSpec("gaussian", {"sigma": 0.15}, seed=0)
    trainer = BatchedTrainer(VAEConfig(latent_dim=2, hidden=32), data, [spec])
    trainer.run(max_steps=100)
    metrics = trainer.evaluate(0, k=4, seed=11)
    model, x = trainer.model(0), data.test
    with torch.no_grad():
        mu, logvar = model.encode(x)
        eps = torch.randn(4, *mu.shape, generator=torch.Generator().manual_seed(11))
        out = model.decode(mu + torch.exp(0.5 * logvar) * eps)
        direct = float(((out - x) ** 2).double().mean())
    assert race.squared_error_under_q(spec, metrics, data.dim) == pytest.approx(direct, rel=1e-4)
    assert race.squared_error_under_q(ModelSpec("laplace"), metrics, data.dim) is None


def test_ranked_puts_undefined_bits_last():
    class M:
        def __init__(self, bits):
            self.bits_per_dim = bits

    assert race.ranked([M(3.0), M(None), M(2.0), M(math.nan), None]) == [2, 0, 1, 3, 4]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "models.race", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_json_has_a_ranked_row_per_model():
    done = run_cli("--dataset", "digits", "--preset", "likelihoods", "--steps", "40", "--k", "2")
    assert done.returncode == 0, done.stderr
    assert "ranked by discretised bits/dim" in done.stdout  # the table, without --json
    done = run_cli("--preset", "likelihoods", "--steps", "40", "--k", "2", "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["dataset"] == "digits" and result["preset"] == "likelihoods"
    rows = result["models"]
    assert sorted(r["config"]["likelihood"] for r in rows) == sorted(likelihoods.names())
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["steps"] == 40 and r["stopped_reason"] is None for r in rows)
    bits = [r["test"]["bits_per_dim"] for r in rows]
    defined = [b for b in bits if b is not None]
    assert defined == sorted(defined) and bits[len(defined) :] == [None]  # Bernoulli: grey data
    assert rows[-1]["config"]["likelihood"] == "bernoulli"
    for r in rows:
        assert set(r["test"]) >= {"elbo", "log_px_iwae", "kl", "mse", "active_units"}


def test_cli_bad_values_get_one_line():
    for args, message in (
        (("--preset", "sigma-sweep", "--family", "bernoulli"), "no scale parameter"),
        (("--values", "0.1,-2", "--preset", "custom"), "--values must be a positive"),
        (("--dataset", "nope"), "unknown dataset"),
        (("--steps", "0"), "--steps must be at least 1"),
        (("--values", "0.1"), "apply to the sigma-sweep and custom presets"),
    ):
        done = run_cli(*args, "--json")
        assert done.returncode == 2
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
