"""`python -m models.train`: the JSON report, the readable report, and one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import train

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "models.train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_report():
    args = "--dataset digits --likelihood gaussian --sigma 0.1 --latent-dim 2 --steps 60 --seed 0"
    p = run_cli(*args.split(), "--k", "8", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert list(out) == ["steps", "seconds", "steps_per_second", "stopped_reason", "test"]
    assert out["steps"] == 60 and out["seconds"] > 0 and out["steps_per_second"] > 0
    t = out["test"]
    assert list(t) == ["elbo", "recon_log_prob", "kl", "mse", "kl_per_dim", "active_units",
                       "log_px_iwae", "bits_per_dim"]  # fmt: skip
    assert len(t["kl_per_dim"]) == 2 and isinstance(t["active_units"], int)
    assert t["bits_per_dim"] > 0 and p.stderr == ""


def test_bad_value_exits_non_zero_with_one_line():
    p = run_cli("--sigma", "-1", "--json")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [
        "python -m models.train: error: sigma must be a positive finite number, got -1.0"
    ]


def test_readable_report_and_save(tmp_path, capsys):
    path = tmp_path / "m.pt"
    code = train.main(
        ["--steps", "30", "--likelihood", "bernoulli", "--k", "4", "--save", str(path)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "30/30 steps" in err and "ELBO" in out and "n/a (no CDF)" in out and path.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sigma", "0"], "sigma must be a positive finite number, got 0.0"),
        (["--sigma", "nan"], "sigma must be a positive finite number, got nan"),
        (["--likelihood", "poisson"], "unknown likelihood 'poisson'; choose one of: gaussian"),
        (["--likelihood", "laplace", "--sigma", "0.1"], "--sigma does not apply to laplace"),
        (["--dataset", "mnist"], "--data-dir is required for mnist"),
        (["--dataset", "mnist", "--data-dir", "/no/such/dir"], "/no/such/dir: no such folder"),
        (["--dataset", "cifar"], "unknown dataset 'cifar'"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--steps", "ten"], "argument --steps: invalid int value: 'ten'"),
        (["--lr", "-1"], "lr must be a positive finite number"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as e:
        train.main([*args, "--json"])
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err


def test_non_finite_run_reports_and_exits_1(capsys):
    code = train.main(["--lr", "10", "--sigma", "1e-4", "--steps", "1000", "--k", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    report = json.loads(out)
    assert report["stopped_reason"].startswith("non-finite loss at step")
    assert report["steps"] < 1000
    assert err.startswith("stopped: non-finite loss")


def test_json_report_on_mnist_5k(tmp_path):
    saved = tmp_path / "vae.pt"
    args = (
        "--dataset mnist-5k --likelihood gaussian --sigma 0.2 --latent-dim 2 --hidden 64 --steps 40"
    )
    p = run_cli(*args.split(), "--k", "4", "--save", str(saved), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["steps"] == 40 and out["stopped_reason"] is None
    assert 0 < out["test"]["bits_per_dim"] < 8  # 256-level data
    from models.vae import from_bytes

    model, _ = from_bytes(saved.read_bytes())
    assert model.config.data_dim == 784 and model.config.hidden == 64  # trained on 28×28
