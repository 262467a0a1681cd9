"""Interactive pages through app.py (AppTest): implied σ, posterior collapse, the checker."""

from __future__ import annotations

import numpy as np

from tests.apptest_helpers import open_page, train_past
from tests.references import active_by_eigenvalues
from ui.pages import CHECKER, COLLAPSE, GAUSSIAN, IMPLIED_SIGMA


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def click(at, label: str):
    return next(b for b in at.button if b.label == label).click()


# ---- implied σ
def test_default_pytorch_code_on_mnist_implies_sigma2_392():
    at = open_page(IMPLIED_SIGMA)
    assert not at.exception
    assert metric(at, "implied σ²") == "392"
    assert metric(at, "implied σ") == "19.8"
    assert any("over-weighted" in w.value for w in at.warning)
    assert any("✓ verified" in m.value for m in at.markdown)  # the algebra's steps are checked


def test_picking_a_snippet_fills_the_reductions():
    at = open_page(IMPLIED_SIGMA)
    at.selectbox(key="implied_recon_snippet").set_value("PyTorch F.mse_loss, reduction='sum'")
    at.run()
    assert not at.exception
    assert at.radio(key="implied_recon").value == "sum"
    assert at.radio(key="implied_recon_batch").value == "sum"
    # Summed SSE over the batch against a batch-mean KL: β = 1/B, σ² = 1/(2B) with B = 128.
    assert metric(at, "implied σ²") == "0.003906"
    assert any("plausible noise level" in s.value for s in at.success)  # σ = 0.0625


def test_open_lab_button_carries_the_implied_sigma_into_the_lab():
    at = open_page(IMPLIED_SIGMA)
    at.selectbox(key="implied_data").set_value("digits (8×8)").run()
    assert metric(at, "implied σ²") == "32"
    click(at, next(b.label for b in at.button if b.label.startswith("Open the live lab"))).run()
    assert not at.exception
    lab = at.session_state.lab
    assert lab.settings.likelihood == "gaussian"
    assert lab.settings.scale == float(f"{np.sqrt(32):g}")  # σ = √32 ≈ 5.66, inside the range


# ---- posterior collapse
def test_collapse_page_counts_active_dimensions_as_theory_says():
    at = open_page(COLLAPSE)
    assert not at.exception
    assert metric(at, "active dimensions") == f"{active_by_eigenvalues('digits', 0.3, 8)} / 8"
    at.select_slider(key="collapse_sigma2").set_value(1.0).run()
    assert metric(at, "active dimensions") == "0 / 8"
    at.select_slider(key="collapse_sigma2").set_value(0.05).run()
    assert metric(at, "active dimensions") == f"{active_by_eigenvalues('digits', 0.05, 8)} / 8"


def test_collapse_page_trains_a_linear_vae():
    at = open_page(COLLAPSE)
    at.button(key="collapse_train").click().run()
    assert not at.exception
    session = at.session_state.collapse
    train_past(session)  # the background worker trains
    at.run()
    assert session.linear and session.step > 0
    assert session.trainer.config.linear
    assert any(f"after {session.metrics_step:,} steps" in m.value for m in at.markdown)


# ---- the checker
def test_checker_example_gets_an_equal_verdict():
    at = open_page(CHECKER)
    click(at, "the expanded Gaussian log-likelihood").run()
    click(at, "Check").run()
    assert not at.exception
    assert any(s.value.startswith("**Equal.**") for s in at.success)
    assert at.latex  # the input is rendered back


def test_checker_flags_the_log_sigma_slip():
    at = open_page(CHECKER)
    click(at, "the −½Σσᵢ² slip (per-pixel σᵢ)").run()
    click(at, "Check").run()
    assert not at.exception
    assert any("Not equal" in e.value for e in at.error)
    assert any("log" in m.value for m in at.markdown if "hint" in m.value)


def test_checker_refuses_code_with_a_message_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    at = open_page(CHECKER)
    at.text_area(key="checker_text").input(f"__import__('os').system('touch {marker}')")
    click(at, "Check").run()
    assert not at.exception
    assert any("not allowed" in w.value for w in at.warning)
    assert not marker.exists()


def test_try_it_box_on_a_derivation_page():
    at = open_page(GAUSSIAN)
    at.text_input(key="try_text_gaussian-mse").input("-sum((x_i-mu_i)^2)/(2*sigma^2)")
    at.selectbox(key="try_target_gaussian-mse").set_value(2)  # "expanded"
    next(b for b in at.button if b.label == "Check").click().run()
    assert not at.exception
    assert any("additive constant" in s.value for s in at.success)
