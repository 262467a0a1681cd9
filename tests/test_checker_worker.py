"""The checker's worker process: a learner's expression can cost the server neither time nor memory.

Issue 12, item 1: ``(1+(x_1+mu_1+sigma)/1000)^-1000`` once pinned a core and grew the server by
gigabytes. Verdicts now run in a worker (`derivations.checker.worker`) with a wall-clock limit
and an address-space limit. These tests drive real SymPy blow-ups and real allocations into
the worker and check that the caller gets an answer, that the worker is replaced, and that the
calling process's memory does not move. Time bounds here are hang guards, not speed tests.
"""

from __future__ import annotations

import os
import time

import pytest
import sympy as sp

from derivations.checker import KINDS, MEMORY_BYTES, WALL_SECONDS, check, worker

HANG_GUARD_SECONDS = 5 * WALL_SECONDS + 30  # a cold worker imports SymPy before the clock starts
RSS_SLACK_MB = 60

# The inputs from issue 12 (items 1 and 2), typed on the checker page or a "Try it" box.
EXPENSIVE = [
    "(1+(x_1+mu_1+sigma)/1000)^-1000",
    "1/(1+x_1+mu_1+sigma)^1000",
    "(x_1+mu_1+sigma)^(999/2)",
    "√" * 996 + "x_1",
]


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module", autouse=True)
def warm_worker():
    """One ordinary check first: it starts a worker and builds the derivation, so the baseline
    below is the steady state of a server that has already served the checker."""
    assert check("-sum((x_i-mu_i)^2)", "gaussian-mse", 2).kind == "multiple"
    yield
    worker.shutdown()


@pytest.mark.parametrize("text", EXPENSIVE, ids=["neg-power", "reciprocal", "half-power", "roots"])
def test_expensive_inputs_are_answered_and_leave_the_callers_memory_alone(text):
    baseline = rss_mb()
    start = time.monotonic()
    verdict = check(text, "gaussian-mse", 2)
    elapsed = time.monotonic() - start
    assert elapsed < HANG_GUARD_SECONDS
    assert verdict.kind in KINDS and verdict.message
    assert rss_mb() - baseline < RSS_SLACK_MB


def test_a_sympy_blow_up_is_stopped_at_the_wall_clock_limit_and_the_worker_replaced():
    x, y, z = sp.symbols("x y z")
    baseline = rss_mb()
    start = time.monotonic()
    outcome = worker.run(sp.expand, (1 + x + y + z) ** -1000, seconds=1.0)
    assert outcome.status == "timeout"
    assert time.monotonic() - start < HANG_GUARD_SECONDS
    assert rss_mb() - baseline < RSS_SLACK_MB
    # the pool still answers (with a fresh worker)
    assert worker.run(sp.expand, (x + 1) ** 2).value == x**2 + 2 * x + 1


def test_an_allocation_beyond_the_address_space_limit_fails_in_the_worker_not_here():
    baseline = rss_mb()
    outcome = worker.run(bytes, 2 * MEMORY_BYTES)
    assert outcome.status == "memory"
    assert rss_mb() - baseline < RSS_SLACK_MB
    assert worker.run(len, "abc").value == 3


def test_the_worker_runs_in_another_process_and_errors_come_back_as_outcomes():
    assert worker.run(os.getpid).value != os.getpid()
    outcome = worker.run(int, "not a number")
    assert outcome.status == "error" and "ValueError" in outcome.value


def slow_judge(*args):
    """Stands in for the checker's verdict in the worker (pickled by name, so module level)."""
    time.sleep(60)


def test_check_answers_too_expensive_when_the_verdict_runs_over(monkeypatch):
    import derivations.checker as checker_package

    monkeypatch.setattr(checker_package, "_judge", slow_judge)
    monkeypatch.setattr(worker, "WALL_SECONDS", 0.5)
    start = time.monotonic()
    verdict = check("-sum((x_i-mu_i)^2)", "gaussian-mse", 2)
    assert time.monotonic() - start < HANG_GUARD_SECONDS
    assert verdict.kind == "not-checked"
    assert verdict.message.startswith("Too expensive to check")
    assert verdict.latex  # the input is still shown back as it was read
