"""How long `check_derivation` takes on the app's own derivations, before and after a change.

    python bench/bench_check_step.py [--old-rev e721014] [--rounds 1]

kl-mean      the implied-σ derivation with the KL averaged over latents (squared error, MNIST);
researchlib  F.mse_loss + KL .mean() over everything (CorcovadoMing/Researchlib's loss);
headline     F.mse_loss with the KL summed over latents, mean over the batch;
registry     every derivation in `derivations.REGISTRY`, each built and checked once.

Each case runs in a fresh Python process, once with the code at --old-rev (extracted with git
archive) and once with the working tree, alternating per round so outside load falls on both
alike. Reported: wall and CPU seconds of the check (building included, imports not), and how each
step was verified. CPU seconds move less with other load than wall seconds. Not part of the test
suite; run from the repository root. The last line of output is the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
from derivations import REGISTRY, implied_sigma
from derivations.base import check_derivation

CASES = {
    "kl-mean": lambda: [implied_sigma.derivation(784, 20, 128, "sum", "sum", "mean", "sum")],
    "researchlib": lambda: [implied_sigma.derivation(784, 20, 128, "mean", "mean", "mean", "mean")],
    "headline": lambda: [implied_sigma.headline_derivation()],
    "registry": lambda: [build() for build in REGISTRY.values()],
}
wall, cpu = time.perf_counter(), time.process_time()
hows = [c.how for d in CASES[sys.argv[1]]() for c in check_derivation(d)]
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "hows": sorted(set(hows))}))
"""


def run(tree: pathlib.Path, case: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, case], cwd=tree, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-rev", default="e721014")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cases", default="kl-mean,researchlib,headline,registry")
    args = parser.parse_args()
    here = pathlib.Path(__file__).resolve().parent.parent
    results: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(
            ["git", "archive", args.old_rev], cwd=here, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        for case in args.cases.split(","):
            for _ in range(args.rounds):
                for name, tree in (("old", pathlib.Path(old)), ("new", here)):
                    results.setdefault(case, {}).setdefault(name, []).append(run(tree, case))
    print(f"{'case':<12} {'code':<4} {'wall s':>8} {'CPU s':>8}  verified")
    for case, by_code in results.items():
        for name, runs in by_code.items():
            wall = min(r["wall"] for r in runs)
            cpu = min(r["cpu"] for r in runs)
            print(f"{case:<12} {name:<4} {wall:8.2f} {cpu:8.2f}  {', '.join(runs[0]['hows'])}")
    print(json.dumps({"old_rev": args.old_rev, "results": results}))


if __name__ == "__main__":
    main()
