"""The lab's and collapse page's views: one activity criterion for counter and bars, nothing
"trained" before training, a loss axis that survives a σ change, numbers that fit their tiles,
chart axes and legends that read right (issue 12, items 13–15)."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from scipy import optimize

from derivations import linear_vae
from derivations.elbo import beta_for_sigma, sigma_for_beta
from figures.lab_plots import kl_per_dimension, kl_theory_vs_trained, loss_curves, symlog
from figures.likelihood_plots import beta_vs_sigma, kl_monte_carlo, robust_densities
from models.evaluate import ACTIVE_THRESHOLD
from tests.apptest_helpers import all_text, open_page, trained
from ui.lab_session import EVAL_K
from ui.number_format import compact
from ui.pages import COLLAPSE, ELBO, LAB


# ---- numbers in metric tiles -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (-5226814.2, 1, "−5.23e6"),
        (-123.456, 1, "−123.5"),
        (0.0123, 4, "0.0123"),
        (0.000012, 4, "1.2e−5"),
        (None, 3, "n/a"),
        (math.inf, 3, "∞"),
    ],
)
def test_compact_numbers_fit_a_metric_tile(value, decimals, shown):
    assert compact(value, decimals) == shown
    assert len(shown) <= 9


# ---- the loss chart ---------------------------------------------------------------------------
def _sigma_drop_history():
    """Loss near 50 for 4000 steps, then σ is divided by 10: the loss jumps to 6000 → 5000."""
    steps = np.arange(1, 6001)
    after = np.clip(steps - 4000, 0, None)
    loss = np.where(
        steps <= 4000, 50 + 5 * np.exp(-steps / 300), 5000 + 1000 * np.exp(-after / 300)
    )
    return steps, loss, loss - 1, np.ones_like(loss), [(4000, "σ 0.1 → 0.01")]


def test_loss_axis_zooms_on_the_run_since_the_last_change():
    steps, loss, recon, kl, events = _sigma_drop_history()
    fig = loss_curves(steps, loss, recon, kl, events)
    low, high = fig.layout.yaxis.range
    after = loss[steps > 4000]
    # the new regime fills most of the panel instead of a thin line at the top
    assert (after.max() - after.min()) / (high - low) > 0.5
    assert low > 1000


def test_symlog_loss_axis_shows_the_whole_run_with_loss_valued_ticks():
    steps, loss, recon, kl, events = _sigma_drop_history()
    fig = loss_curves(steps, loss, recon, kl, events, y_axis="symlog")
    # plotted on sign(y)·log10(1 + |y|), hovering shows the loss itself
    np.testing.assert_allclose(fig.data[0].y, symlog(fig.data[0].customdata))
    assert max(fig.data[0].customdata) > 4000 and min(fig.data[0].customdata) < 60
    assert fig.layout.yaxis.range is None  # autorange over everything
    labels = dict(zip(fig.layout.yaxis.ticktext, fig.layout.yaxis.tickvals, strict=True))
    assert labels["100"] == pytest.approx(symlog(100.0)) and "10³" in labels
    negative = loss_curves(steps, -loss, -recon, kl, y_axis="symlog")  # losses can be < 0
    assert "−100" in negative.layout.yaxis.ticktext


# ---- one activity criterion -------------------------------------------------------------------
def test_kl_bars_are_coloured_by_the_counters_criterion():
    fig = kl_per_dimension([0.8, 0.005, 0.3], [True, False, False], [0.5, 0.0, 0.004])
    by_colour = {trace.name: list(trace.x) for trace in fig.data}
    assert by_colour == {"active": ["z1"], "inactive": ["z2", "z3"]}
    assert not fig.layout.shapes, "no KL threshold line that could disagree with the colours"
    with pytest.raises(ValueError, match="one active flag per dimension"):
        kl_per_dimension([1.0, 2.0], [True])


def test_lab_counter_counts_exactly_the_blue_bars_and_states_the_rule():
    at = open_page(LAB, query={"latent_dim": "6", "sigma": "1"})
    at.button(key="lab_train").click().run()
    trained(at, "lab", more_than=300)
    at.button(key="lab_pause").click().run()
    at.run()
    assert not at.exception
    session = at.session_state.lab
    metrics = session.metrics
    counter = next(m.value for m in at.metric if m.label == "active units")
    chart = next(
        c for c in at.get("plotly_chart") if '"title":{"text":"KL per latent' in c.proto.spec
    )
    blue = re.findall(r'"name":"active","x":\[([^\]]*)\]', chart.proto.spec)
    blue_count = len(re.findall(r'"z\d+"', blue[0])) if blue else 0
    assert counter == f"{blue_count} / 6" == f"{metrics.active_units} / 6"
    assert "Burda et al. 2016" in all_text(at) and f"> {ACTIVE_THRESHOLD}" in all_text(at)
    assert f"K = {EVAL_K}" in all_text(at)
    assert "update p50" not in all_text(at).split("For developers")[0]


def test_metrics_after_a_rerun_are_never_from_an_older_model():
    """Paused fewer than 200 steps after the last evaluation, then Resume: the metrics must be
    those of the model now, not of an earlier step (they showed step 0 for seconds)."""
    at = open_page(LAB)
    at.button(key="lab_train").click().run()
    trained(at, "lab")
    at.button(key="lab_pause").click().run()
    time.sleep(0.2)
    session = at.session_state.lab
    with session.lock:
        session.trainer.run(max_steps=50, max_seconds=5.0)  # the model moves on a little
    at.run()
    shown = re.search(r"Test-split metrics at step ([\d,]+)", all_text(at))
    assert shown and int(shown.group(1).replace(",", "")) == session.step


# ---- the collapse page ------------------------------------------------------------------------
def test_collapse_page_shows_nothing_trained_before_training():
    at = open_page(COLLAPSE)
    assert not at.exception
    text = all_text(at)
    assert "trained active units" not in text
    kl_chart = next(c for c in at.get("plotly_chart") if "KL per latent dimension" in c.proto.spec)
    assert re.findall(r'"name":"([^"]+)"', kl_chart.proto.spec) == ["analytic optimum"]
    assert re.search(r"Analytic optimum: \*\*\d+\*\* active units", text)


def test_collapse_page_counts_both_with_one_criterion_after_training():
    at = open_page(COLLAPSE)
    at.button(key="collapse_train").click().run()
    trained(at, "collapse", more_than=200)
    text = all_text(at)
    assert re.search(
        r"Active units: analytic optimum \*\*\d+\*\* · after [\d,]+ steps \*\*\d+\*\*", text
    )
    assert "Burda et al. 2016" in text
    assert "trained active units" not in text


def test_collapse_page_prints_the_sympy_objects_it_computes_with():
    import sympy as sp

    at = open_page(COLLAPSE)
    shown = "\n".join([m.value for m in at.markdown] + [m.value for m in at.latex])
    assert sp.latex(linear_vae.kl_per_direction_expr()) in shown
    assert sp.latex(linear_vae.column_norm_expr()) in shown


def test_linear_optimum_expressions_match_independent_numerics():
    lam, sigma2 = 2.0, 0.3

    # ‖w‖: maximise the per-direction log-likelihood numerically (scipy, no SymPy)
    def negative_loglik(w):
        c = w * w + sigma2
        return 0.5 * math.log(2 * math.pi * c) + lam / (2 * c)

    best = optimize.minimize_scalar(negative_loglik, bounds=(0, 10), method="bounded")
    values = linear_vae.optimum_per_direction(np.array([lam, 0.1]), sigma2)
    assert values["norm"][0] == pytest.approx(best.x, rel=1e-4)
    # the KL from the numeric optimal encoder (linear algebra, no SymPy) for W = [‖w‖]
    W = np.array([[values["norm"][0]]])
    V, v = linear_vae.optimal_encoder(W, sigma2)
    kl = 0.5 * float((V @ [[lam]] @ V.T)[0, 0] + v[0] - 1 - np.log(v[0]))
    assert values["kl"][0] == pytest.approx(kl, rel=1e-9)
    assert values["mean_var"][0] == pytest.approx(float((V @ [[lam]] @ V.T)[0, 0]), rel=1e-9)
    assert values["norm"][1] == values["kl"][1] == 0.0 and values["post_var"][1] == 1.0


# ---- other charts -----------------------------------------------------------------------------
def test_kl_trained_bars_are_named_by_their_step():
    fig = kl_theory_vs_trained([1.0, 0.5], [0.9, 0.4], "after 1,200 steps")
    assert [t.name for t in fig.data] == ["analytic optimum", "after 1,200 steps"]
    assert len(kl_theory_vs_trained([1.0], None).data) == 1


def test_beta_axis_uses_powers_of_ten_and_the_derived_beta():
    fig = beta_vs_sigma(0.01, beta_for_sigma, float(sigma_for_beta(1.0)))
    assert fig.layout.yaxis.exponentformat == "power" == fig.layout.xaxis.exponentformat
    np.testing.assert_allclose(fig.data[0].y, 2 * np.asarray(fig.data[0].x) ** 2)
    assert fig.data[1].y[0] == pytest.approx(2e-4)
    assert any("σ = 0.707" in (a.text or "") for a in fig.layout.annotations)


def test_huber_loss_panel_uses_the_density_panels_colours():
    fig = robust_densities(1.0, 1.0, lambda alpha: 0.0)
    density = {t.name: t.line.color for t in fig.data if t.showlegend is not False}
    loss = {t.name: t.line.color for t in fig.data if t.showlegend is False}
    assert density == loss and len(set(density.values())) == 3
    assert fig.layout.showlegend is not False


def test_kl_histogram_reference_lines_are_named_in_the_legend_not_on_the_bars():
    samples = np.random.default_rng(0).normal(1.0, 0.5, 2000)
    fig = kl_monte_carlo(0.5, 0.8, samples, 1.0)
    assert not fig.layout.annotations
    names = [t.name for t in fig.data]
    assert "mean of estimates" in names and "closed-form KL" in names


def test_elbo_page_chart_draws_the_derivations_beta():
    at = open_page(ELBO)
    assert not at.exception
    assert any("2 \\sigma^{2}" in c.value for c in at.caption)


# ---- the implied-σ page -----------------------------------------------------------------------
def test_a_number_times_a_fraction_prints_with_a_product_sign():
    import sympy as sp

    from derivations.base import D
    from ui.latex import latex

    two_sigma2 = sp.Mul(2, D / 2, evaluate=False)  # 2σ² with σ² = D/2, as the page builds it
    assert latex(two_sigma2) == r"2 \cdot \frac{D}{2}"  # not "2 \frac{D}{2}", read as 2 D/2
    assert latex(sp.Mul(2, sp.Pow(two_sigma2, -1, evaluate=False), evaluate=False)) == (
        r"\frac{2}{2 \cdot \frac{D}{2}}"
    )
    assert latex(sp.Symbol("x_2") * D / 2) == sp.latex(sp.Symbol("x_2") * D / 2)


def test_implied_sigma_page_wraps_code_and_shows_two_times_d_over_two():
    from ui.pages import IMPLIED_SIGMA

    at = open_page(IMPLIED_SIGMA)
    assert not at.exception
    from derivations.implied_sigma import KL_SNIPPETS, RECON_SNIPPETS

    snippets = {s.code for s in (*KL_SNIPPETS.values(), *RECON_SNIPPETS.values())}
    shown = [code for code in at.code if code.value in snippets]
    assert len(shown) == 2 and all(code.proto.wrap_lines for code in shown)  # never cut off
    shown = "\n".join(block.value for block in at.latex)
    assert r"2 \cdot \frac{D}{2}" in shown and r"2 \frac{D}{2}" not in shown


def test_a_pinned_run_shows_its_row_and_its_reconstructions():
    at = open_page(LAB, query={"dataset": "digits"})
    at.button(key="lab_train").click().run()
    trained(at, "lab", more_than=100)
    at.button(key="lab_pin").click().run()
    assert not at.exception
    pinned = at.session_state.lab.pinned
    assert len(pinned) == 1 and "Pinned runs" in all_text(at)
    captions = [image.caption for element in at.get("image") for image in element.proto.imgs]
    assert "run 1: gaussian, σ = 0.1" in captions
