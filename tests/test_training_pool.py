"""The background worker trains live sessions in turn and stops for a tab that went away."""

from __future__ import annotations

import functools
import gc
import time
import weakref

import pytest

from ui.lab_session import LabSession
from ui.lab_settings import LabSettings
from ui.training_pool import TrainingPool


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@pytest.fixture()
def pool():
    pool = TrainingPool(slice_seconds=0.02)
    yield pool
    pool.stop()


def test_sessions_train_in_turn_while_their_tabs_beat(pool):
    a = LabSession(LabSettings(seed=1), pool=pool)
    b = LabSession(LabSettings(seed=2, scale=0.5), pool=pool)
    a.start()
    b.start()
    assert wait_until(lambda: (a.heartbeat(), b.heartbeat(), a.step > 100 and b.step > 100)[-1])
    assert a.trainer.model is not b.trainer.model
    assert (
        b.trainer.likelihood.params["sigma"] == 0.5 and a.trainer.likelihood.params["sigma"] == 0.1
    )


def test_a_session_without_heartbeats_stops_training(monkeypatch, pool):
    monkeypatch.setattr(LabSession, "HEARTBEAT_SECONDS", 0.5)
    session = LabSession(pool=pool)
    session.start()
    assert wait_until(lambda: session.step > 0)
    time.sleep(0.8)  # the tab closed: no more heartbeats
    stopped_at = session.step
    time.sleep(0.5)
    assert session.step == stopped_at
    assert not session.wants_training()
    session.heartbeat()  # the tab is back
    assert wait_until(lambda: session.step > stopped_at)


def beating(session: LabSession) -> bool:
    session.heartbeat()
    return session.step > 0


def test_a_paused_session_gets_no_turns_and_a_dropped_one_is_forgotten(pool):
    session = LabSession(pool=pool)
    session.start()
    assert wait_until(functools.partial(beating, session))
    session.pause()
    time.sleep(0.2)
    paused_at = session.step
    time.sleep(0.3)
    assert session.step == paused_at
    gone = weakref.ref(session)
    del session
    gc.collect()
    assert gone() is None
    assert pool.active() == [] and pool._sessions == {}


def test_stop_ends_the_worker(pool):
    session = LabSession(pool=pool)
    session.start()
    assert wait_until(lambda: beating(session))
    pool.stop()
    assert not pool._thread.is_alive()


def test_the_worker_refreshes_the_metrics_of_a_training_session(monkeypatch, pool):
    monkeypatch.setattr(LabSession, "METRICS_SECONDS", 0.1)
    session = LabSession(LabSettings(dataset="digits"), pool=pool, live_metrics=True)
    session.start()
    assert wait_until(lambda: beating(session) and session.metrics_step > 0)
    first = session.metrics_step
    assert wait_until(lambda: beating(session) and session.metrics_step > first)
    assert session.metrics.n == 360  # the whole digits test split
