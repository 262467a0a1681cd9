"""What a lab session and a race session share as things the background worker trains: the
priority lock for views, the page's heartbeat and the training speed measured from it.

A mixin of methods only; each session (a dataclass) declares the fields it reads: `lock` (an
RLock), `_count_lock`, `_waiting`, `last_seen`, `_progress` (a deque of (time, step), maxlen
12), `running`, `step` and `pool` (the TrainingPool, or None: only explicit train_slice calls).
"""

from __future__ import annotations

import contextlib
import time
from typing import ClassVar


class LiveSession:
    HEARTBEAT_SECONDS: ClassVar[float] = 3.0  # no fragment run for this long: the tab is gone

    @contextlib.contextmanager
    def _locked(self):
        """Hold the lock for a view or a setting change. Locks are not fair: a trainer that
        releases and re-takes the lock in a loop could starve a waiting rerun, so while anyone
        waits here, `train_slice` yields its turn."""
        with self._count_lock:
            self._waiting += 1
        try:
            self.lock.acquire()
        finally:
            with self._count_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self.lock.release()

    def heartbeat(self) -> None:
        """Called by each live-view run of the page: the tab is still open."""
        self.last_seen = time.monotonic()
        self._progress.append((self.last_seen, self.step))

    def steps_per_second(self) -> float | None:
        """Training steps per second over the last few heartbeats (None when not training); a
        race's steps are batched, one step of every model."""
        if not self.running or len(self._progress) < 2:
            return None
        (t0, s0), (t1, s1) = self._progress[0], self._progress[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 >= s0 else None

    def between_slices(self) -> None:
        """Called by the background worker after each of this session's turns, for work that
        should not run in a page's view (nothing by default)."""

    def pause(self) -> None:
        self.running = False

    def _hand_to_pool(self) -> None:
        """After a start: beat once (the page's fragments beat from then on) and hand this
        session to the background worker, if it has one."""
        self.heartbeat()
        if self.pool is not None:
            self.pool.submit(self)
