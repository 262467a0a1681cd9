"""The likelihood race and the σ sweep: which models to train together, and the race's table.

    python -m models.race --dataset digits --preset likelihoods --steps 3000 --json
    python -m models.race --preset sigma-sweep --family gaussian --steps 3000
    python -m models.race --preset custom --family laplace --values 0.05,0.1,0.2 --betas 1,2

--json prints one JSON object: dataset, preset, steps, seconds, and `models`, one row per model
(config, steps, stopped_reason, test metrics: models.evaluate.Metrics.as_dict()), ranked by
discretised bits/dim. Bad flags or values exit with status 2 and one line on stderr.

Presets:
- likelihoods: every family in models.likelihoods at its default parameters, one seed, so the
  models differ only in what the decoder's output means.
- sigma-sweep: one family with a scale parameter (σ or scale) at SWEEP_VALUES, one seed: the
  points of the rate–distortion plane.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from models import likelihoods
from models.batched import BatchedTrainer, ModelSpec
from models.data import NAMES, DataError, Dataset, load_dataset
from models.evaluate import Metrics
from models.vae import VAEConfig

PRESETS = ("likelihoods", "sigma-sweep", "custom")
SWEEP_VALUES = (0.03, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)  # σ or scale; σ* ≈ 0.2 on the digits
MAX_MODELS = 16  # one batched step stays a fraction of a second on 2 cores


def sweep_families() -> list[str]:
    """Families with a fixed scale parameter a sweep can vary (their `slider`)."""
    return [n for n in likelihoods.names() if likelihoods.info(n).slider]


def preset_specs(
    preset: str,
    seed: int = 0,
    family: str = "gaussian",
    values: tuple[float, ...] = SWEEP_VALUES,
    betas: tuple[float, ...] = (1.0,),
    lr: float = 1e-3,
) -> list[ModelSpec]:
    """The models of a preset; `custom` is every (value, β) pair of one family."""
    if preset == "likelihoods":
        return [ModelSpec(name, seed=seed, lr=lr) for name in likelihoods.names()]
    if preset not in ("sigma-sweep", "custom"):
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    info = likelihoods.info(family)  # raises on an unknown family
    if preset == "sigma-sweep":
        if not info.slider:
            raise ValueError(
                f"{family} has no scale parameter to sweep; choose one of: "
                + ", ".join(sweep_families())
            )
        betas = (1.0,)
    specs = []
    for beta in betas:
        for value in values if info.slider else (None,):
            params = {} if value is None else {info.slider: value}
            specs.append(ModelSpec(family, params, beta=beta, seed=seed, lr=lr))
    if not specs or len(specs) > MAX_MODELS:
        raise ValueError(f"a race trains 1 to {MAX_MODELS} models, got {len(specs)}")
    return specs


def spec_row(spec: ModelSpec) -> dict:
    return {
        "likelihood": spec.likelihood,
        "params": dict(spec.params),
        "beta": spec.beta,
        "lr": spec.lr,
        "seed": spec.seed,
    }


def ranked(metrics: list[Metrics | None]) -> list[int]:
    """Model indices by discretised bits/dim, lowest (best) first; undefined ones last."""

    def key(k: int) -> tuple[int, float]:
        m = metrics[k]
        bits = None if m is None else m.bits_per_dim
        ok = bits is not None and math.isfinite(bits)
        return (0, bits) if ok else (1, float(k))

    return sorted(range(len(metrics)), key=key)


def squared_error_under_q(spec: ModelSpec, metrics: Metrics, dim: int) -> float | None:
    """E_q ‖x − μ(z)‖² / D, the per-pixel squared error at sampled z, read back from the
    Gaussian's reconstruction term: −E log p = E‖x − μ‖²/(2σ²) + D(log σ + ½ log 2π).

    The ELBO's derivative in a fixed σ vanishes where σ² equals this (the fixed-σ optimum);
    None for other families.
    """
    if spec.likelihood != "gaussian":
        return None
    s = spec.params["sigma"]
    nll = -metrics.recon_log_prob
    return 2 * s * s * (nll - dim * (math.log(s) + 0.5 * math.log(2 * math.pi))) / dim


def fixed_sigma_optimum(
    sigmas: list[float], errors: list[float], rates: list[float]
) -> tuple[float, float, float] | None:
    """Where the sweep crosses σ² = E_q‖x − μ(z)‖²/D, the fixed-σ optimum (σ, rate, error),
    interpolated linearly in log σ between the two neighbouring models; None if no crossing.

    For fixed decoder weights, d/dσ of −E log p = D(1/σ − E‖x − μ‖²/(Dσ³)) vanishes at σ² = that
    error; the sweep retrains at each σ, and the crossing is where a model's σ is the one its own
    reconstructions would choose."""
    order = sorted(range(len(sigmas)), key=lambda k: sigmas[k])
    gap = [math.log(errors[k]) - 2 * math.log(sigmas[k]) for k in order]  # > 0: σ² too small
    for a, b in zip(range(len(order)), range(1, len(order)), strict=False):
        if gap[a] > 0 >= gap[b]:
            t = gap[a] / (gap[a] - gap[b])
            i, j = order[a], order[b]
            log_s = math.log(sigmas[i]) + t * (math.log(sigmas[j]) - math.log(sigmas[i]))
            rate = rates[i] + t * (rates[j] - rates[i])
            return math.exp(log_s), rate, math.exp(2 * log_s)
    return None


def report(trainer: BatchedTrainer, metrics: list[Metrics]) -> list[dict]:
    """One row per model, ranked by bits/dim: config, steps, stop reason, test metrics."""
    rows = []
    for rank, k in enumerate(ranked(metrics), start=1):
        rows.append(
            {
                "rank": rank,
                "label": trainer.specs[k].label(),
                "config": spec_row(trainer.specs[k]),
                "steps": trainer.steps[k],
                "stopped_reason": trainer.stopped[k],
                "test": metrics[k].as_dict(),
            }
        )
    return rows


def train(
    data: Dataset,
    specs: list[ModelSpec],
    steps: int,
    latent_dim: int = 2,
    hidden: int = 128,
    batch_size: int = 128,
    progress=None,
) -> tuple[BatchedTrainer, float]:
    """Train every model `steps` batched steps (in slices); returns the trainer and seconds."""
    trainer = BatchedTrainer(
        VAEConfig(latent_dim=latent_dim, hidden=hidden), data, specs, batch_size=batch_size
    )
    seconds = 0.0
    while trainer.running and max(trainer.steps) < steps:
        done = max(trainer.steps)
        seconds += trainer.run(max_steps=min(500, steps - done)).seconds
        if progress:
            progress(max(trainer.steps), steps)
    return trainer, seconds


# -------------------------------------------------------------------------------------------------
# The command line


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers, comma-separated: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m models.race", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", help=f"one of {', '.join(NAMES)}")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist, fashion-mnist)")
    p.add_argument("--preset", default="likelihoods", choices=PRESETS)
    p.add_argument("--family", default="gaussian", help="the family of sigma-sweep and custom")
    p.add_argument("--values", type=_floats, help="σ or scale values (sigma-sweep, custom)")
    p.add_argument("--betas", type=_floats, default=(1.0,), help="KL weights (custom)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=64, help="importance samples for IWAE and bits/dim")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    a = p.parse_args(argv)
    try:
        for name in ("steps", "batch_size", "k", "latent_dim", "hidden"):
            if getattr(a, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if a.preset == "likelihoods" and (a.values or a.family != "gaussian"):
            raise ValueError("--family and --values apply to the sigma-sweep and custom presets")
        if a.preset != "custom" and a.betas != (1.0,):
            raise ValueError("--betas applies to the custom preset (the others train at β = 1)")
        if a.values is not None:
            for v in a.values:
                likelihoods.check_positive("--values", v)
        specs = preset_specs(
            a.preset,
            seed=a.seed,
            family=a.family,
            values=a.values or SWEEP_VALUES,
            betas=a.betas,
            lr=likelihoods.check_positive("--lr", a.lr),
        )
        if a.dataset in ("mnist", "fashion-mnist") and not a.data_dir:
            raise ValueError(f"--data-dir is required for {a.dataset} (the folder of IDX files)")
        data = load_dataset(a.dataset, a.data_dir)
    except (ValueError, DataError) as e:
        p.exit(2, f"{p.prog}: error: {e}\n")

    def bar(done: int, total: int) -> None:
        n = 30 * done // total
        print(f"\r[{'#' * n}{'.' * (30 - n)}] {done}/{total} steps", end="", file=sys.stderr)

    trainer, seconds = train(
        data,
        specs,
        a.steps,
        latent_dim=a.latent_dim,
        hidden=a.hidden,
        batch_size=a.batch_size,
        progress=None if a.json else bar,
    )
    t0 = time.perf_counter()
    metrics = trainer.evaluate_all(k=a.k, seed=a.seed)
    rows = report(trainer, metrics)
    result = {
        "dataset": data.name,
        "preset": a.preset,
        "steps": a.steps,
        "seconds": round(seconds, 3),
        "eval_seconds": round(time.perf_counter() - t0, 3),
        "models": rows,
    }
    if a.json:
        print(json.dumps(result))
        return 0
    print(file=sys.stderr)
    print(
        f"{data.name}, {a.preset}: {len(specs)} models × {a.steps} steps in {seconds:.1f} s; "
        f"test split, K = {a.k}, ranked by discretised bits/dim"
    )
    print(f"{'#':>2}  {'model':<34} {'bits/dim':>9} {'ELBO':>10} {'KL':>7} {'MSE':>8}")
    for row in rows:
        t = row["test"]
        bits = "n/a" if t["bits_per_dim"] is None else f"{t['bits_per_dim']:.4f}"
        elbo = "nan" if t["elbo"] is None else f"{t['elbo']:.2f}"
        print(
            f"{row['rank']:>2}  {row['label']:<34} {bits:>9} {elbo:>10} {t['kl'] or 0:>7.2f} "
            f"{t['mse'] or 0:>8.5f}" + ("  (stopped)" if row["stopped_reason"] else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
