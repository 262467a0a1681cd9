"""The race's pure parts: the session (budget, views, CSV), the fixed-σ optimum, the plane."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from figures.race_plots import rate_distortion
from models import race
from ui.race_session import RaceSession, RaceSettings


def test_fixed_sigma_optimum_is_where_sigma_squared_meets_the_error():
    # error e(σ) = 0.04 everywhere: σ² = e at σ = 0.2 exactly, between the 0.15 and 0.3 models.
    sigmas, errors, rates = [0.3, 0.1, 0.15, 0.05], [0.04] * 4, [2.0, 5.0, 4.0, 6.0]
    sigma, rate, error = race.fixed_sigma_optimum(sigmas, errors, rates)
    assert sigma == pytest.approx(0.2) and error == pytest.approx(0.04)
    t = math.log(0.2 / 0.15) / math.log(0.3 / 0.15)  # the log-σ interpolation weight
    assert rate == pytest.approx(4.0 + t * (2.0 - 4.0))
    assert race.fixed_sigma_optimum([0.1, 0.2], [0.5, 0.5], [1.0, 2.0]) is None  # no crossing


def point(index, sigma, rate, mse, nll, beta=1.0):
    return {
        "index": index,
        "label": f"gaussian σ={sigma}",
        "beta": beta,
        "scale": sigma,
        "gaussian": True,
        "rate": np.array(rate),
        "mse": np.array(mse),
        "nll": np.array(nll),
        "stopped": False,
    }


def test_plane_lines_hold_each_objective_constant():
    points = [
        point(0, 0.1, [1.0, 3.0], [0.06, 0.04], [50.0, 40.0], beta=2.0),
        point(1, 0.3, [1.5], [0.05], [5.0]),
    ]
    fig = rate_distortion(points, "mse", dim=64, selected=1, optimum=(0.2, 2.0, 0.04))
    dashed = [t for t in fig.data if t.line and t.line.dash == "dash"]
    assert len(dashed) == 2
    x, y = np.asarray(dashed[0].x), np.asarray(dashed[0].y, dtype=float)
    ok = np.isfinite(y)
    slope = np.polyfit(x[ok], y[ok], 1)[0]
    assert slope == pytest.approx(-2 * 2.0 * 0.1**2 / 64)  # −2βσ²/D through the current point
    assert np.interp(3.0, x, y) == pytest.approx(0.04)
    markers = [t for t in fig.data if t.customdata is not None]
    assert [int(t.customdata[0]) for t in markers] == [0, 1]
    assert markers[1].marker.size > markers[0].marker.size  # the selected one
    assert any(t.marker.symbol == "star" for t in fig.data if t.marker)
    assert fig.layout.yaxis.type == "log"
    nll = rate_distortion(points, "nll", dim=64)
    slopes = [
        np.polyfit(np.asarray(t.x), np.asarray(t.y), 1)[0]
        for t in nll.data
        if t.line and t.line.dash == "dash"
    ]
    assert slopes == pytest.approx([-2.0, -1.0])  # −β; at β = 1 the ELBO line
    with pytest.raises(ValueError):
        rate_distortion(points, "kl")


def test_session_trains_to_its_budget_and_tables_what_it_evaluated():
    session = RaceSession(
        RaceSettings(preset="sigma-sweep", values=(0.1, 0.3), steps=60), pool=None
    )
    session.start()
    while session.train_slice(0.05) is not None:
        session.heartbeat()
    assert session.step == 60 and not session.running and session.finished
    rows = session.table_rows()
    assert rows == []  # nothing evaluated yet
    session.refresh_metrics()
    rows = session.table_rows()
    assert [r["steps"] for r in rows] == [60, 60]
    assert {r["model"] for r in rows} == {"gaussian σ=0.1", "gaussian σ=0.3"}
    assert session.table_csv().splitlines()[0].startswith("rank,model,steps,bits/dim")
    assert len(session.reconstructions(3)) == 2 and session.reconstructions(3)[0].shape == (3, 64)
    points = session.sweep_points()
    assert [len(p["rate"]) for p in points] == [1, 1]
    session.start()  # finished: Start does nothing until Reset
    assert not session.running
    session.apply(RaceSettings(preset="likelihoods"))
    assert session.pending_reset
    session.reset()
    assert session.trainer is None and not session.pending_reset


def test_a_closed_tab_stops_training_within_the_heartbeat():
    session = RaceSession(RaceSettings(preset="sigma-sweep", values=(0.1,)), pool=None)
    session.start()
    assert session.wants_training() and session.train_slice(0.02) is not None
    session.last_seen -= RaceSession.HEARTBEAT_SECONDS + 0.1  # no fragment run since
    assert not session.wants_training()
    session.heartbeat()
    assert session.wants_training()


def test_the_worker_evaluates_copies_and_the_running_views_only_read(monkeypatch):
    import ui.race_session as race_session

    session = RaceSession(
        RaceSettings(preset="sigma-sweep", values=(0.1, 0.3), steps=2000), pool=None
    )
    session.start()
    session.train_slice(0.1)
    lock_free_during = []
    real = race_session.evaluate

    def counted(model, *args, **kwargs):
        assert all(model is not session.trainer.model(k) for k in range(2))
        thread = threading.Thread(
            target=lambda: (
                lock_free_during.append(session.lock.acquire(timeout=1)) or session.lock.release()
            )
        )
        thread.start()
        thread.join()
        return real(model, *args, **kwargs)

    monkeypatch.setattr(race_session, "evaluate", counted)
    session.between_slices()
    assert lock_free_during == [True, True]  # one evaluation per model, neither under the lock
    assert session.metrics_step == session.step and [len(t) for t in session.trails] == [1, 1]
    session.between_slices()  # not due again before EVAL_EVERY more steps
    assert len(lock_free_during) == 2
    monkeypatch.setattr(session.trainer, "evaluate_all", lambda **kw: pytest.fail("evaluated"))
    session.train_slice(0.1)
    assert session.current_metrics() is session.metrics  # racing: the view only reads
    assert session.metrics_step < session.step
