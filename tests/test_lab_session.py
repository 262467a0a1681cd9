"""The lab's per-session controller: settings from URLs, isolation, the training/rerun race."""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from models.vae import from_bytes
from ui.lab_session import LabSession, comparison_rows
from ui.lab_settings import LabSettings, from_query


def started(settings: LabSettings | None = None) -> LabSession:
    """A started session trained only by the test's own train_slice calls (no pool)."""
    session = LabSession(settings or LabSettings(), pool=None)
    session.start()
    return session


# ---- settings in the query string
def test_settings_round_trip_through_the_query_string():
    settings = LabSettings(
        likelihood="laplace", scale=0.05, latent_dim=4, beta=2.0, lr=3e-3, seed=7
    )
    parsed, problems = from_query(settings.to_query())
    assert problems == []
    assert parsed == settings


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sigma", "-1", "sigma must be between"),
        ("sigma", "0", "sigma must be between"),
        ("sigma", "nan", "sigma must be between"),
        ("sigma", "abc", "sigma must be a number"),
        ("lr", "inf", "lr must be between"),
        ("latent_dim", "2.5", "latent_dim must be a whole number"),
        ("likelihood", "__import__('os')", "likelihood must be one of"),
        ("dataset", "/etc/passwd", "dataset must be one of"),
    ],
)
def test_bad_query_values_are_refused_with_a_message_and_keep_the_default(key, value, message):
    parsed, problems = from_query({key: value, "seed": "3"})
    assert len(problems) == 1 and message in problems[0]
    assert getattr(parsed, key) == getattr(LabSettings(), key)
    assert parsed.seed == 3  # the good value in the same link still applies


def test_unknown_query_keys_are_ignored():
    assert from_query({"q": "constants", "utm": "x"}) == (LabSettings(), [])


# ---- isolation
def test_two_sessions_train_independently():
    a, b = started(LabSettings(scale=0.05, seed=1)), started(LabSettings(scale=3.0, seed=2))
    a.train_slice(0.3)
    assert a.step > 0 and b.step == 0 and b.history()["step"].size == 0
    b.train_slice(0.1)
    assert a.trainer is not b.trainer and a.trainer.model is not b.trainer.model
    assert all(
        pa.data_ptr() != pb.data_ptr()
        for pa, pb in zip(a.trainer.model.parameters(), b.trainer.model.parameters(), strict=True)
    )
    assert a.trainer.likelihood.params["sigma"] == pytest.approx(0.05)
    assert b.trainer.likelihood.params["sigma"] == pytest.approx(3.0)


def test_a_paused_session_does_not_train():
    session = started()
    session.pause()
    assert session.train_slice(0.1) is None and session.step == 0


