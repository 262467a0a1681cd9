"""The textbook printer: (xᵢ − μᵢ)² and 1/(√(2π)σ)·exp(…), for expressions the checker verifies."""

from __future__ import annotations

import sympy as sp

import derivations
from derivations.base import check_derivation, i, mu, sigma, x
from derivations.gaussian import normal_pdf
from derivations.printing import textbook_latex
from ui.latex import derivation_views


def test_squared_residual_prints_data_first():
    expr = (x[i] - mu[i]) ** 2
    assert sp.latex(expr) == r"\left(- {\mu}_{i} + {x}_{i}\right)^{2}"  # SymPy's canonical order
    assert textbook_latex(expr) == r"\left({x}_{i} - {\mu}_{i}\right)^{2}"


def test_gaussian_density_prints_one_over_root_two_pi_sigma_times_exp():
    expr = normal_pdf(x[i], mu[i], sigma)
    assert r"\sqrt{2} e^{" in sp.latex(expr)  # what SymPy alone writes
    assert textbook_latex(expr) == (
        r"\frac{1}{\sqrt{2 \pi} \sigma} "
        r"\exp\left(- \frac{\left({x}_{i} - {\mu}_{i}\right)^{2}}{2 \sigma^{2}}\right)"
    )


def test_printing_leaves_the_expression_alone():
    expr = normal_pdf(x[i], mu[i], sigma)
    before = sp.srepr(expr)
    textbook_latex(expr)
    assert sp.srepr(expr) == before


def test_absolute_residual_prints_data_first():
    assert textbook_latex(sp.Abs(x[i] - mu[i])) == r"\left|{{x}_{i} - {\mu}_{i}}\right|"


def test_rational_coefficient_stays_a_plain_fraction():
    a, s = sp.symbols("alpha s", positive=True)
    assert textbook_latex(2 * s * sp.exp(-(a**2) / s) / a).startswith(r"\frac{2}{\alpha} s")


def test_gaussian_page_steps_render_the_textbook_forms_and_stay_verified():
    derivation = derivations.get("gaussian-mse")
    views = derivation_views(derivation)
    assert r"\frac{1}{\sqrt{2 \pi} \sigma}" in views[0].latex
    assert all(r"- {\mu}_{i} + {x}_{i}" not in v.latex for v in views)
    assert all(check.ok for check in check_derivation(derivation))


def test_a_sum_of_integrals_is_split_one_integral_per_line():
    views = derivation_views(derivations.get("elbo-gap"), verify=False)
    split = next(v for v in views if v.label == "ELBO + KL")
    assert split.latex.startswith(r"\begin{aligned} &= \int")
    assert split.latex.count(r"\int") == 2 and r"\\ &\quad + \int" in split.latex
