"""The lab's per-session controller: settings from URLs, isolation, the training/rerun race."""

from __future__ import annotations

import math
import re
import threading
import time

import pytest
import torch

from models.trainer import Event, Stop
from models.vae import from_bytes
from ui.lab_session import (
    LabSession,
    _merge_drags,
    comparison_rows,
    event_label,
    settings_caption,
    stop_message,
    suggested_lr,
)
from ui.lab_settings import LabSettings, as_code, carried_scale, from_query


def started(settings: LabSettings | None = None, **options) -> LabSession:
    """A started session trained only by the test's own train_slice calls (no pool)."""
    session = LabSession(settings or LabSettings(), pool=None, **options)
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
    assert "scale" in settings.to_query() and "sigma" not in settings.to_query()


def test_old_sigma_links_still_open_with_their_value():
    assert from_query({"sigma": "0.05"}) == (LabSettings(scale=0.05), [])
    settings, problems = from_query({"sigma": "0.05", "scale": "0.2"})
    assert settings.scale == 0.2 and problems == ["scale and sigma both given; used scale"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("scale", "-1", "scale must be between"),
        ("sigma", "0", "sigma must be between"),  # the old key is named as given
        ("scale", "nan", "scale must be a number in plain decimal digits"),
        ("scale", "abc", "scale must be a number in plain decimal digits"),
        ("lr", "inf", "lr must be a number in plain decimal digits"),
        ("latent_dim", "2.5", "latent_dim must be a whole number"),
        ("latent_dim", "٣", "latent_dim must be a whole number in plain decimal digits"),
        ("sigma", "1_0", "sigma must be a number in plain decimal digits"),
        ("seed", "１２", "seed must be a whole number in plain decimal digits"),  # fullwidth
        ("beta", " 1", "beta must be a number in plain decimal digits"),
        ("sigma_min", "0.5", "sigma_min must be between 0.001 and 0.3"),
        ("likelihood", "__import__('os')", "likelihood must be one of"),
        ("dataset", "/etc/passwd", "dataset must be one of"),
    ],
)
def test_bad_query_values_are_refused_with_a_message_and_keep_the_default(key, value, message):
    parsed, problems = from_query({key: value, "seed": "3"} if key != "seed" else {key: value})
    assert len(problems) == 1 and message in problems[0]
    field = "scale" if key == "sigma" else key
    assert getattr(parsed, field) == getattr(LabSettings(), field)
    assert key == "seed" or parsed.seed == 3  # the good value in the same link still applies


def test_plain_decimal_notation_is_accepted():
    settings, problems = from_query(
        {"scale": "+5e-2", "lr": ".001", "beta": "2.", "latent_dim": "04", "alpha": "1E0"}
    )
    assert problems == []
    assert (settings.scale, settings.lr, settings.beta, settings.latent_dim) == (
        0.05,
        0.001,
        2.0,
        4,
    )


def test_a_repeated_key_says_which_value_was_used():
    settings, problems = from_query({"lr": ["0.1", "0.01"], "seed": ["5"]})
    assert settings.lr == 0.01 and settings.seed == 5
    assert problems == ["lr was given 2 times; used the last one"]


HOSTILE = {
    "alpha": "[x](http://attacker.example/phish)",
    "sigma": "![t](http://attacker.example/track.png)",
    "lr": "$\\color{red}{\\Huge HACKED}$",
    "beta": "1" * 20_000,
    "seed": "`` ``<b>x</b>\n\n# heading",
}


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_hostile_values_are_echoed_short_and_only_inside_a_code_span(key):
    value = HOSTILE[key]
    settings, problems = from_query({key: value})
    assert settings == LabSettings() and len(problems) == 1
    message = problems[0]
    assert len(message) < 200  # 20,000 characters are not echoed back
    # everything outside code spans is the app's own text: no link, image, LaTeX or HTML
    outside = re.sub(r"(`+) .*? \1", "", message)
    for live in ("](", "$", "<", "\n", "http"):
        assert live not in outside, (live, message)
    assert "\n" not in message  # a blank line would end a code span and let Markdown resume


def test_as_code_fences_longer_than_any_backtick_run():
    assert as_code("a``b") == "``` a``b ```"
    assert as_code("x") == "` x `"
    assert as_code("one\ntwo") == "` one two `"


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
    assert session.stop.reason == "non-finite"
    assert "the loss became infinite or undefined (NaN)" in session.message
    # rolled back to the last check (every 100 steps) before the bad steps
    assert session.step <= good_step and session.step % 100 == 0
    assert len(session.trainer.history.step) == session.step
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
    assert run is not None and rows[0]["step"] == session.step and rows[0]["σ"] == 0.5
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