def hold_lock_in_another_thread(session: LabSession):
    """Hold the session's lock from another thread (as a concurrent rerun would) until released."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with session.lock:
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(30)
    return release, thread


def test_a_slice_is_skipped_not_waited_for_when_the_lock_is_held():
    session = started()
    release, thread = hold_lock_in_another_thread(session)
    try:
        assert session.train_slice(0.1) is None
    finally:
        release.set()
        thread.join()
    assert session.train_slice(0.05) is not None


def test_settings_wait_for_a_slice_in_the_middle_of_a_torch_step():
    """Deterministic race: a rerun applies σ while another run is inside trainer.run."""
    session = started()
    session.train_slice(0.02)
    inside, finish = threading.Event(), threading.Event()
    original_run = session.trainer.run

    def slow_run(**kwargs):
        inside.set()
        finish.wait(30)  # "inside the torch step"
        return original_run(**kwargs)

    session.trainer.run = slow_run
    slicer = threading.Thread(target=session.train_slice, args=(0.02,))
    slicer.start()
    inside.wait(30)
    applied = threading.Event()
    rerun = threading.Thread(target=lambda: (session.apply(LabSettings(scale=0.7)), applied.set()))
    rerun.start()
    assert not applied.wait(0.3), "apply() changed σ while a slice was mid-step"
    finish.set()
    slicer.join(30)
    rerun.join(30)
    assert applied.is_set()
    assert session.trainer.likelihood.params["sigma"] == pytest.approx(0.7)
    assert session.trainer.history.events[-1].name == "sigma"


# ---- the race: reruns that touch the session while a slice is inside a torch step
def test_concurrent_slices_settings_and_views_never_corrupt_the_run():
    session = started()
    errors: list[BaseException] = []
    stop = threading.Event()

    def trainer_loop():
        try:
            while not stop.is_set():
                if session.train_slice(0.02) is None:
                    time.sleep(0.001)  # as the pool does: a skipped turn must not spin
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def rerun_loop(worker: int):
        sigmas = (0.05, 0.1, 0.3, 1.0)
        try:
            for n in range(40):
                session.apply(LabSettings(scale=sigmas[(n + worker) % 4], beta=1.0 + n % 2))
                session.history()
                session.reconstruction_rows(4)
                session.prior_samples(4)
                session.latent_codes(50)
                if n % 10 == 0:
                    session.refresh_metrics(min_interval_steps=0)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=trainer_loop) for _ in range(2)]
    threads += [threading.Thread(target=rerun_loop, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads[2:]:
        t.join(timeout=120)
    stop.set()
    for t in threads[:2]:
        t.join(timeout=30)
    assert errors == []
    history = session.history()
    assert len(history["step"]) == session.step > 0
    assert list(history["step"]) == list(range(1, session.step + 1))  # no step lost or doubled
    assert all(math.isfinite(v) for v in history["loss"])
    assert any("σ" in label for _, label in history["events"])


# ---- guards and lifecycle
def test_a_non_finite_loss_pauses_with_a_message_and_reset_recovers():
    session = started()
    session.train_slice(0.1)
    good_step = session.step
    session.trainer.X = torch.full_like(session.trainer.X, float("nan"))  # poison the data
    session.train_slice(0.5)
    assert not session.running
    assert "non-finite" in session.message
    assert session.step == good_step  # the bad steps were rolled back
    assert all(torch.isfinite(p).all() for p in session.trainer.model.parameters())
    session.reset()
    assert session.message is None and session.step == 0


def test_architecture_changes_wait_for_reset_and_others_apply_mid_run():
    session = started()
    session.train_slice(0.05)
    assert session.apply(LabSettings(scale=0.3)) == ["sigma"]
    assert session.trainer.likelihood.params["sigma"] == pytest.approx(0.3)
    assert session.apply(LabSettings(scale=0.3, likelihood="laplace")) == ["likelihood"]
    assert session.trainer.likelihood.name == "laplace"
    changed = session.apply(LabSettings(scale=0.3, likelihood="laplace", latent_dim=5))
    assert changed == ["model (applies on reset)"] and session.pending_reset
    assert session.train_slice(0.05) is None  # no training on a model that no longer matches
    session.reset()
    assert session.trainer.config.latent_dim == 5 and not session.pending_reset


def test_downloads_and_pinned_runs():
    session = started(LabSettings(seed=3))
    session.train_slice(0.2)
    session.apply(LabSettings(seed=3, scale=0.5))
    session.train_slice(0.1)
    lines = session.metrics_csv().strip().splitlines()
    assert lines[0].startswith("step,loss_recon_plus_beta_kl")
    assert len(lines) == session.step + 1
    assert any("σ → 0.5" in line for line in lines)
    model, likelihood = from_bytes(session.weights_bytes())
    assert likelihood.name == "gaussian" and model.config.latent_dim == 2
    run = session.pin()
    rows = comparison_rows(session.pinned)
    assert run is not None and rows[0]["step"] == session.step and rows[0]["sigma"] == 0.5
    assert rows[0]["ELBO (nats)"] is not None and len(run.grid_rows) == 6


def test_long_runs_keep_bounded_history_and_chart_data(monkeypatch):
    import ui.lab_session as lab_session

    monkeypatch.setattr(lab_session, "HISTORY_ROWS", 500)
    session = started()
    for sigma in (0.2, 0.21, 0.22, 0.5):  # a "drag": three changes a few steps apart, then one
        session.apply(LabSettings(scale=sigma))
        session.train_slice(0.02)
    while session.step < 1500:
        session.train_slice(0.2)
    h = session.trainer.history
    assert len(h.step) <= 500 and h.step[-1] == session.step
    assert all(a < b for a, b in zip(h.step, h.step[1:], strict=False))  # still ordered
    chart = session.history(max_rows=100)
    assert len(chart["step"]) == 100
    labels = [label for _, label in chart["events"]]
    assert len(labels) < 4 and labels[-1] == "σ → 0.5"  # the drag is one marker
