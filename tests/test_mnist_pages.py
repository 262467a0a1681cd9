"""Real 28×28 digits in the app (AppTest through app.py): the lab trains on mnist-5k by default,
the collapse page's spectrum of real digits, and the F.mse_loss-mean demonstration."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from models.data import load_dataset
from models.drawn_digit import canvas_to_digit
from tests.apptest_helpers import all_text, open_page, train_past
from tests.references import active_by_eigenvalues
from ui.draw_view import encode_drawing
from ui.lab_session import LabSession
from ui.lab_settings import LabSettings
from ui.pages import COLLAPSE, IMPLIED_SIGMA, LAB


def test_lab_trains_on_real_digits_by_default():
    at = open_page(LAB)
    assert at.selectbox(key="lab_dataset").value == "mnist-5k"
    at.button(key="lab_train").click().run()
    session = at.session_state.lab
    train_past(session, 0, timeout=60.0)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert session.data.name == "mnist-5k" and session.trainer.config.data_dim == 784
    assert len(at.get("plotly_chart")) == 3  # losses, latent space, KL per dimension
    assert "20×20 box in 28×28" in all_text(at)  # the drawing panel, waiting for a drawing


def test_a_drawing_is_encoded_by_the_sessions_current_model():
    session = LabSession(LabSettings(dataset="mnist-5k"))
    square = np.zeros((200, 200, 4), dtype=np.uint8)
    square[50:150, 80:120] = 255
    x = canvas_to_digit(square, (28, 28))
    assert encode_drawing(session, x) is None  # no model yet
    trainer = session.ensure_trainer()
    drawn = encode_drawing(session, x)
    mu, _ = trainer.model.encode(torch.from_numpy(x)[None])
    np.testing.assert_allclose(drawn.z, mu[0].detach().numpy(), rtol=1e-6)
    assert encode_drawing(session, canvas_to_digit(square, (8, 8))) is None  # wrong size


def test_collapse_page_spectrum_of_real_digits():
    at = open_page(COLLAPSE)
    at.radio(key="collapse_data").set_value("mnist-5k").run()
    assert not at.exception
    active = next(m.value for m in at.metric if m.label == "active dimensions")
    assert active == f"{active_by_eigenvalues('mnist-5k', 0.3, 8)} / 8"
    at.select_slider(key="collapse_sigma2").set_value(2.0).run()
    active = next(m.value for m in at.metric if m.label == "active dimensions")
    assert active == f"{active_by_eigenvalues('mnist-5k', 2.0, 8)} / 8"
    at.button(key="collapse_train").click().run()
    session = at.session_state.collapse
    train_past(session, 0, timeout=60.0)
    assert session.trainer.config.linear and session.trainer.config.data_dim == 784


@pytest.mark.slow
def test_mse_mean_convention_collapses_to_the_mean_digit():
    at = open_page(IMPLIED_SIGMA)
    button = next(b for b in at.button if b.label.startswith("Train the F.mse_loss-mean"))
    assert "σ² = 392" in button.label
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    demo = at.session_state.mse_demo
    deadline = time.monotonic() + 240  # a hang guard: 2 × 1,000 steps
    while demo.running and time.monotonic() < deadline:
        for session in demo.sessions:
            session.heartbeat()
        time.sleep(0.1)
    at.run()
    assert not at.exception
    convention = demo.convention.refresh_metrics(min_interval_steps=1)
    exact = demo.exact.refresh_metrics(min_interval_steps=1)
    data = load_dataset("mnist-5k")
    shown = data.test[: convention.n]  # the test images the metrics are computed on
    mean_digit_mse = float(((shown - data.train.mean(0)) ** 2).mean())
    assert convention.kl < 0.5  # q(z|x) at the prior
    assert convention.mse == pytest.approx(mean_digit_mse, rel=0.02)  # the mean digit, always
    assert exact.mse < 0.9 * mean_digit_mse and exact.kl > 2  # the exact ELBO keeps digits
    assert all_text(at).count("step 1,000 of 1,000 · done") == 2  # both shown, finished
