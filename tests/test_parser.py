"""The safe parser: what it accepts, what it builds, and the messages it gives when it refuses."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations import get
from derivations.base import D, i, j, mu, mu_z, sigma, sigma_z, x
from derivations.checker import check
from derivations.parser import (
    MAX_DEPTH,
    MAX_LENGTH,
    ParseError,
    parse,
    parse_tree,
    sum_structure,
    tokenize,
)

SSE = sp.Sum((x[i] - mu[i]) ** 2, (i, 1, D))


def diagonal_symbols():
    return get("gaussian-diagonal").symbols


def elbo_kwargs():
    d = get("elbo")
    return {"symbols": d.symbols, "sums": sum_structure(s.expr for s in d.steps)}


# --- what it builds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1+2*3", 7),
        ("(1+2)*3", 9),
        ("8/2/2", 2),
        ("2*3/4", sp.Rational(3, 2)),
        ("2^3^2", 512),  # right-associative
        ("2**3", 8),
        ("-2^2", -4),  # unary minus binds looser than ^
        ("--3", 3),
        ("-+-2", 2),
        ("2^-1", sp.Rational(1, 2)),
        ("0.5", sp.Rational(1, 2)),
        (".25", sp.Rational(1, 4)),
        ("1e-3", sp.Rational(1, 1000)),
        ("2.5E2", 250),
        ("1 - 2 - 3", -4),
        ("pi", sp.pi),
        ("e", sp.E),
    ],
)
def test_numbers_and_precedence(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x_1", x[1]),
        ("-x_1^2", -(x[1] ** 2)),
        ("x_i", x[i]),
        ("x_i - mu_i", x[i] - mu[i]),
        ("2sigma", 2 * sigma),
        ("2 pi sigma", 2 * sp.pi * sigma),
        ("x_i mu_i", x[i] * mu[i]),
        ("1/2 x_1", x[1] / 2),  # implicit multiplication is as tight as *, left to right
        ("sigma(x_1 - 1)", sigma * (x[1] - 1)),
        ("(x_1)(mu_1)", x[1] * mu[1]),
        ("e^x_1", sp.exp(x[1])),
        ("log(sigma^2)", sp.log(sigma**2)),
        ("ln(2)", sp.log(2)),
        ("exp(-x_1)", sp.exp(-x[1])),
        ("sqrt(2*pi)*sigma", sp.sqrt(2 * sp.pi) * sigma),
        ("abs(x_1 - mu_1)", sp.Abs(x[1] - mu[1])),
        ("|x_1 - mu_1|", sp.Abs(x[1] - mu[1])),
        ("softplus(x_1)", sp.log(1 + sp.exp(x[1]))),
        ("sigmoid(x_1)", 1 / (1 + sp.exp(-x[1]))),
        ("logsigmoid(x_1)", -sp.log(1 + sp.exp(-x[1]))),
        ("log1p(x_1)", sp.log(1 + x[1])),
        ("tanh(x_1) + atanh(x_1) + artanh(x_1)", sp.tanh(x[1]) + 2 * sp.atanh(x[1])),
        ("erf(x_1)", sp.erf(x[1])),
        ("max(x_1, mu_1, 0)", sp.Max(x[1], mu[1], 0)),
        ("min(x_1, 1)", sp.Min(x[1], 1)),
    ],
)
def test_names_functions_and_implicit_multiplication(text, expected):
    assert parse(text) == expected


def test_subscripts_build_indexed_entries_of_the_derivation_vectors():
    expr = parse("x_i")
    assert isinstance(expr, sp.Indexed)
    assert expr.base == x  # the project's shared IndexedBase, assumptions included
    assert expr.indices == (i,)


@pytest.mark.parametrize(
    "text",
    [
        "sum((x_i-mu_i)^2)",
        "sum((x-mu)^2)",  # inside a sum a bare vector means its i-th entry
        "sum((x_i-mu_i)^2, i)",
        "sum((x_i-mu_i)^2, i, 1, D)",
        "Σ(x_i-μ_i)²",
        "Σ_i (x_i-mu_i)^2",
        "sum_i (x_i - mu_i)^2",
        "norm(x - mu)^2",
        r"\sum_{i=1}^{D} (x_i-\mu_i)^2",
        r"\sum_{i=1}^D \left(x_i - \mu_i\right)^2",
        r"\sum_i (x_i-\mu_i)^2",
        r"\|x-\mu\|^2",
        r"\left\| x - \mu \right\|^2",
        r"\lVert x-\mu \rVert^2",
    ],
)
def test_sums_run_over_i_from_1_to_D(text):
    assert parse(text) == SSE


def test_sum_body_takes_a_product_and_stops_at_plus():
    assert parse("Σ x_i mu_i / 2 + 1") == sp.Sum(x[i] * mu[i] / 2, (i, 1, D)) + 1
    assert parse("sum(x_i)^2") == sp.Sum(x[i], (i, 1, D)) ** 2  # a call, then a power


def test_mean_divides_the_sum_by_its_size():
    assert parse("mean((x-mu)^2)") == SSE / D


def test_explicit_sum_index_and_limits():
    k = sp.Symbol("k", integer=True, positive=True)
    assert parse("sum(x_k, k, 1, D)") == sp.Sum(x[k], (k, 1, D))
    assert parse(r"\sum_{k=2}^{5} x_k") == sp.Sum(x[k], (k, 2, 5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("σ^2", sigma**2),
        ("2πσ²", 2 * sp.pi * sigma**2),
        ("μ_i", mu[i]),
        ("μᵢ", mu[i]),
        ("x₁ − μ₁", x[1] - mu[1]),
        ("2×σ", 2 * sigma),
        ("2·σ", 2 * sigma),
        ("σ÷2", sigma / 2),
        ("√(2π)σ", sp.sqrt(2 * sp.pi) * sigma),
        ("σ⁻²", sigma**-2),
        ("µ_1", mu[1]),  # MICRO SIGN, what many keyboards type
    ],
)
def test_unicode_maths(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\frac{1}{2}", sp.Rational(1, 2)),
        (r"\frac12", sp.Rational(1, 2)),
        (r"\frac{x_1}{\sigma^2}", x[1] / sigma**2),
        (r"\dfrac{1}{2\sigma^2}", 1 / (2 * sigma**2)),
        (r"\log \sigma^2", sp.log(sigma**2)),
        (r"\log 2\pi\sigma^2", sp.log(2 * sp.pi * sigma**2)),
        (r"\frac{1}{2}\log(2\pi) \cdot 3", 3 * sp.log(2 * sp.pi) / 2),
        (r"\ln\left(x_1\right)", sp.log(x[1])),
        (r"e^{-x_1}", sp.exp(-x[1])),
        (
            r"\exp\left(-\frac{(x_1-\mu_1)^2}{2\sigma^2}\right)",
            sp.exp(-((x[1] - mu[1]) ** 2) / (2 * sigma**2)),
        ),
        (r"\sqrt{2\pi\sigma^2}", sp.sqrt(2 * sp.pi * sigma**2)),
        (r"\sqrt2", sp.sqrt(2)),
        (r"2 \times \sigma", 2 * sigma),
        (r"x_{1}^{2}", x[1] ** 2),
        (r"\pi", sp.pi),
        (r"\sigma^23", None),  # LaTeX reads x^23 as x^2 3: refused as a missing operator
        (r"\operatorname{softplus}(x_1)", sp.log(1 + sp.exp(x[1]))),
        (r"\mathrm{sigmoid}(x_1)", 1 / (1 + sp.exp(-x[1]))),
        (r"\lvert x_1 \rvert", sp.Abs(x[1])),
        (r"\left| x_1 \right|", sp.Abs(x[1])),
        (r"\mathbf{x}_1", x[1]),
        ("$x_1 + 1$", x[1] + 1),
        ("$$\\frac{x_1}{2}$$", x[1] / 2),
        (r"\( x_1 \)", x[1]),
        (r"-\frac{D}{2}\log(2\pi) - D\log\sigma", -D * sp.log(2 * sp.pi) / 2 - D * sp.log(sigma)),
    ],
)
def test_latex(text, expected):
    if expected is None:
        with pytest.raises(ParseError, match="missing operator"):
            parse(text)
    else:
        assert parse(text) == expected


def test_latex_and_plain_give_the_same_tree():
    plain = "-D/2*log(2*pi) - D*log(sigma) - sum((x_i-mu_i)^2)/(2*sigma^2)"
    latex = r"-\frac{D}{2}\log(2\pi) - D\log\sigma - \frac{1}{2\sigma^2}\sum_{i=1}^{D}(x_i-\mu_i)^2"
    assert parse(plain) == parse(latex)
    assert (
        sp.simplify(
            parse(plain) - (-D / 2 * sp.log(2 * sp.pi) - D * sp.log(sigma) - SSE / (2 * sigma**2))
        )
        == 0
    )


def test_per_pixel_sigma_in_the_diagonal_derivation():
    symbols = diagonal_symbols()
    vector = symbols["sigma"]
    assert parse("sigma_i", symbols) == vector[i]
    assert parse(r"\sigma_i^2", symbols) == vector[i] ** 2
    assert parse(r"\sigma^2_i", symbols) == vector[i] ** 2  # LaTeX's other order
    assert parse("sum(log(sigma))", symbols) == sp.Sum(sp.log(vector[i]), (i, 1, D))


def test_latent_vectors_sum_over_j_to_J_in_the_elbo():
    kwargs = elbo_kwargs()
    J = kwargs["symbols"]["J"]
    kl = sp.Sum(mu_z[j] ** 2 + sigma_z[j] ** 2 - 1 - sp.log(sigma_z[j] ** 2), (j, 1, J)) / 2
    for text in (
        "sum(mu_z^2 + sigma_z^2 - 1 - log(sigma_z^2))/2",
        "sum(mu_z_j^2 + sigma_z_j^2 - 1 - log(sigma_z_j^2))/2",
        r"\frac{1}{2}\sum_{j=1}^{J}\left(\mu_{z,j}^2 + \sigma_{z,j}^2 - 1"
        r" - \log\sigma_{z,j}^2\right)",
        r"\frac{1}{2}\sum_{j}(\mu_{z_j}^2 + \sigma_{z_j}^2 - 1 - \log\sigma_{z_j}^2)",
    ):
        assert parse(text, **kwargs) == kl, text
    assert parse("sum((x-mu)^2)", **kwargs) == SSE  # pixels still sum over i to D


def test_lambda_and_e_follow_the_namespace():
    cb = get("continuous-bernoulli").symbols
    lam = cb["lambda"]
    assert parse("λ_1", cb) == lam[1]
    assert parse("lam_1", cb) == lam[1]
    assert parse(r"\lambda_1", cb) == lam[1]
    e_symbol = sp.Symbol("e")
    assert parse("e", {"e": e_symbol}) == e_symbol  # a derivation's own e wins over E
    assert parse("e") == sp.E


def test_the_checker_answers_with_the_parsers_own_message():
    with pytest.raises(ParseError) as info:
        parse("x_1 ! 2")
    verdict = check("x_1 ! 2", "gaussian-mse", 2)
    assert verdict.kind == "invalid"
    assert verdict.message.lower().startswith(info.value.message.lower())
    assert issubclass(ParseError, ValueError)  # callers may catch ValueError


def test_parse_tree_builds_no_sympy_objects():
    tree = parse_tree("1 + 2*x_1")
    assert tree[0] == "add"

    def walk(node):
        assert not isinstance(node, sp.Basic)
        if isinstance(node, (tuple, list)):
            for part in node:
                walk(part)

    walk(tree)


def test_tokens_keep_positions():
    tokens = tokenize("x_1 + σ")
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("name", "x", 0),
        ("op", "_", 1),
        ("num", "1", 2),
        ("op", "+", 4),
        ("name", "sigma", 6),
        ("end", "", 7),
    ]


# --- what it refuses, and what it says ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "type an expression"),
        ("   ", "type an expression"),
        ("1 +", "ends too early"),
        ("(1 + 2", "missing ')'"),
        ("1 + 2)", "unmatched ')'"),
        ("x_1 = 2", "'=' is not allowed"),
        ("2 3", "missing operator before the number 3"),
        ("log", "needs an argument"),
        ("log(1, 2)", "log takes 1 argument, not 2"),
        ("max(1)", "max takes 2 to 8 arguments"),
        ("foo + 1", "unknown name 'foo'"),
        ("xmu", "put * between names"),
        ("x", "x is a vector here"),
        ("sigma_i", "this step has one shared sigma; sigma_i is not defined here"),
        ("D_i", "D is a size or an index here"),
        ("x_0", "entries are numbered from 1"),
        ("x_k", "unknown index 'k' in x_k; use i"),
        ("1/0", "division by zero"),
        ("log(0)", "log(0) is undefined"),
        ("0^-1", "undefined"),
        ("1/(1-1)", "division by zero"),
        ("x_1 . 2", "no attribute access"),
        ("[x_1]", "square brackets are not allowed"),
        ("'x'", "quotes are not allowed"),
        ("x_1; 2", "unexpected character ';'"),
        ("2_i", "a subscript must follow a name"),
        ("_x", "names like __import__ are not allowed"),
        ("x__1", "names like __import__ are not allowed"),
        ("1.2.3", "only one decimal point"),
        ("1" * 31, "number too long (31 characters; the limit is 30)"),
        ("1e999", "too large or too small"),
        ("x_1^(10^10)", "exponent too large"),
        ("10^1001", "exponent too large"),
        ("10^999", "number too large: this power has about"),
        ("9^999 * 9^999", "number too large"),
        ("sum(x_k, k, 1, 10^9)", "at most 1000 terms"),
        ("sum(sum(x_i))", "inside another sum over i"),
        ("sum(x_i, D)", "cannot be a sum index"),
        (r"\frac{1}", "needs an argument in braces"),
        (r"\sqrt[3]{x_1}", "square brackets are not allowed"),
        (r"\text{hi}", "the LaTeX command \\text is not allowed"),
        ("\\", "a backslash must be followed by a LaTeX command"),
        ("x_1 ! 2", "unexpected character '!'"),
    ],
)
def test_specific_messages(text, message):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert message in str(info.value)


def test_length_and_depth_limits_have_their_own_messages():
    with pytest.raises(
        ParseError, match=f"expression too long \\(2001 characters; the limit is {MAX_LENGTH}\\)"
    ):
        parse("1" + "+1" * 1000)
    with pytest.raises(ParseError, match=f"nested too deeply \\(more than {MAX_DEPTH} levels\\)"):
        parse("(" * 60 + "1" + ")" * 60)
    assert parse("(" * 40 + "1" + ")" * 40) == 1
    # roots written without brackets nest too: 40 of them are fine, 60 are refused the same way
    assert parse("√" * 40 + "x_1") == x[1] ** sp.Rational(1, 2**40)
    with pytest.raises(ParseError, match="nested too deeply"):
        parse("√" * 60 + "x_1")
    # a long flat chain is not "deep": it is built without recursion
    assert parse("+".join(["x_1"] * 240)) == 240 * x[1]


def test_errors_point_at_the_offending_character():
    with pytest.raises(ParseError) as info:
        parse("x_1 + е")  # Cyrillic ie
    assert info.value.position == 6
    assert "U+0435 CYRILLIC SMALL LETTER IE" in str(info.value)
    assert "looks like 'e'" in str(info.value)
    with pytest.raises(ParseError) as info:
        parse("(1 + 2")
    assert info.value.position == 6
