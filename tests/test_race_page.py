"""The race page through app.py's router (AppTest): start, live table, the sweep's plane, pins."""

from __future__ import annotations

import time

from models import likelihoods
from tests.apptest_helpers import all_text, open_page, rendered_through_router, train_past
from ui.pages import RACE


def trained(at, more_than: int = 0, timeout: float = 60.0):
    """Let the background worker train past `more_than` steps, then redraw the page."""
    session = at.session_state.race
    train_past(session, more_than, timeout)
    assert session.step > more_than, "the background worker did not train the race"
    return at.run()


def test_likelihood_race_trains_every_family_and_ranks_by_bits_per_dim():
    at = open_page(RACE)
    assert not at.exception and rendered_through_router(at)
    assert f"train {len(likelihoods.names())} models together" in all_text(at)
    at.button(key="race_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    trained(at)
    session = at.session_state.race
    models = session.trainer.K
    assert session.running and models == len(likelihoods.names())
    table = at.dataframe[0].value
    assert sorted(table["model"].str.split(" ").str[0]) == sorted(likelihoods.names())
    bits = table["bits/dim"].tolist()
    defined = [b for b in bits if b == b and b is not None]
    assert defined == sorted(defined)  # ranked, best first
    bernoulli = table[table["model"] == "bernoulli"].iloc[0]
    assert "improper on grey data" in bernoulli["note"]
    text = all_text(at)
    assert "BCE on grey data is improper" in text and "The **ELBO is not**" in text
    # input + one grid per model, for reconstructions and for samples
    assert len(at.get("image")) == 2 * len(likelihoods.names()) + 1
    at.button(key="race_pause").click().run()
    time.sleep(0.2)
    assert not session.running


def test_sigma_sweep_draws_the_rate_distortion_plane_and_pins():
    at = open_page(RACE)
    at.radio(key="race_preset").set_value("sigma-sweep").run()
    assert not at.exception
    at.button(key="race_start").click().run()
    trained(at)
    session = at.session_state.race
    assert {s.likelihood for s in session.trainer.specs} == {"gaussian"}
    assert 6 <= session.trainer.K <= 8
    assert len(at.get("plotly_chart")) == 1  # the plane
    assert "slope −2βσ²/D" in all_text(at)
    assert "BCE on grey data is improper" not in all_text(at)  # no Bernoulli in a Gaussian sweep
    at.radio(key="race_axis").set_value("nll").run()
    assert not at.exception and "rate + distortion = −ELBO" in all_text(at)
    at.button(key="race_pin").click().run()
    assert not at.exception
    assert len(session.pinned) == 1 and len(session.pinned[0].rows) == session.trainer.K
    csv_text = session.table_csv(session.pinned[0].rows)
    assert csv_text.splitlines()[0].startswith("rank,model,steps,bits/dim")
    assert len(csv_text.strip().splitlines()) == session.trainer.K + 1
    assert any("Pinned results" in h.value for h in at.header)
    session.pause()


def test_settings_change_asks_for_a_reset_and_bad_races_get_a_message():
    at = open_page(RACE)
    at.button(key="race_start").click().run()
    at.radio(key="race_preset").set_value("sigma-sweep").run()
    assert "press **Reset**, then **Start**" in all_text(at)
    at.session_state.race.pause()
    at.radio(key="race_preset").set_value("custom").run()
    at.multiselect(key="race_values").set_value([]).run()  # no σ at all
    assert not at.exception
    assert any("Cannot build this race" in e.value for e in at.error)
    assert at.button(key="race_start").disabled


def test_the_race_runs_on_real_28x28_digits():
    at = open_page(RACE)
    at.selectbox(key="race_dataset").set_value("mnist-5k").run()
    at.button(key="race_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    trained(at)
    session = at.session_state.race
    assert session.trainer.dataset.image_shape == (28, 28)
    assert len(at.dataframe[0].value) == len(likelihoods.names())
    assert "first 100 test images" in all_text(at)
    assert "grid of 256 values" in all_text(at)
    session.pause()