# ---- divergence, family switches, the symbol table
def test_a_diverging_run_pauses_with_the_cause_and_the_lower_lr_fix_resumes():
    session = started(LabSettings(scale=1e-3, lr=1.0))
    while session.running:
        session.train_slice(0.5)
    assert session.stop.reason == "diverged" and session.step == 0
    message = session.message
    assert message.startswith("the loss diverged: around step 200")
    assert "the likely cause is the learning rate 1" in message
    assert "σ = 0.001" in message and "learning rate = 1" in message
    assert suggested_lr(1.0) == 1e-3 and suggested_lr(1e-3) == pytest.approx(1e-4)
    session.apply(LabSettings(scale=1e-3, lr=suggested_lr(1.0)))  # what the button applies
    session.start()
    assert session.message is None and session.stop is None
    result = session.train_slice(0.3)
    assert result.steps > 0 and result.stopped_reason is None


def test_stop_message_blames_a_small_scale_when_the_rate_is_already_low():
    stop = Stop("diverged", 300, 200, {"likelihood": "laplace", "scale": 1e-3, "lr": 1e-3,
                "beta": 1.0}, loss=5e4, best=30.0, threshold=90.0)  # fmt: skip
    message = stop_message(stop)
    assert "a very small b" in message and "laplace, b = 0.001" in message
    assert "back at step 200" in message and "σ" not in message


def test_switching_family_keeps_the_noise_standard_deviation():
    scale, note = carried_scale(LabSettings(scale=0.01), "laplace")
    assert scale == pytest.approx(0.00707)  # the Laplace std is √2·b
    assert note.startswith("b = 0.00707 keeps the noise standard deviation of σ = 0.01")
    back, _ = carried_scale(LabSettings(likelihood="laplace", scale=scale), "gaussian")
    assert back == pytest.approx(0.01, rel=1e-3)
    huber, _ = carried_scale(LabSettings(scale=0.01, alpha=100.0), "huber")
    assert huber == pytest.approx(0.01)  # α = 100: the Huber is its Gaussian core
    assert carried_scale(LabSettings(scale=0.3), "gaussian") == (0.3, None)  # no switch
    assert carried_scale(LabSettings(scale=0.3), "bernoulli") == (0.3, None)  # no scale
    kept, note = carried_scale(LabSettings(likelihood="gaussian-learned", scale=0.3), "laplace")
    assert kept == 0.3 and "no fixed noise scale" in note


def test_event_labels_and_drag_merging_work_on_structured_events():
    events = [
        Event(10, "sigma", 0.1, 0.2),
        Event(20, "sigma", 0.2, 0.3),
        Event(30, "lr", 1e-3, 1e-2),
        Event(900, "sigma", 0.3, 0.5),
        Event(905, "likelihood", "gaussian", "laplace"),
        Event(905, "scale", None, 0.07),
    ]
    merged = _merge_drags(events)
    assert [(e.step, e.name, e.before, e.after) for e in merged] == [
        (20, "sigma", 0.1, 0.3),  # one drag: from where it started to where it ended
        (30, "lr", 1e-3, 1e-2),
        (900, "sigma", 0.3, 0.5),
        (905, "likelihood", "gaussian", "laplace"),
        (905, "scale", None, 0.07),
    ]
    labels = [event_label(e) for e in merged]
    assert labels == [
        "σ → 0.3",
        "learning rate → 0.01",
        "σ → 0.5",
        "likelihood → laplace",
        "b → 0.07",
    ]
    assert settings_caption(LabSettings(likelihood="huber", scale=0.05, alpha=2.0)) == (
        "huber, b = 0.05, α = 2"
    )
    assert settings_caption(LabSettings(likelihood="bernoulli")) == "bernoulli"


def test_apply_reads_and_writes_the_settings_under_one_hold_of_the_lock():
    """Rerun A asks for σ = 0.3 while rerun B, holding the lock, switches to Bernoulli. A must
    diff against B's settings, not the ones it saw before waiting (which once sent σ to a
    Bernoulli trainer: "bernoulli takes no parameters; got sigma")."""
    session = started()
    session.train_slice(0.02)
    holding, go_on = threading.Event(), threading.Event()
    errors = []

    def rerun_b():
        with session.lock:
            holding.set()
            go_on.wait(30)  # A is now waiting for the lock
            session.apply(LabSettings(likelihood="bernoulli"))

    def rerun_a():
        try:
            session.apply(LabSettings(scale=0.3))
        except Exception as error:
            errors.append(error)

    b = threading.Thread(target=rerun_b)
    b.start()
    holding.wait(30)
    a = threading.Thread(target=rerun_a)
    a.start()
    time.sleep(0.2)
    go_on.set()
    b.join(30)
    a.join(30)
    assert errors == []
    assert session.settings == LabSettings(scale=0.3)
    assert session.trainer.likelihood.name == "gaussian"
    assert session.trainer.likelihood.params["sigma"] == pytest.approx(0.3)


