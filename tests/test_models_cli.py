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
    assert list(out) == ["steps", "seconds", "steps_per_second", "stopped_reason", "stop", "test"]
    assert out["stopped_reason"] is None and out["stop"] is None
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
        "python -m models.train: error: sigma must be between 0.0001 and 1000, got -1"
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
        (["--sigma", "0"], "sigma must be between 0.0001 and 1000, got 0"),
        (["--sigma", "nan"], "sigma must be a finite number between 0.0001 and 1000, got nan"),
        (["--sigma", "1e200"], "sigma must be between 0.0001 and 1000, got 1e+200"),
        (["--sigma", "5e-324"], "sigma must be between 0.0001 and 1000, got 4.94066e-324"),
        (["--hidden", "1e9"], "argument --hidden: invalid int value: '1e9'"),
        (["--hidden", "1000000000"], "argument --hidden: must be between 1 and 4,096"),
        (["--k", "1000000000"], "argument --k: must be between 1 and 4,096"),
        (["--batch-size", "1000000000"], "argument --batch-size: must be between 1 and 4,096"),
        (["--latent-dim", "100000000"], "argument --latent-dim: must be between 1 and 256"),
        (["--beta", "-1"], "argument --beta: must be a finite number >= 0, got -1"),
        (["--save", "/nonexistent_dir/x.pt"], "--save /nonexistent_dir/x.pt: no such folder"),
        (["--likelihood", "gaussian", "--sigma-min", "0.1"], "--sigma-min does not apply"),
        (["--likelihood", "poisson"], "unknown likelihood 'poisson'; choose one of: gaussian"),
        (["--likelihood", "laplace", "--sigma", "0.1"], "--sigma does not apply to laplace"),
        (["--dataset", "mnist"], "--data-dir is required for mnist"),
        (["--dataset", "mnist", "--data-dir", "/no/such/dir"], "/no/such/dir: no such folder"),
        (["--dataset", "cifar"], "unknown dataset 'cifar'"),
        (["--steps", "0"], "argument --steps: must be between 1 and 10,000,000, got 0"),
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
    assert report["stopped_reason"] in ("non-finite", "diverged")  # whichever is seen first
    assert report["steps"] < 1000 and report["stop"]["restored_step"] == report["steps"]
    assert err.startswith("stopped: ") and "try a lower --lr" in err


def test_the_issue_s_diverging_run_is_reported_as_diverged(capsys):
    """Issue 12 item 7: this exited 0 with stopped_reason null and a test ELBO of −2.45e9."""
    code = train.main(["--sigma", "1e-3", "--lr", "1", "--steps", "500", "--k", "2", "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1 and report["stopped_reason"] == "diverged"
    stop = report["stop"]
    assert stop["reason"] == "diverged" and stop["loss"] > stop["threshold"] > stop["best"]
    assert stop["settings"] == {"likelihood": "gaussian", "sigma": 0.001, "lr": 1.0, "beta": 1.0}
    assert err.startswith("stopped: diverged at step 200")


def test_a_bad_save_path_is_refused_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        train.main(["--steps", "10000000", "--save", str(tmp_path / "none" / "x.pt")])
    assert e.value.code == 2  # at once: ten million steps were never started
    (tmp_path / "d.pt").mkdir()
    with pytest.raises(SystemExit):
        train.main(["--save", str(tmp_path / "d.pt")])
    assert "is a folder, not a file" in capsys.readouterr().err


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
