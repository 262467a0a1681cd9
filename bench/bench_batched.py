"""Model-steps per second of K VAEs trained in one batched step (models.batched) against one model
alone (models.trainer.Trainer), on the 8×8 digits with the lab's architecture (64-128-2, batch 128).

    python bench/bench_batched.py                      # K = 1, 4, 8, 16, 2 s each, one thread
    python bench/bench_batched.py --models 8 --seconds 5 --threads 2
    python bench/bench_batched.py --models 8 --profile # + torch.profiler's top ops for that K

Each of the K batched models is a Gaussian VAE with its own σ and seed (the σ sweep: one fused
loss). The single model and the batched run take turns of `--turn` seconds until each has had
`--seconds`, so load from other processes on a shared machine falls on both alike; the ratio is
batched model-steps/s (K × batched steps/s) over single steps/s, measured in the same process.

Prints a table, then as its last line one JSON object:
    {"threads": T, "results": [{"models": K, "single_steps_per_s": ..., "batched_steps_per_s": ...,
                                 "batched_model_steps_per_s": ..., "ratio": ...}, ...]}
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from models.batched import BatchedTrainer, ModelSpec
from models.data import load_dataset
from models.trainer import TrainConfig, Trainer
from models.vae import VAEConfig

SIGMAS = (0.05, 0.07, 0.1, 0.14, 0.2, 0.28, 0.4, 0.56)  # cycled for K > 8


def measure(k: int, seconds: float, turn: float, threads: int) -> dict:
    data = load_dataset("digits")
    config = VAEConfig(latent_dim=2, hidden=128)
    single = Trainer(config, data, "gaussian", seed=0, train=TrainConfig(num_threads=threads))
    specs = [ModelSpec("gaussian", {"sigma": SIGMAS[i % len(SIGMAS)]}, seed=i) for i in range(k)]
    batched = BatchedTrainer(config, data, specs, num_threads=threads)
    single.run(max_steps=50)  # warm-up: first calls allocate
    batched.run(max_steps=50)
    totals = {"single": [0, 0.0], "batched": [0, 0.0]}
    while min(totals["single"][1], totals["batched"][1]) < seconds:
        for name, trainer in (("single", single), ("batched", batched)):
            result = trainer.run(max_seconds=turn)
            totals[name][0] += result.steps
            totals[name][1] += result.seconds
    single_rate = totals["single"][0] / totals["single"][1]
    batched_rate = totals["batched"][0] / totals["batched"][1]
    return {
        "models": k,
        "single_steps_per_s": round(single_rate, 1),
        "batched_steps_per_s": round(batched_rate, 1),
        "batched_model_steps_per_s": round(k * batched_rate, 1),
        "ratio": round(k * batched_rate / single_rate, 2),
    }


def profile(k: int, threads: int, steps: int = 200) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    specs = [ModelSpec("gaussian", {"sigma": SIGMAS[i % len(SIGMAS)]}, seed=i) for i in range(k)]
    batched = BatchedTrainer(
        VAEConfig(latent_dim=2, hidden=128), load_dataset("digits"), specs, num_threads=threads
    )
    batched.run(max_steps=50)
    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        batched.run(max_steps=steps)
    averages = prof.key_averages(group_by_input_shape=True)
    return averages.table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=28)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", type=int, help="one K (default: 1, 4, 8 and 16)")
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per contender")
    p.add_argument("--turn", type=float, default=0.25, help="seconds per turn")
    p.add_argument("--threads", type=int, default=1, help="torch threads (process-wide)")
    p.add_argument("--profile", action="store_true", help="profile the batched step at --models")
    a = p.parse_args(argv)
    ks = [a.models] if a.models else [1, 4, 8, 16]
    if any(k < 1 for k in ks) or a.seconds <= 0 or a.turn <= 0 or a.threads < 1:
        p.error("--models, --seconds, --turn and --threads must be positive")
    warnings.filterwarnings("ignore", message="grad and param do not obey")
    torch.set_num_threads(a.threads)
    results = []
    print(f"threads: {a.threads}; {a.seconds:g} s per contender, turns of {a.turn:g} s")
    header = ("K", "single steps/s", "batched steps/s", "model-steps/s", "ratio")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (4, 15, 16, 14, 6), strict=True)))
    for k in ks:
        r = measure(k, a.seconds, a.turn, a.threads)
        results.append(r)
        print(
            f"{k:>4} {r['single_steps_per_s']:>15.1f} {r['batched_steps_per_s']:>16.1f} "
            f"{r['batched_model_steps_per_s']:>14.1f} {r['ratio']:>6.2f}",
            flush=True,
        )
    if a.profile:
        print(profile(ks[-1], a.threads))
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    print(f"measured {started} UTC; on a shared machine, compare ratios rather than rates")
    print(json.dumps({"threads": a.threads, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