def test_per_pixel_sigma_needs_a_reset_and_its_floor_applies_mid_run():
    session = started()
    session.train_slice(0.05)
    changed = session.apply(LabSettings(likelihood="gaussian-per-pixel"))
    assert changed == ["model (applies on reset)"] and session.pending_reset
    session.reset()
    assert session.trainer.config.outputs_per_pixel == 2
    session.start()
    session.train_slice(0.1)
    assert session.apply(LabSettings(likelihood="gaussian-per-pixel", sigma_min=0.05)) == [
        "sigma_min"
    ]
    assert session.trainer.likelihood.params["sigma_min"] == 0.05
    rows = session.reconstruction_rows(2)
    assert rows[0][1].shape == rows[0][0].shape  # the displayed mean is one value per pixel


# ---- test metrics: evaluated by the background worker, read by the view ---------------------
def count_evaluations(monkeypatch, during=None) -> list[int]:
    """Count calls of the session module's `evaluate`; `during(model)` runs inside each call."""
    import ui.lab_session as lab_session

    calls, real = [], lab_session.evaluate

    def counted(source, *args, **kwargs):
        calls.append(1)
        if during is not None:
            during(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(lab_session, "evaluate", counted)
    return calls


def test_the_worker_evaluates_a_copy_of_the_model_with_the_lock_free(monkeypatch):
    session = started(LabSettings(dataset="digits"), live_metrics=True)
    session.train_slice(0.2)
    taken_by_others = []

    def another_thread_takes_the_lock(model):
        if taken_by_others:
            return  # only the worker's evaluation is checked
        assert model is not session.trainer.model  # a snapshot: training may go on meanwhile
        thread = threading.Thread(
            target=lambda: (
                taken_by_others.append(session.lock.acquire(timeout=1)) or session.lock.release()
            )
        )
        thread.start()
        thread.join()

    calls = count_evaluations(monkeypatch, during=another_thread_takes_the_lock)
    step = session.step
    session.between_slices()
    assert calls == [1] and taken_by_others == [True]
    assert session.metrics_step == step
    # the same numbers as evaluating the live model at that step (seeded samples)
    live = session.refresh_metrics(min_interval_steps=0)
    assert session.metrics.elbo == live.elbo
    session.between_slices()  # due again only after METRICS_SECONDS
    assert calls == [1, 1]  # the second was the direct refresh above, not the worker


def test_while_training_the_view_reads_the_workers_metrics_and_paused_it_evaluates(monkeypatch):
    monkeypatch.setattr(LabSession, "METRICS_SECONDS", 0.0)
    session = started(LabSettings(dataset="digits"), live_metrics=True)
    session.train_slice(0.1)
    session.between_slices()
    calls = count_evaluations(monkeypatch)
    session.train_slice(0.1)  # the model moves on; the view still shows the worker's numbers
    assert session.current_metrics() == (session.metrics, session.metrics_step) and calls == []
    assert session.metrics_step < session.step
    session.pause()  # paused: the numbers are the model's as it is now
    metrics, step = session.current_metrics()
    assert metrics.n > 0 and calls == [1]
    assert step == session.metrics_step == session.step
    assert session.current_metrics()[0] is metrics and calls == [1]  # not again


def test_a_reset_during_a_background_evaluation_discards_its_result(monkeypatch):
    session = started(LabSettings(dataset="digits"), live_metrics=True)
    session.train_slice(0.1)
    count_evaluations(monkeypatch, during=lambda model: session.reset())
    session.between_slices()
    assert session.metrics is None and session.metrics_step == -1


def test_no_background_evaluation_for_a_tab_that_stopped_beating_or_did_not_ask(monkeypatch):
    session = started(LabSettings(dataset="digits"), live_metrics=True)
    session.train_slice(0.1)
    session.last_seen -= 2 * LabSession.HEARTBEAT_SECONDS
    calls = count_evaluations(monkeypatch)
    session.between_slices()
    assert calls == [] and session.metrics is None
    own_schedule = started(LabSettings(dataset="digits"))  # the collapse page, the MSE demo
    own_schedule.train_slice(0.1)
    own_schedule.between_slices()
    assert calls == [] and own_schedule.metrics is None
