"""The "Paste your loss" section of the implied-σ page, through app.py (AppTest)."""

from __future__ import annotations

import math

import pytest

from tests.apptest_helpers import open_page, rendered_through_router
from tests.test_loss_code_browser import ANTIXK
from ui.pages import IMPLIED_SIGMA


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def codes(at) -> str:
    return "\n".join(c.value for c in at.code)


@pytest.fixture(scope="module")
def at():
    return open_page(IMPLIED_SIGMA)


def test_default_example_is_answered_with_marks_verdict_and_fixed_code(at):
    assert not at.exception
    assert rendered_through_router(at)
    # F.mse_loss (mean over B·D) + KL summed over latents, mean over batch, MNIST 1×28×28
    assert metric(at, "β = k/a your code implies") == "784"
    assert metric(at, "σ² your code implies") == "392"
    assert metric(at, "a: weight on Σ pixel losses") == "1/100,352"  # 1/(B·D), B = 128
    assert metric(at, "k: weight on Σ KL") == "1/128"
    assert any("KL over-weighted" in w.value for w in at.warning)
    shown = codes(at)
    assert "recon = F.mse_loss(recon_x, x)  # ◀ reconstruction term" in shown
    assert "# ◀ KL term" in shown
    assert "SIGMA = 0.1" in shown and "(2 * SIGMA**2)" in shown
    assert "σ-VAE" in shown  # the calibrated-decoder tab


def test_missing_name_is_asked_then_answered(at):
    at.text_area(key="loss_code_text").set_value(ANTIXK)
    at.text_input(key="loss_code_shape").set_value("3, 64, 64").run()
    assert not at.exception
    assert any("`kld_weight`" in i.value for i in at.info)
    assert [n.key for n in at.number_input if n.key.startswith("loss_code_name_")] == [
        "loss_code_name_kld_weight"
    ]
    at.number_input(key="loss_code_name_kld_weight").set_value(0.00025).run()
    assert not at.exception
    assert metric(at, "β = k/a your code implies") == "3.072"  # 3·64·64 · 0.00025
    assert metric(at, "σ² your code implies") == "1.536"
    assert "def loss_function(recons, input, mu, log_var):" in codes(at)
    at.number_input(key="loss_code_noise").set_value(0.25).run()
    assert "SIGMA = 0.25" in codes(at)
    verified_before = sum("verified" in m.value for m in at.markdown)
    at.toggle(key="loss_code_algebra").set_value(True).run()
    assert not at.exception
    steps = [m.value for m in at.markdown if "verified" in m.value]
    assert len(steps) > verified_before  # the pasted loss's own steps, each checked
    assert not any("FAILED" in m for m in steps)


@pytest.mark.parametrize(
    "code, shape, message",
    [
        ("__import__('os').system('true')\n", "784", "refused"),
        ("x = " + "(" * 5000 + ")" * 5000, "784", "nest"),
        ("def f(a, b, mu, logvar):\n    return F.mse_loss(a, b)\n", "784", "no KL term"),
        ("def f(a, b, mu, logvar):\n    return F.mse_loss(a, b)\n", "28 by 28", "data shape"),
    ],
)
def test_bad_code_gets_a_specific_message_not_a_traceback(at, code, shape, message):
    at.text_area(key="loss_code_text").set_value(code)
    at.text_input(key="loss_code_shape").set_value(shape).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(message in e for e in errors), errors


def test_open_lab_button_trains_at_the_implied_sigma():
    at = open_page(IMPLIED_SIGMA)
    code = (
        "def loss_function(recon_x, x, mu, logvar):\n"
        "    return F.mse_loss(recon_x, x, reduction='sum') + "
        "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n"
    )
    at.text_area(key="loss_code_text").set_value(code).run()
    assert metric(at, "σ² your code implies") == "0.5"
    button = next(b for b in at.button if b.key == "loss_code_open_lab")
    assert "σ = 0.707107" in button.label
    button.click().run()
    assert not at.exception
    lab = at.session_state.lab
    assert lab.settings.likelihood == "gaussian"
    assert lab.settings.scale == pytest.approx(math.sqrt(0.5), rel=1e-5)
