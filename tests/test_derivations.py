"""Every registered derivation's steps really follow, and the checker rejects wrong steps."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import types

import pytest
import sympy as sp

import derivations
from derivations import REGISTRY, base, get
from derivations.base import (
    RELATIONS,
    D,
    Derivation,
    Step,
    check_derivation,
    check_step,
    equivalent,
    i,
    mu,
    numeric_difference,
    sigma,
    x,
)
from derivations.bernoulli import lam, p
from derivations.gaussian import sigma_i, squared_error_sum
from derivations.kl import kl_closed_form

ROOT = pathlib.Path(__file__).resolve().parent.parent
SLUGS = sorted(REGISTRY)
STEPS = [(slug, k) for slug in SLUGS for k in range(1, len(get(slug).steps))]


@pytest.mark.parametrize(("slug", "k"), STEPS, ids=[f"{s}-{k}" for s, k in STEPS])
def test_every_step_follows(slug, k):
    d = get(slug)
    result = check_step(d.steps[k - 1], d.steps[k], d)
    assert result.ok, f"{slug} step {k} ({d.steps[k].label!r}): {result.how}"


def test_check_derivation_returns_one_check_per_step():
    d = get("gaussian-calibrated")
    checks = check_derivation(d)
    assert len(checks) == len(d.steps) - 1
    assert all(c.ok for c in checks)


@pytest.mark.parametrize("slug", SLUGS)
def test_derivation_is_well_formed(slug):
    d = get(slug)
    assert d.slug == slug
    assert d.title and d.summary
    # Parameters are what drop/scale steps must not touch; a pure identity chain may have none.
    assert d.parameters or all(s.relation in ("start", "equal") for s in d.steps)
    labels = [s.label for s in d.steps]
    assert all(labels) and len(set(labels)) == len(labels)
    assert all(s.relation in RELATIONS for s in d.steps)
    for s in d.steps:
        assert s.note and len(s.note) <= 120, s.note  # one short sentence
    # Names a learner types resolve to SymPy objects used in the derivation.
    assert d.symbols
    used = set().union(*(s.expr.atoms(sp.Symbol, sp.IndexedBase) for s in d.steps))
    labels_used = {a.label for a in used if isinstance(a, sp.IndexedBase)}
    for name, obj in d.symbols.items():
        obj_id = obj.label if isinstance(obj, sp.IndexedBase) else obj
        assert obj in used or obj_id in labels_used or obj_id in used, name
    for p_ in d.parameters:
        assert p_ in d.symbols.values()


@pytest.mark.parametrize("slug", SLUGS)
def test_drop_and_scale_terms_are_free_of_parameters(slug):
    d = get(slug)
    for s in d.steps:
        if s.relation in ("drop", "scale"):
            assert not base.depends_on(s.term, d.parameters), (slug, s.label)


def test_unknown_slugs_are_rejected():
    with pytest.raises(KeyError):
        get("no-such-derivation")


def _slugs_shown_by_pages() -> set[str]:
    """Every literal slug a page passes to show_derivation (read from the source with ast)."""
    shown = set()
    for path in (ROOT / "app_pages").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "show_derivation"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                shown.add(node.args[0].value)
    return shown


def test_every_page_slug_is_registered_and_every_derivation_is_shown():
    shown = _slugs_shown_by_pages()
    assert shown - set(REGISTRY) == set(), "a page shows a derivation that is not registered"
    assert set(REGISTRY) - shown == set(), "a registered derivation is on no page"


def test_gaussian_mse_labels_and_shape():
    d = get("gaussian-mse")
    assert [s.label for s in d.steps] == [
        "density",
        "log-density",
        "expanded",
        "constants dropped",
        "negative SSE",
        "negative MSE",
    ]
    assert d.step("constants dropped").term == -D / 2 * sp.log(2 * sp.pi) - D * sp.log(sigma)
    assert d.step("negative SSE").term == 1 / (2 * sigma**2)
    assert d.step("negative MSE").expr == -squared_error_sum() / D


def test_importing_builds_nothing_and_never_imports_streamlit():
    modules = [m for m in vars(derivations).values() if isinstance(m, types.ModuleType)]
    assert modules
    for module in modules:
        assert not any(isinstance(v, Derivation) for v in vars(module).values()), module
    for path in pathlib.Path(derivations.__file__).parent.glob("*.py"):
        assert "streamlit" not in path.read_text(), path


# --- the checker must be able to fail ------------------------------------------------------


@pytest.mark.parametrize(("slug", "k"), STEPS, ids=[f"{s}-{k}" for s, k in STEPS])
def test_every_registered_step_fails_when_perturbed(slug, k):
    """A 10% error in the expression (or +1 in a dropped term) must never pass."""
    d = get(slug)
    step = d.steps[k]
    if step.relation == "drop":
        wrong = dataclasses.replace(step, term=step.term + 1)
    else:
        wrong = dataclasses.replace(step, expr=sp.Rational(11, 10) * step.expr)
    assert not check_step(d.steps[k - 1], wrong, d).ok


def _toy(steps, parameters=(mu,), ranges=None) -> Derivation:
    return Derivation("toy", "toy", parameters, tuple(steps), sample_ranges=ranges or {})


def _check_last(steps, **kw):
    d = _toy(steps, **kw)
    return check_step(d.steps[-2], d.steps[-1], d)


SSE = squared_error_sum()
EXPANDED = -D / 2 * sp.log(2 * sp.pi) - D * sp.log(sigma) - SSE / (2 * sigma**2)


def _start(expr=EXPANDED):
    return Step(expr, "start", "start", label="start")


def test_drop_of_a_parameter_dependent_term_is_rejected():
    # "Dropping" the squared error itself: the remainder is the right sum but the term has μ.
    bad = Step(
        -D / 2 * sp.log(2 * sp.pi) - D * sp.log(sigma),
        "drop",
        "wrong",
        term=-SSE / (2 * sigma**2),
        label="bad",
    )
    result = _check_last([_start(), bad])
    assert not result.ok and "depends on the parameters" in result.how


def test_drop_with_the_wrong_term_is_rejected():
    bad = Step(-SSE / (2 * sigma**2), "drop", "wrong", term=-D * sp.log(sigma), label="bad")
    assert not _check_last([_start(), bad]).ok  # forgot −D/2·log 2π in the dropped term


def test_scale_by_a_negative_factor_is_rejected():
    bad = Step(SSE, "scale", "wrong", term=-1 / (2 * sigma**2), label="bad")
    result = _check_last([_start(-SSE / (2 * sigma**2)), bad])
    assert not result.ok and "not positive" in result.how


def test_scale_by_a_factor_of_unknown_sign_is_checked_numerically():
    # σ − 1 is positive for some sampled σ and negative for others: must be rejected.
    undecided = sigma - 1
    assert undecided.is_positive is None
    bad = Step(SSE / undecided, "scale", "wrong", term=undecided, label="bad")
    assert not _check_last([_start(SSE), bad]).ok
    # 1 − p with p in (0.05, 0.95) is positive though SymPy cannot tell: accepted.
    factor = 1 - p[1]
    assert factor.is_positive is None
    good = Step(SSE / factor, "scale", "fine", term=factor, label="good")
    assert _check_last([_start(SSE), good], ranges={p: (0.05, 0.95)}).ok


def test_scale_by_a_parameter_dependent_factor_is_rejected():
    bad = Step(sp.Integer(1), "scale", "wrong", term=SSE, label="bad")
    assert not _check_last([_start(SSE), bad]).ok


def test_wrong_sign_is_rejected():
    bad = Step(SSE / (2 * sigma**2), "equal", "wrong", label="bad")
    assert not _check_last([_start(-SSE / (2 * sigma**2)), bad]).ok


def test_elbo_with_kl_added_instead_of_subtracted_is_rejected():
    d = get("elbo")
    wrong = Step(EXPANDED + kl_closed_form(), "equal", "wrong", label="bad")
    assert not check_step(d.steps[0], wrong, d).ok


def test_diagonal_gaussian_slip_half_sum_of_variances_is_rejected():
    # The learner's slip: −½Σσᵢ² where −½ log ∏σᵢ² = −Σ log σᵢ belongs.
    d = get("gaussian-diagonal")
    slip = (
        -D / 2 * sp.log(2 * sp.pi)
        - sp.Sum(sigma_i[i] ** 2, (i, 1, D)) / 2
        - sp.Sum((x[i] - mu[i]) ** 2 / (2 * sigma_i[i] ** 2), (i, 1, D))
    )
    wrong = Step(slip, "equal", "wrong", label="bad")
    assert not check_step(d.step("log-density"), wrong, d).ok


def test_dropping_log_sigma_is_rejected_once_sigma_is_learned():
    d = get("gaussian-learned-sigma")
    wrong = Step(
        -D / 2 * sp.log(2 * sp.pi) - SSE / (2 * sigma**2),
        "drop",
        "wrong",
        term=-D * sp.log(sigma),
        label="bad",
    )
    assert not check_step(d.steps[0], wrong, d).ok


def test_continuous_bernoulli_normaliser_cannot_be_dropped():
    d = get("continuous-bernoulli")
    split = d.step("normaliser split off")
    log_c, negative_bce = (
        split.expr.args if split.expr.args[0].has(sp.atanh) else (split.expr.args[::-1])
    )
    wrong = Step(negative_bce, "drop", "wrong", term=log_c, label="bad")
    result = check_step(split, wrong, d)
    assert not result.ok and "depends on the parameters" in result.how
    assert log_c.has(lam)


def test_wrong_kl_variance_is_rejected_numerically_through_integrals():
    d = get("kl-monte-carlo-variance")
    m, sd = base.mu_z[base.j], base.sigma_z[base.j]
    variance = sp.Sum(m**2 * sd**2 + (sd**2 - 1) ** 2, (base.j, 1, base.J))  # ½ missing
    wrong = Step(variance, "equal", "wrong", label="bad")
    assert not check_step(d.step("centred estimate"), wrong, d).ok


def test_nan_never_counts_as_agreement():
    assert numeric_difference(sp.nan, sp.nan) == float("inf")
    assert not equivalent(sp.nan, sp.Integer(0)).ok


def test_derivation_rejects_misplaced_start():
    s = _start()
    with pytest.raises(ValueError):
        _toy([Step(SSE, "equal", "x", label="a"), s])
    with pytest.raises(ValueError):
        _toy([s, _start()])
    with pytest.raises(ValueError):
        Step(SSE, "drop", "no term", label="bad")


# --- a mean written where the code applies it: nested Sums ------------------------------------


def _kl_mean_over_latents() -> Derivation:
    from derivations.implied_sigma import derivation

    return derivation(784, 20, 128, "sum", "sum", "mean", "sum")  # KL averaged over latents


@pytest.mark.timeout(600)  # hang guard only; SymPy's symbolic summation once took ~10 s here
def test_kl_mean_over_latents_is_an_identity_without_evaluating_the_sums():
    d = _kl_mean_over_latents()
    code, pulled = d.steps[0], d.step("coefficients")
    # Σₙ (1/J)·Σⱼ KLₙⱼ against (1/J)·Σⱼₙ KLₙⱼ: the rewrites alone cancel them term by term.
    assert any(t.function.has(sp.Sum) for t in code.expr.atoms(sp.Sum))  # really nested
    assert base._zero_without_doit(base._rewrites(code.expr - pulled.expr))
    assert [c.how for c in check_derivation(d)] == ["symbolic"] * (len(d.steps) - 1)


def test_kl_mean_over_latents_perturbed_steps_are_rejected():
    d = _kl_mean_over_latents()
    for k in range(1, len(d.steps)):
        step = d.steps[k]
        if step.relation == "drop":
            wrong = dataclasses.replace(step, term=step.term + 1)
        else:
            wrong = dataclasses.replace(step, expr=sp.Rational(11, 10) * step.expr)
        assert not check_step(d.steps[k - 1], wrong, d).ok, step.label


@pytest.mark.parametrize("size", ["B", "D", "one"])
def test_kl_mean_over_the_wrong_size_is_rejected(size):
    # The mean is over the J latents: 1/B, 1/D or no mean at all is not the same loss. Sizes get
    # different values at each sampled point, or 1/B and 1/J would agree numerically.
    d = _kl_mean_over_latents()
    pulled = d.step("coefficients")
    replacement = {"B": sp.Symbol("B", integer=True, positive=True), "D": D, "one": 1}[size]
    wrong = dataclasses.replace(pulled, expr=pulled.expr.xreplace({base.J: replacement}))
    assert wrong.expr != pulled.expr
    assert not check_step(d.steps[0], wrong, d).ok


def test_merging_nested_sums_keeps_the_value():
    n = sp.Symbol("n", integer=True, positive=True)
    f = base.mu_z[n, base.j] ** 2 + sp.log(base.sigma_z[n, base.j])
    nested = sp.Sum(sp.Sum(f, (base.j, 1, base.J)) / base.J + 3 * x[n], (n, 1, D))
    merged = base._merge_sums(nested)
    assert nested.function.has(sp.Sum) and not any(
        t.function.has(sp.Sum) for t in merged.atoms(sp.Sum)
    )
    assert numeric_difference(nested, merged) < 1e-12
    # Limits that depend on an outer index, and infinite sums, are left as they are.
    triangle = sp.Sum(1, (i, 1, base.j), (base.j, 1, base.J))
    assert base._merge_sums(triangle) == triangle
    infinite = sp.Sum(x[i] + 1, (i, 1, sp.oo))
    assert base._merge_sums(infinite) == infinite
