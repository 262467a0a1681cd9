"""The lab page through app.py's router (AppTest): controls, one training slice, URL settings."""

from __future__ import annotations

import re
import time

from tests.apptest_helpers import all_text, open_page, trained
from ui.pages import LAB


def step_count(at) -> int:
    for markdown in at.markdown:
        match = re.search(r"\*\*step ([\d,]+)\*\*", markdown.value)
        if match:
            return int(match.group(1).replace(",", ""))
    return -1


def test_train_runs_a_slice_and_shows_live_views():
    at = open_page(LAB)
    assert not at.exception
    assert "Press **Train** to start." in all_text(at)
    at.button(key="lab_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    trained(at, "lab")
    assert step_count(at) > 0
    assert at.session_state.lab.running
    assert len(at.get("plotly_chart")) == 3  # losses, latent space, KL per dimension
    assert len(at.get("image")) >= 2  # reconstruction and prior-sample grids, as PNG
    labels = [m.label for m in at.metric]
    assert "active units" in labels and "bits/dim (discretised)" in labels


def test_moving_sigma_mid_run_is_applied_and_written_to_the_url():
    at = open_page(LAB)
    at.button(key="lab_train").click().run()
    first = step_count(trained(at, "lab"))
    at.select_slider(key="lab_scale_gaussian").set_value(0.5).run()
    assert not at.exception
    session = at.session_state.lab
    assert session.trainer.likelihood.params["sigma"] == 0.5
    assert any(e.name == "sigma" and e.after == 0.5 for e in session.trainer.history.events)
    assert at.query_params["scale"] == "0.5"
    assert (
        step_count(trained(at, "lab", more_than=session.step)) > first
    )  # trains on after the change


def test_pause_stops_training():
    at = open_page(LAB)
    at.button(key="lab_train").click().run()
    trained(at, "lab")
    at.button(key="lab_pause").click().run()
    time.sleep(0.2)  # a slice already in flight when Pause landed (≤ 50 ms) ends first
    paused_at = at.session_state.lab.step
    time.sleep(0.3)
    at.run()
    assert not at.session_state.lab.running and at.session_state.lab.step == paused_at
    assert at.button(key="lab_train").label == "Resume"


def test_settings_come_from_the_url_and_bad_values_get_a_message():
    at = open_page(LAB, query={"likelihood": "laplace", "sigma": "0.3", "lr": "-5"})
    assert not at.exception
    settings = at.session_state.lab.settings
    assert settings.likelihood == "laplace" and settings.scale == 0.3
    warnings = " ".join(w.value for w in at.warning)
    assert "lr must be between" in warnings


def test_changing_latent_size_asks_for_a_reset():
    at = open_page(LAB)
    at.button(key="lab_train").click().run()
    at.number_input(key="lab_latent_dim").set_value(4).run()
    assert not at.exception
    assert any("press **Reset**" in i.value for i in at.info)
    at.button(key="lab_reset").click().run()
    assert at.session_state.lab.trainer.config.latent_dim == 4


def idx(dims: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file of unsigned bytes: magic 0x08, the number of dims, big-endian sizes."""
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def test_a_malformed_idx_folder_gets_a_message_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LIKELIHOOD_LAB_IDX_DIR", str(tmp_path))  # the server's configured folder
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx((2,), bytes([3, 7])))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx((2,), bytes([1, 2])))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx((2, 28, 28), bytes(2 * 784)))
    # Header promises 2 images of 28×28 but the file stops after 5 bytes of pixels.
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx((2, 28, 28), bytes(5)))
    at = open_page(LAB)
    at.selectbox(key="lab_dataset").set_value("mnist").run()
    at.button(key="lab_reset").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Cannot load the data set" in errors and "train-images-idx3-ubyte" in errors
    assert "truncated" in errors or "expected" in errors


def test_mnist_is_not_offered_without_a_configured_folder(monkeypatch):
    monkeypatch.delenv("LIKELIHOOD_LAB_IDX_DIR", raising=False)
    at = open_page(LAB)
    assert at.selectbox(key="lab_dataset").options == [
        "MNIST 28×28, 5,000 digits (embedded)",
        "MNIST 28×28, 5,000 digits, binarised",
        "8×8 digits (embedded)",
        "8×8 digits, binarised",
    ]
    assert not at.text_input  # no free-text server path anywhere on the page


def test_switching_data_mid_run_keeps_the_views_on_the_trained_model(monkeypatch):
    monkeypatch.delenv("LIKELIHOOD_LAB_IDX_DIR", raising=False)
    at = open_page(LAB, query={"dataset": "mnist"})  # a link naming a set this server lacks
    assert not at.exception
    at.button(key="lab_train").click().run()
    assert any("no folder for them" in e.value for e in at.error)
    at = open_page(LAB)
    at.button(key="lab_train").click().run()
    at.selectbox(key="lab_dataset").set_value("digits-binarised").run()
    assert not at.exception
    assert any("press **Reset**" in i.value for i in at.info)
    assert at.session_state.lab.data.name == "mnist-5k"  # views still draw the trained model
    assert step_count(trained(at, "lab")) >= 0 and not at.exception


def test_a_diverging_run_pauses_with_a_one_click_fix():
    """Issue 12 item 7: σ = 0.001 with lr = 1 trained on silently; now it pauses, says why, and
    one button lowers the learning rate (the slider shows it) and resumes."""
    at = open_page(LAB, query={"scale": "0.001", "lr": "1"})
    at.button(key="lab_train").click().run()
    session = at.session_state.lab
    deadline = time.monotonic() + 60
    while session.running and time.monotonic() < deadline:
        session.heartbeat()
        time.sleep(0.05)
    at.run()
    assert not at.exception and session.stop.reason == "diverged"
    errors = " ".join(e.value for e in at.error)
    assert "the loss diverged" in errors and "the likely cause is the learning rate 1" in errors
    fix = at.button(key="lab_lower_lr")
    assert fix.label == "Lower the learning rate to 0.001 and resume"
    fix.click().run()
    assert not at.exception
    assert at.select_slider(key="lab_lr").value == 0.001
    assert session.settings.lr == 0.001 and session.trainer.lr == 0.001
    assert session.running and session.message is None and not at.error


def test_switching_family_states_the_scale_it_carries_over():
    at = open_page(LAB, query={"scale": "0.01"})
    at.selectbox(key="lab_likelihood").select("laplace").run()
    assert not at.exception
    assert at.session_state.lab.settings.scale == 0.00707
    assert at.select_slider(key="lab_scale_laplace").value == 0.00707
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "b = 0.00707 keeps the noise standard deviation of σ = 0.01" in captions


def test_per_pixel_sigma_is_selectable_with_its_floor_control():
    at = open_page(LAB)
    at.selectbox(key="lab_likelihood").select("gaussian-per-pixel").run()
    assert not at.exception
    floor = at.select_slider(key="lab_sigma_min")
    assert floor.value == 0.01
    at.button(key="lab_train").click().run()
    trained(at, "lab")
    assert not at.exception
    assert at.session_state.lab.trainer.config.outputs_per_pixel == 2
    floor.set_value(0.05).run()
    assert at.session_state.lab.trainer.likelihood.params["sigma_min"] == 0.05
