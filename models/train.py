"""Train a VAE from the command line and report test-split metrics.

    python -m models.train --dataset digits --likelihood gaussian --sigma 0.1 --latent-dim 2 \\
        --steps 2000 --seed 0 --json

With --json it prints one JSON object: steps, seconds, steps_per_second, stopped_reason (null,
"non-finite" or "diverged"), stop (the trainer's Stop as an object, or null) and test
(models.evaluate.Metrics.as_dict()). Without it, a progress bar on stderr and a summary on stdout.
Bad flags or values exit with status 2 and one line on stderr, before any training (sizes are
bounded, and the --save folder must exist and be writable); a stopped run still prints its report
(of the restored weights) and exits with status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

from models import likelihoods
from models.data import NAMES, DataError, load_dataset


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


# Upper bounds on sizes: beyond them the allocator, not the flag, would say no.
SIZE_LIMITS = {
    "latent_dim": 256,
    "hidden": 4096,
    "steps": 10_000_000,
    "batch_size": 4096,
    "k": 4096,
}


def _size(name: str):
    high = SIZE_LIMITS[name]

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between 1 and {high:,}, got {value:,}")
        return value

    return parse


def _beta(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m models.train", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", help=f"one of {', '.join(NAMES)}")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist, fashion-mnist)")
    p.add_argument("--likelihood", default="gaussian", help=", ".join(likelihoods.names()))
    p.add_argument("--sigma", type=float, help="σ of gaussian (initial σ of gaussian-learned)")
    p.add_argument("--scale", type=float, help="scale of laplace and huber")
    p.add_argument("--alpha", type=float, help="α of huber, in units of the scale")
    p.add_argument("--sigma-min", type=float, help="σ floor of gaussian-per-pixel")
    p.add_argument("--latent-dim", type=_size("latent_dim"), default=2)
    p.add_argument("--hidden", type=_size("hidden"), default=128, help="hidden width of the MLP")
    p.add_argument("--linear", action="store_true", help="the linear VAE (Lucas et al. 2019)")
    p.add_argument("--steps", type=_size("steps"), default=2000)
    p.add_argument("--batch-size", type=_size("batch_size"), default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=_beta, default=1.0, help="KL weight")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--k", type=_size("k"), default=64, help="importance samples for IWAE and bits/dim"
    )
    p.add_argument("--save", help="write the trained model and likelihood to this file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _likelihood(a: argparse.Namespace) -> likelihoods.Likelihood:
    keys = ("sigma", "scale", "alpha", "sigma_min")
    given = {k: getattr(a, k) for k in keys if getattr(a, k) is not None}
    takes = likelihoods.info(a.likelihood).params  # raises on an unknown name
    extra = sorted(set(given) - set(takes))
    if extra:
        can = ", ".join(_flag(k) for k in takes) or "no parameters"
        raise ValueError(f"{_flag(extra[0])} does not apply to {a.likelihood} (it takes {can})")
    return likelihoods.make(a.likelihood, **given)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_save(path: str) -> None:
    """Refuse a --save path that could not be written, before spending time on training."""
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise ValueError(f"--save {path}: is a folder, not a file")
    if not folder.is_dir():
        raise ValueError(f"--save {path}: no such folder {str(folder)!r}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--save {path}: cannot write in {str(folder)!r}")


def describe_stop(stop) -> str:
    """One line for a person, from the trainer's Stop."""
    settings = ", ".join(
        f"{_flag(k)} {v:.3g}" for k, v in stop.settings.items() if isinstance(v, float)
    )
    if stop.reason == "diverged":
        what = (
            f"diverged at step {stop.step}: the median loss {stop.loss:.4g} rose above "
            f"{stop.threshold:.4g} (best window {stop.best:.4g})"
        )
    else:
        what = f"non-finite loss or weights by step {stop.step}"
    return (
        f"{what} ({stop.settings['likelihood']}, {settings}); weights restored to step "
        f"{stop.restored_step}; try a lower --lr"
    )


def _bar(done: int, total: int, loss: float, width: int = 30) -> str:
    n = int(width * done / total) if total else width
    return f"\r[{'#' * n}{'.' * (width - n)}] {done}/{total} steps  loss {loss:9.3f}"


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    a = p.parse_args(argv)
    try:
        if a.save:
            _check_save(a.save)
        lik = _likelihood(a)
        if a.dataset in ("mnist", "fashion-mnist") and not a.data_dir:
            raise ValueError(f"--data-dir is required for {a.dataset} (the folder of IDX files)")
        ds = load_dataset(a.dataset, a.data_dir)
        from models.trainer import TrainConfig, Trainer
        from models.vae import VAEConfig

        cfg = VAEConfig(latent_dim=a.latent_dim, hidden=a.hidden, linear=a.linear)
        tc = TrainConfig(lr=a.lr, batch_size=a.batch_size, beta=a.beta)
        tr = Trainer(cfg, ds, lik, seed=a.seed, train=tc)
    except (ValueError, DataError) as e:
        p.exit(2, f"{p.prog}: error: {e}\n")

    from models.evaluate import evaluate
    from models.vae import to_bytes

    seconds, result = 0.0, None
    while tr.step < a.steps:
        result = tr.run(max_steps=min(200, a.steps - tr.step))
        seconds += result.seconds
        if not a.json:
            print(_bar(tr.step, a.steps, result.loss), end="", file=sys.stderr, flush=True)
        if result.stopped_reason:
            break
    if not a.json:
        print(file=sys.stderr)
    t0 = time.perf_counter()
    m = evaluate(tr, ds, k=a.k, seed=a.seed)
    eval_seconds = time.perf_counter() - t0
    if a.save:
        with open(a.save, "wb") as f:
            f.write(to_bytes(tr.model, tr.likelihood))
    stop = tr.status.stop
    report = {
        "steps": tr.step,
        "seconds": round(seconds, 4),
        "steps_per_second": round(tr.step / seconds, 2) if seconds > 0 else None,
        "stopped_reason": stop.reason if stop else None,
        "stop": _plain(dataclasses.asdict(stop)) if stop else None,
        "test": m.as_dict(),
    }
    if a.json:
        print(json.dumps(report))
    else:
        d = report["test"]
        bpd = "n/a (no CDF)" if d["bits_per_dim"] is None else f"{d['bits_per_dim']:.4f}"
        kl_dims = ", ".join(f"{v:.2f}" for v in m.kl_per_dim)
        print(
            f"{ds.name}, {tr.likelihood.name} {tr.likelihood.extra_repr()}, latent {cfg.latent_dim}"
            f": {tr.step} steps in {seconds:.1f} s ({report['steps_per_second']} steps/s)\n"
            f"test ({m.n} images, K = {m.k}, evaluated in {eval_seconds:.1f} s):\n"
            f"  ELBO          {m.elbo:12.3f} nats = {m.recon_log_prob:.3f} recon - {m.kl:.3f} KL\n"
            f"  log p(x) IWAE {m.log_px_iwae:12.3f} nats\n"
            f"  bits/dim      {bpd:>12}  (data binned to {ds.levels} levels)\n"
            f"  MSE per pixel {m.mse:12.5f}\n"
            f"  active units  {m.active_units:12d}  of {cfg.latent_dim}; KL per dim [{kl_dims}]"
        )
        if a.save:
            print(f"saved to {a.save}")
    if stop:
        print(f"stopped: {describe_stop(stop)}", file=sys.stderr)
        return 1
    return 0


def _plain(value):
    """JSON has no NaN: non-finite floats become null."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
