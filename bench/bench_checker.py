"""The checker on hostile input, before and after its worker process; and a normal check's latency.

    python bench/bench_checker.py [--timeout 30] [--old-rev 778e9ca] [--repeats 20]

hostile  Each input from issue 12 (items 1-2) is checked in a fresh Python process against the
         Gaussian "expanded" step, once with the code at --old-rev (extracted with git archive;
         the checker before it had a worker process) and once with the working tree. The bench
         samples that process's resident memory (VmRSS) every 0.1 s. Reported: seconds until an
         answer (">T" when --timeout ran out and the process was killed), the verdict's kind
         (or the exception), and how far the process's RSS grew above its level after one warm
         check (peak and at the end). The old code runs under a 6 GiB RLIMIT_AS so that it
         cannot take the machine down.
normal   The latency of an ordinary check ("-sum((x_i-mu_i)^2)" against the same step): the
         first check in a fresh process (starts the worker: imports SymPy there), then the
         median of --repeats warm checks through `derivations.checker.check` (worker process)
         against `check_expr` in the calling process (the same verdict without the process),
         interleaved so that outside load falls on both alike.
backstop What the worker does when the size caps miss something: SymPy's expand of
         (1 + x + y + z)^-1000 (the expansion issue 12 saw) sent straight to the worker.

Wall-clock figures; on a shared machine they move with other load (ratios within one run are
more trustworthy). Not part of the test suite. Run from the repository root; the last line of
output is the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = [
    "(1+(x_1+mu_1+sigma)/1000)^-1000",
    "1/(1+x_1+mu_1+sigma)^1000",
    "(x_1+mu_1+sigma)^(999/2)",
    "√" * 996 + "x_1",
]
NORMAL = "-sum((x_i-mu_i)^2)"

CHILD = r"""
import resource, sys, time
if sys.argv[2] == "old":
    resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))
from derivations import checker
checker.check("x_1", "gaussian-mse", 2)
print("ready", flush=True)
start = time.perf_counter()
try:
    kind = checker.check(sys.argv[1], "gaussian-mse", 2).kind
except BaseException as exc:
    kind = type(exc).__name__
print("done", time.perf_counter() - start, kind, flush=True)
"""


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_hostile(tree: Path, text: str, which: str, timeout: float) -> dict:
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, text, which],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    baseline = rss_mb(process.pid)
    peak = baseline
    start = time.monotonic()
    answer: list[str] = []
    reader = threading.Thread(target=lambda: answer.append(process.stdout.readline()), daemon=True)
    reader.start()
    while time.monotonic() - start < timeout and reader.is_alive():
        peak = max(peak, rss_mb(process.pid))
        time.sleep(0.1)
    end_rss = rss_mb(process.pid)
    line = answer[0] if answer else ""
    process.kill()
    process.wait()
    if "done" in line:
        seconds, kind = line.split("done", 1)[1].split()[:2]
        seconds = f"{float(seconds):.2f}"
    else:
        seconds, kind = f">{timeout:g}", "(killed)"
    return {
        "code": which,
        "input": text if len(text) < 40 else "'√'*996+'x_1'",
        "seconds": seconds,
        "kind": kind,
        "rss_baseline_mb": round(baseline),
        "rss_peak_growth_mb": round(peak - baseline),
        "rss_end_growth_mb": round(end_rss - baseline),
    }


def normal_latency(repeats: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from derivations import checker, get
    from derivations.checker import worker

    start = time.perf_counter()
    checker.check(NORMAL, "gaussian-mse", 2)
    cold = time.perf_counter() - start
    derivation = get("gaussian-mse")
    expr = checker.parse(NORMAL, checker.namespace(derivation))
    in_worker, in_process = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        checker.check(NORMAL, "gaussian-mse", 2)
        in_worker.append(time.perf_counter() - start)
        start = time.perf_counter()
        checker.check_expr(expr, derivation, 2)
        in_process.append(time.perf_counter() - start)
    import sympy as sp

    x, y, z = sp.symbols("x y z")
    before = rss_mb(os.getpid())
    start = time.perf_counter()
    outcome = worker.run(sp.expand, (1 + x + y + z) ** -1000)
    backstop = time.perf_counter() - start
    grown = rss_mb(os.getpid()) - before
    worker.shutdown()
    return {
        "backstop_status": outcome.status,
        "backstop_s": round(backstop, 2),
        "backstop_rss_growth_mb": round(grown),
        "first_check_s": round(cold, 2),
        "warm_check_worker_median_ms": round(1000 * statistics.median(in_worker), 1),
        "warm_check_in_process_median_ms": round(1000 * statistics.median(in_process), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=30.0)
    # the last commit before the checker's worker process (an ancestor of main)
    parser.add_argument("--old-rev", default="778e9ca")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as old_tree:
        archive = subprocess.run(
            ["git", "archive", args.old_rev, "derivations"], cwd=ROOT, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", old_tree], input=archive.stdout, check=True)
        for text in INPUTS:
            for which, tree in (("old", Path(old_tree)), ("new", ROOT)):
                row = run_hostile(tree, text, which, args.timeout)
                rows.append(row)
                print(
                    f"{row['code']:4} {row['input']:34} {row['seconds']:>7} s  {row['kind']:12}"
                    f"  RSS {row['rss_baseline_mb']} MB, +{row['rss_peak_growth_mb']} MB peak,"
                    f" +{row['rss_end_growth_mb']} MB at the end",
                    flush=True,
                )
    normal = normal_latency(args.repeats)
    print(
        f"normal check: first {normal['first_check_s']} s (starts the worker); warm median "
        f"{normal['warm_check_worker_median_ms']} ms via the worker vs "
        f"{normal['warm_check_in_process_median_ms']} ms in-process"
    )
    print(
        f"backstop: sympy.expand((1+x+y+z)^-1000) in the worker -> {normal['backstop_status']} "
        f"after {normal['backstop_s']} s; this process grew {normal['backstop_rss_growth_mb']} MB"
    )
    print(json.dumps({"hostile": rows, "normal": normal}))


if __name__ == "__main__":
    main()
