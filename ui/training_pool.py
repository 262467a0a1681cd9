"""One background worker that trains every live lab session in turn, in short slices.

Why not train inside each page's fragment run: then a session trains only while its browser
keeps firing fragment timers, so training speed depended on the visitor's browser (measured:
eight headless tabs on a 2-core box held the server at 40 % of one core, bench/README.md). Here
the worker trains whenever any session wants it, round-robin, and fragments only draw.

Sessions are held by weak reference and must show a heartbeat (a fragment run of their page)
every few seconds: a closed tab stops sending them, so its training stops within
`LabSession.HEARTBEAT_SECONDS`; nothing keeps burning CPU for a gone user. Each session's model
is still its own; the worker only calls `session.train_slice`, which takes that session's lock.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import Protocol


class Trainable(Protocol):
    def wants_training(self) -> bool: ...
    def train_slice(self, max_seconds: float) -> object: ...
    def between_slices(self) -> None: ...


class TrainingPool:
    def __init__(self, slice_seconds: float = 0.05):
        self.slice_seconds = slice_seconds  # per session per turn: short turns keep it fair
        self._sessions: dict[int, weakref.ref] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def submit(self, session: Trainable) -> None:
        """Make sure `session` gets turns while it wants training (idempotent)."""
        with self._wake:
            self._sessions[id(session)] = weakref.ref(session)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="lab-training-pool", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def active(self) -> list[Trainable]:
        with self._wake:
            alive = {k: r for k, r in self._sessions.items() if r() is not None}
            self._sessions = alive
            sessions = [r() for r in alive.values()]
        return [s for s in sessions if s is not None and s.wants_training()]

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the slice in flight and end the worker (at exit: a daemon thread killed inside
        a torch call aborts the interpreter)."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._round():
                time.sleep(0.002)  # every session yielded to a waiting rerun: don't spin

    def _round(self) -> bool:
        """One turn for each session that wants training; False if none trained. (A method of
        its own, so no strong reference to a session outlives the round.)"""
        sessions = self.active()
        if not sessions:
            with self._wake:
                self._wake.wait(timeout=1.0)
            return True
        trained = False
        for session in sessions:
            try:
                trained |= session.train_slice(self.slice_seconds) is not None
                session.between_slices()
            except Exception as error:  # one session's failure must not stop the others
                stop = getattr(session, "stop_with_error", None)
                if stop is not None:
                    stop(error)
        return trained


POOL = TrainingPool()  # process-wide: one training thread, whatever the number of visitors
atexit.register(POOL.stop)
