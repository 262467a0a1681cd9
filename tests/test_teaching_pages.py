"""Issue 15's new pages through app.py (AppTest): they render, react, and are linked from home."""

from __future__ import annotations

import re

import pytest

from tests.apptest_helpers import all_text, open_page, rendered_through_router
from ui import pages
from ui.questions import QUESTIONS

NEW_PAGES = (pages.BOUND_GAP, pages.DISCRETE, pages.LOGGED, pages.TEST_TIME)


def metric(at, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def number(text: str) -> float:
    return float(re.sub(r"[^0-9.eE+−-]", "", text.split(" ")[0]).replace("−", "-"))


@pytest.mark.parametrize("spec", NEW_PAGES, ids=lambda s: s.url_path)
def test_home_lists_a_question_answered_by_each_new_page(spec):
    assert any(q.page == spec for q in QUESTIONS), f"no home question links to {spec.path}"


def test_bound_gap_page_shows_verified_steps_and_the_bounds_in_order():
    at = open_page(pages.BOUND_GAP, timeout=600)
    assert not at.exception, [e.value for e in at.exception]
    assert rendered_through_router(at)
    verified = [m.value for m in at.markdown if "✓ verified" in m.value]
    assert len(verified) == 4  # every step after the first
    assert "FAILED" not in all_text(at)
    exact = number(metric(at, "exact log p(x)"))
    elbo = number(metric(at, "ELBO"))
    iwae_8 = number(metric(at, "IWAE bound, K = 8"))
    assert elbo < iwae_8 <= exact + 1e-3
    at.slider(key="gap_k").set_value(64).run()
    iwae_64 = number(metric(at, "IWAE bound, K = 64"))
    assert iwae_8 < iwae_64 <= exact + 1e-3
    gap = number(metric(at, "gap = KL(q(z|x) ‖ p(z|x)), averaged"))
    assert gap == pytest.approx(exact - elbo, abs=2e-3)


def test_discrete_page_shows_a_negative_loss_and_bin_numbers():
    at = open_page(pages.DISCRETE, timeout=600)
    assert not at.exception, [e.value for e in at.exception]
    assert "FAILED" not in all_text(at)
    assert number(metric(at, "peak density 1/(√(2π)σ)")) > 1
    assert number(metric(at, "−log N(x; μ, σ²I) for the whole image")) < 0
    at.select_slider(key="discrete_neg_sigma").set_value(1.0).run()
    assert number(metric(at, "peak density 1/(√(2π)σ)")) < 1
    assert number(metric(at, "−log N(x; μ, σ²I) for the whole image")) > 0
    table = at.dataframe[0].value
    assert (table["value"].iloc[1:] >= 0).all()  # −log of a probability
    assert table["value"].iloc[0] < 0  # −log of a density above 1 (σ = 0.05)


def test_logged_numbers_page_converts_f_mse_loss_by_hand_worked_numbers():
    at = open_page(pages.LOGGED)
    assert not at.exception, [e.value for e in at.exception]
    # defaults: F.mse_loss = 0.01, KL 5 (sum over latents, batch mean), D = 784, σ = 0.1
    assert metric(at, "−ELBO per image (nats)") == "-687.78"
    assert metric(at, "your log's total should read") == "5.01"
    at.number_input(key="logged_beta").set_value(4.0).run()
    assert metric(at, "your log's total should read") == "20.01"
    assert metric(at, "−ELBO per image (nats)") == "-687.78"  # the ELBO weighs the KL by 1
    assert "β = 4" in all_text(at)


def test_test_time_page_trains_a_quick_model_and_shows_the_four_decodings():
    at = open_page(pages.TEST_TIME, timeout=600)
    assert not at.exception, [e.value for e in at.exception]
    assert any("no model yet" in i.value for i in at.info)
    assert at.dataframe, "the metric table is shown even before a model exists"
    at.button(key="test_time_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("no model yet" in i.value for i in at.info)
    text = all_text(at)
    assert "Rows, top to bottom" in text
    assert "The lab's model at step 1,500" in text


def test_question_link_greets_on_a_new_page():
    at = open_page(pages.DISCRETE, query={"q": "negative-loss"}, timeout=600)
    banner = " ".join(i.value for i in at.info)
    assert "My VAE's loss is negative" in banner
    assert "#negative-loss" in banner


def test_implied_sigma_page_shows_the_real_std_of_the_huber_and_laplace_densities():
    """Item 6: both metrics are the noise density's own standard deviation."""
    import math

    import numpy as np
    from scipy import integrate

    at = open_page(pages.IMPLIED_SIGMA)
    at.selectbox(key="implied_data").set_value("digits (8×8)").run()  # β = D = 64
    at.selectbox(key="implied_loss").set_value("huber").run()
    assert not at.exception, [e.value for e in at.exception]
    s, delta = 64.0, 1.0

    def huber(r: float) -> float:
        return r * r / 2 if abs(r) <= delta else delta * (abs(r) - delta / 2)

    z = integrate.quad(lambda r: math.exp(-huber(r) / s), -np.inf, np.inf)[0]
    var = integrate.quad(lambda r: r * r * math.exp(-huber(r) / s) / z, -np.inf, np.inf)[0]
    assert number(metric(at, "noise std of that density")) == pytest.approx(math.sqrt(var), 1e-3)
    assert math.sqrt(var) > math.sqrt(s) * 1.5  # not the Gaussian core's √s
    at.selectbox(key="implied_loss").set_value("l1").run()
    assert number(metric(at, "noise std of that density")) == pytest.approx(math.sqrt(2) * 64, 1e-3)


def test_elbo_page_links_reach_the_exact_sigma_beta_pair_in_the_lab():
    """Item 10: run B's σ = 1/√2 and β = 2σ² arrive in the lab exactly (off-grid stops)."""
    at = open_page(pages.ELBO, timeout=600)
    links = [link for link in at.get("page_link") if "Lab run B" in link.proto.label]
    assert links and "β = 2σ² = 0.02" in links[0].proto.label
    lab = open_page(
        pages.LAB, query={"likelihood": "gaussian", "scale": "0.707107", "beta": "0.02"}
    )
    assert not lab.exception, [e.value for e in lab.exception]
    settings = lab.session_state.lab.settings
    assert (settings.scale, settings.beta) == (0.707107, 0.02)
    assert abs(1 / (2 * settings.scale**2) - 1) < 1e-6  # the Gaussian term is the plain SSE
