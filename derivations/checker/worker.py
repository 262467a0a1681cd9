"""Bounded work in a separate process: a wall-clock limit and an address-space limit.

A learner's expression can make SymPy expand, factor or print for a very long time and with
ever more memory (``(1 + (x₁ + μ₁ + σ)/1000)^−1000`` grew a server from 627 MB to 3.5 GB in a
minute). Size caps in `symbolic` stop the cases we know; this module stops the rest. A verdict
runs in a worker process that

- may use at most `MEMORY_BYTES` of address space (``resource.setrlimit(RLIMIT_AS)`` in the
  worker, so an allocation beyond it raises MemoryError there, never in the server), and
- is killed when one answer takes longer than `WALL_SECONDS` of wall-clock time.

Either way the caller gets an `Outcome` saying so (the checker answers "too expensive to
check"), and the server's own memory and CPU are untouched: nothing the learner typed is
expanded in the server process.

Workers are reused (starting one costs a fork of a process that has already imported SymPy);
at most `MAX_WORKERS` run at once, and a request waits at most `WAIT_SECONDS` for a free one.
Each is a fresh interpreter (``python -m derivations.checker.worker``, a "spawn" start): forking
the Streamlit server (threaded, with PyTorch loaded) is unsafe, and multiprocessing's spawn and
forkserver methods would re-run the server's ``__main__`` in every worker. Requests and answers
are pickled over the worker's stdin and stdout.
A worker first runs the request's trusted preparation (building the derivation and evaluating
the app's own step, cached in the worker), under the separate, generous `PREPARE_SECONDS`, and
only then starts the clock on the learner's part.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

WALL_SECONDS = 2.5  # one verdict on a learner's expression
MEMORY_BYTES = 2**30  # address space of a worker (about 270 MB of it in use when idle)
PREPARE_SECONDS = 30.0  # the app's own step, once per worker and step (trusted, cached)
MAX_WORKERS = 2  # the machines this runs on have two cores
WAIT_SECONDS = 2 * WALL_SECONDS  # for a free worker when all are busy
CALLS_PER_WORKER = 500  # then it is replaced, so caches cannot grow without end

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class Outcome:
    status: str  # "ok", "timeout", "memory", "crashed", "busy" or "error"
    value: Any = None  # the result ("ok") or a description of the error ("error")
    seconds: float = 0.0  # wall-clock time of the bounded part


def _serve(requests: Connection, answers: Connection, memory_bytes: int) -> None:
    """The worker's loop: (prepare, fn, args) in, ("ready",) then (status, value) out."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn = requests
    while True:
        try:
            prepare, fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if prepare is not None:
                prepare(*args)
            answers.send(("ready", None))
            reply = ("ok", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except Exception as exc:  # reported to the caller, which answers with a message
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            answers.send(reply)
        except MemoryError:
            return
        if reply[0] == "memory":
            return  # start afresh: a worker that ran out may hold on to fragments


class _Worker:
    def __init__(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([_ROOT, os.environ.get("PYTHONPATH", "")]),
        }
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MAIN, str(MEMORY_BYTES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_ROOT,
            env=env,
        )
        self.send_conn = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.conn = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.calls = 0

    def send(self, obj) -> None:
        self.send_conn.send(obj)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=5)
        for conn in (self.send_conn, self.conn):
            conn.close()
        self.process.stdin.close()
        self.process.stdout.close()


class _Pool:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.idle: list[_Worker] = []
        self.running = 0  # workers started and not stopped (idle or busy)

    def acquire(self, deadline: float) -> _Worker | None:
        with self.cond:
            while not self.idle and self.running >= MAX_WORKERS:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)
            if self.idle:
                return self.idle.pop()
            self.running += 1
        try:
            return _Worker()
        except BaseException:
            with self.cond:
                self.running -= 1
                self.cond.notify()
            raise

    def release(self, worker: _Worker, healthy: bool) -> None:
        worker.calls += 1
        keep = healthy and worker.calls < CALLS_PER_WORKER and worker.alive()
        if not keep:
            worker.stop()
            # start the replacement now, in the background: the next learner should not wait
            # for SymPy to import because someone else's expression was too expensive
            threading.Thread(target=self._start_idle, daemon=True, name="checker-worker").start()
            return
        with self.cond:
            self.idle.append(worker)
            self.cond.notify()

    def _start_idle(self) -> None:
        try:
            fresh = _Worker()
        except OSError:  # cannot start one now; acquire() will try again on demand
            with self.cond:
                self.running -= 1
                self.cond.notify()
            return
        with self.cond:
            self.idle.append(fresh)
            self.cond.notify()

    def shutdown(self) -> None:
        with self.cond:
            idle, self.idle = self.idle, []
            self.running -= len(idle)
        for worker in idle:
            worker.stop()


_POOL = _Pool()


def run(
    fn: Callable,
    *args,
    prepare: Callable | None = None,
    seconds: float | None = None,
) -> Outcome:
    """fn(*args) in a worker, within `seconds` and `MEMORY_BYTES`; never raises for what fn
    does. `prepare(*args)`, if given, runs first in the same worker under `PREPARE_SECONDS`
    (for trusted, cached set-up). fn, prepare and args must be picklable (module-level)."""
    seconds = WALL_SECONDS if seconds is None else seconds
    worker = _POOL.acquire(time.monotonic() + WAIT_SECONDS)
    if worker is None:
        return Outcome("busy")
    healthy = False
    try:
        worker.send((prepare, fn, args))
        if not worker.conn.poll(PREPARE_SECONDS):
            return Outcome("timeout", "preparation")
        status, _ = worker.conn.recv()
        if status != "ready":
            return Outcome(status, "preparation")
        start = time.monotonic()
        if not worker.conn.poll(seconds):
            return Outcome("timeout", seconds=time.monotonic() - start)
        status, value = worker.conn.recv()
        healthy = status == "ok" or status == "error"
        return Outcome(status, value, time.monotonic() - start)
    except (EOFError, OSError, BrokenPipeError) as exc:  # the worker died (killed, crashed)
        return Outcome("crashed", repr(exc))
    finally:
        _POOL.release(worker, healthy)


def prestart() -> None:
    """Start one worker in the background if none is running, so that a page that offers the
    checker has it warm (a worker takes a few seconds to import SymPy) by the first Check."""
    with _POOL.cond:
        if _POOL.running:
            return
        _POOL.running += 1
    threading.Thread(target=_POOL._start_idle, daemon=True, name="checker-worker").start()


def shutdown() -> None:
    """Stop the idle workers (tests and benchmarks; the server's exit stops them anyway)."""
    _POOL.shutdown()


def main() -> None:
    """The worker process (started by `_Worker`, never by hand)."""
    # stdout carries the answers: anything printed by the maths goes to stderr instead
    answers = Connection(os.dup(sys.stdout.fileno()), readable=False)
    sys.stdout = sys.stderr
    import derivations.checker  # noqa: F401 - imported before the memory limit applies

    _serve(Connection(os.dup(sys.stdin.fileno()), writable=False), answers, int(sys.argv[1]))


_MAIN = "from derivations.checker.worker import main; main()"
