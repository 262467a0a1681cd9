"""Hostile input: nothing a learner types may run code, hang, or escape as anything but ParseError.

Proof that nothing ran, three ways:
- a CPython audit hook records every audited event (exec, compile, open, os.system,
  subprocess.Popen, socket.connect, import of a new module, ...) raised during each call;
- ``eval``, ``exec``, ``compile`` and ``open`` in builtins are replaced by functions that fail,
  and ``__import__`` by one that refuses os/subprocess/shutil/socket/ctypes/pty;
- a payload that would create a file (``os.system('touch …')``) leaves no file behind.
Every call must also return within `LIMIT_SECONDS`, a hang guard (not a speed test: the machine
running the suite may be busy).
"""

from __future__ import annotations

import builtins
import string
import sys
import time
from contextlib import contextmanager

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derivations import get
from derivations.checker import KINDS, Verdict, check
from derivations.parser import ParseError, parse, sum_structure

LIMIT_SECONDS = 5.0

# --- the watchers -------------------------------------------------------------------------------

_RECORDING: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if _RECORDING:
        _RECORDING[-1].append(event)


sys.addaudithook(_audit)  # cannot be removed; it only records while a test is watching

FORBIDDEN_EVENTS = {
    "exec",
    "compile",
    "open",
    "import",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.remove",
    "subprocess.Popen",
    "socket.connect",
    "ctypes.dlopen",
    "builtins.input",
    "shutil.rmtree",
}
DANGEROUS_MODULES = {"os", "subprocess", "shutil", "socket", "ctypes", "pty", "posix"}


@contextmanager
def watched(monkeypatch):
    """Record audit events and fail loudly if eval/exec/compile/open/dangerous imports run."""
    calls: list[str] = []

    def refuse(name):
        def fail(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called")

        return fail

    real_import = builtins.__import__

    def guarded_import(name, *args, **kwargs):
        if name.split(".")[0] in DANGEROUS_MODULES:
            calls.append(f"import {name}")
            raise AssertionError(f"import of {name}")
        return real_import(name, *args, **kwargs)

    with monkeypatch.context() as m:
        for name in ("eval", "exec", "compile", "open"):
            m.setattr(builtins, name, refuse(name))
        m.setattr(builtins, "__import__", guarded_import)
        events: list[str] = []
        _RECORDING.append(events)
        try:
            yield calls, events
        finally:
            _RECORDING.pop()


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Build the derivations and touch every code path once, so that lazy imports inside SymPy
    happen here and not while the audit hook is watching."""
    for slug in ("gaussian-mse", "gaussian-diagonal", "elbo"):
        d = get(slug)
        for text in (
            "sum((x-mu)^2)",
            "log(sigma) + exp(x_1) + sqrt(2) + abs(x_1) + max(x_1, 1) + erf(x_1) + tanh(x_1)",
            r"\frac{1}{2}\sum_{i=1}^{D} x_i",
            "sigmoid(x_1) + softplus(x_1) + atanh(x_1/9)",
        ):
            check(text, d, 1)
            check(text, d, len(d.steps) - 1)


def parse_hostile(text: str, monkeypatch) -> sp.Basic | ParseError:
    with watched(monkeypatch) as (calls, events):
        start = time.perf_counter()
        try:
            result: sp.Basic | ParseError = parse(text)
        except ParseError as exc:
            result = exc
        elapsed = time.perf_counter() - start
    assert not calls, calls
    assert not (set(events) & FORBIDDEN_EVENTS), sorted(set(events))
    assert elapsed < LIMIT_SECONDS, f"{elapsed:.2f} s"
    return result


# --- the corpus ---------------------------------------------------------------------------------

# (input, a phrase the refusal must contain); None means "harmless: may parse, must be quick".
HOSTILE = [
    ("__import__('os').system('echo hi')", "names like __import__ are not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("lambda: 1", "unexpected character ':'"),
    ("lambda x: x", "unexpected character ':'"),
    ("import os", "'import' is not allowed"),
    ("from os import system", "'from' is not allowed"),
    ("exec('1')", "'exec' is not allowed"),
    ('eval("1")', "'eval' is not allowed"),
    ("compile('1', 'f', 'eval')", "'compile' is not allowed"),
    ("x.__class__", "attribute access"),
    ("x_1.real", "attribute access"),
    ("getattr(x, 'y')", "'getattr' is not allowed"),
    ("open('/etc/passwd')", "'open' is not allowed"),
    ("globals()", "'globals' is not allowed"),
    ("__builtins__", "names like __import__ are not allowed"),
    ("os.system", "'os' is not allowed"),
    ("sympify('x')", "'sympify' is not allowed"),
    ("Symbol('x')", "'Symbol' is not allowed"),
    ("Integral(x_1, x_1)", "'Integral' is not allowed"),
    ("Function('f')(x_1)", "'Function' is not allowed"),
    ("print(1)", "'print' is not allowed"),
    ("type(x)", "'type' is not allowed"),
    ("10**10**10", "exponent too large"),
    ("10^10^10", "exponent too large"),
    ("2^2^2^2^2^2^2", "exponent too large"),
    ("(10^10)^(10^10)", "exponent too large"),
    ("9" * 10_000, "expression too long (10000 characters; the limit is 2000)"),
    ("9" * 31, "number too long"),
    ("9" * 30 + "^" + "9" * 30, "exponent too large"),
    ("9" * 30 + "^999", "number too large"),
    ("*".join(["9" * 30] * 40), "number too large"),
    ("((((" * 2_500 + "))))" * 2_500, "expression too long"),
    ("(" * 500, "nested too deeply"),
    ("-" * 500 + "1", "nested too deeply"),
    ("sqrt(" * 60 + "2" + ")" * 60, "nested too deeply"),
    # √ and \sqrt take their argument without brackets: nesting still counts (issue 12, item 2)
    ("√" * 996 + "x_1", "nested too deeply"),
    ("√" * 60 + "2", "nested too deeply"),
    ("\\sqrt " * 60 + "x_1", "nested too deeply"),
    ("\\frac" * 60 + "12", "nested too deeply"),
    ("x" * 100_000, "expression too long (100000 characters"),
    ("1+" * 50_000 + "1", "expression too long"),
    ("1+" * 999 + "1", "expression too long (more than 1000 symbols)"),
    ("\x00", "U+0000"),
    ("x_1\x00", "U+0000"),
    ("x_1 + \x1b[31m", "U+001B"),
    ("е", "U+0435 CYRILLIC SMALL LETTER IE"),
    ("х_1", "U+0445 CYRILLIC SMALL LETTER HA"),
    ("（x_1）", "U+FF08 FULLWIDTH LEFT PARENTHESIS"),
    ("x_1；", "U+FF1B FULLWIDTH SEMICOLON"),
    ("x_1\u037e", "U+037E GREEK QUESTION MARK"),
    ("\u200bx_1", "U+200B ZERO WIDTH SPACE"),
    ("\u202ex_1", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\ud800", "U+D800"),
    ("ο", "U+03BF GREEK SMALL LETTER OMICRON"),
    ("x_1 # comment", "unexpected character '#'"),
    ("x_1 @ x_1", "unexpected character '@'"),
    ("`ls`", "quotes are not allowed"),
    ("$(touch /tmp/x)", "unexpected character '$'"),
    ("{{7}}*{{7}}", None),  # template syntax means nothing here: LaTeX groups, so 49
    (r"\input{/etc/passwd}", "\\input is not allowed"),
    (r"\include{x}", "\\include is not allowed"),
    (r"\def\x{1}", "\\def is not allowed"),
    (r"\newcommand{\x}{1}", "\\newcommand is not allowed"),
    (r"\immediate\write18{touch /tmp/x}", "\\immediate is not allowed"),
    (r"\catcode`\^=12", "\\catcode is not allowed"),
    (r"\csname x\endcsname", "\\csname is not allowed"),
    (r"\usepackage{x}", "\\usepackage is not allowed"),
    (r"\mathbf{\input}", "\\input is not supported"),
    ("sum(x_k, k, 1, 10^9)", "at most 1000 terms"),
    ("sqrt(" + "9" * 30 + ")", "limited to 1,000,000"),
    ("*".join(f"sqrt({p})" for p in (2, 3, 5, 7, 11, 13, 17, 19, 23)), "too many roots"),
    ("exp(log(" + "9" * 20 + ")/2)", "limited to 1,000,000"),
    ("log(0)", "undefined"),
    ("1/(2-2)", "division by zero"),
    ("0^-1", "undefined"),
    # harmless but big: must come back quickly, parsed or refused
    ("(x_1 + 1)^1000", None),
    ("2^1000", None),
    ("exp(exp(exp(exp(1000))))", None),
    ("sum(sum(x_k, k, 1, 1000), j, 1, 1000)", None),
    ("x_1^(1/3)^(1/3)^(1/3)", None),
    ("max(" + ",".join(["x_1"] * 8) + ")", None),
]


@pytest.mark.parametrize(("text", "phrase"), HOSTILE, ids=[repr(t[:30]) for t, _ in HOSTILE])
def test_hostile_input_is_refused_quickly_and_runs_nothing(text, phrase, monkeypatch):
    result = parse_hostile(text, monkeypatch)
    if phrase is None:
        assert isinstance(result, (sp.Basic, ParseError))
        return
    assert isinstance(result, ParseError), f"accepted: {result!r}"
    assert phrase in str(result)
    assert "Traceback" not in str(result)


def test_payloads_leave_no_trace(tmp_path, monkeypatch):
    sentinel = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {sentinel}')",
        f"os.system('touch {sentinel}')",
        f"open('{sentinel}', 'w')",
        rf"\immediate\write18{{touch {sentinel}}}",
        f"exec(\"open('{sentinel}', 'w')\")",
    ]
    for payload in payloads:
        assert isinstance(parse_hostile(payload, monkeypatch), ParseError)
        verdict = check(payload, "gaussian-mse", 2)
        assert verdict.kind == "invalid"
    assert not sentinel.exists()


@pytest.mark.parametrize(("text", "phrase"), HOSTILE[:40:3])
def test_check_turns_hostile_text_into_an_invalid_verdict(text, phrase, monkeypatch):
    with watched(monkeypatch) as (calls, events):
        start = time.perf_counter()
        verdict = check(text, "gaussian-diagonal", 2)
        elapsed = time.perf_counter() - start
    assert not calls and not (set(events) & FORBIDDEN_EVENTS)
    assert elapsed < LIMIT_SECONDS
    assert verdict.kind == "invalid"
    assert verdict.message and "Traceback" not in verdict.message


@pytest.mark.parametrize(
    "text",
    [
        "(x_1 + 1)^1000",
        "exp(exp(exp(exp(1000))))",
        "sum(sum(x_k, k, 1, 1000), j, 1, 1000)",
        "sum(x_k^x_k, k, 1, 1000)",
        "D^1000 * x_1",
        "(sum((x-mu)^2) + sigma)^12",
        # issue 12, item 1: SymPy expanded these without bound (tests/test_checker_worker.py)
        "(1+(x_1+mu_1+sigma)/1000)^-1000",
        "1/(1+x_1+mu_1+sigma)^1000",
        "(x_1+mu_1+sigma)^(999/2)",
    ],
)
def test_check_on_big_but_harmless_input_returns_quickly(text, monkeypatch):
    with watched(monkeypatch) as (calls, events):
        start = time.perf_counter()
        verdict = check(text, "gaussian-mse", 2)
        elapsed = time.perf_counter() - start
    assert not calls and not (set(events) & FORBIDDEN_EVENTS)
    assert elapsed < LIMIT_SECONDS
    assert verdict.kind in KINDS


# --- properties ---------------------------------------------------------------------------------

TOKENS = [
    "x_i",
    "mu_i",
    "sigma",
    "sigma_i",
    "D",
    "i",
    "j",
    "k",
    "0",
    "1",
    "2",
    "0.5",
    "1e-3",
    "10",
    "999999",
    "pi",
    "e",
    "log",
    "exp",
    "sqrt",
    "abs",
    "sum",
    "mean",
    "norm",
    "softplus",
    "sigmoid",
    "tanh",
    "atanh",
    "erf",
    "max",
    "min",
    "ln",
    "+",
    "-",
    "*",
    "/",
    "^",
    "**",
    "(",
    ")",
    ",",
    "{",
    "}",
    "_",
    "|",
    "=",
    ".",
    "'",
    "[",
    "]",
    r"\frac",
    r"\sum",
    r"\sqrt",
    r"\log",
    r"\left(",
    r"\right)",
    r"\cdot",
    r"\|",
    r"\sigma",
    r"\mu",
    r"\pi",
    r"\input",
    r"\def",
    "σ",
    "μ",
    "π",
    "Σ",
    "√",
    "²",
    "ᵢ",
    "−",
    "×",
    "·",
    "е",
    "（",
    "__",
    "__class__",
    "lambda",
    "import",
    " ",
]
NAMESPACES = [None, "gaussian-diagonal", "elbo"]


def _namespace(slug):
    if slug is None:
        return {}
    d = get(slug)
    return {"symbols": d.symbols, "sums": sum_structure(s.expr for s in d.steps)}


def _parse_property(text: str, slug) -> None:
    start = time.perf_counter()
    try:
        result = parse(text, **_namespace(slug))
    except ParseError as exc:
        assert isinstance(exc.message, str) and exc.message
    else:
        assert isinstance(result, sp.Basic)
    assert time.perf_counter() - start < LIMIT_SECONDS


@settings(deadline=1000, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), slug=st.sampled_from(NAMESPACES))
def test_random_text_only_ever_raises_parse_error(text, slug):
    _parse_property(text, slug)


@settings(deadline=1000, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.sampled_from(TOKENS), max_size=40),
    slug=st.sampled_from(NAMESPACES),
)
def test_token_soup_only_ever_raises_parse_error(parts, slug):
    _parse_property("".join(parts), slug)


@settings(deadline=1000, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=string.printable, max_size=200))
def test_printable_ascii_only_ever_raises_parse_error(text):
    _parse_property(text, None)


def _expressions():
    atoms = st.sampled_from(["x_i", "mu_i", "sigma", "D", "2", "0.5", "pi", "x_1", "mu_2"])
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
            st.tuples(inner, st.sampled_from(["2", "3", "-1", "0.5"])).map(
                lambda t: f"{t[0]}^{t[1]}"
            ),
            st.tuples(st.sampled_from(["log", "exp", "sqrt", "abs", "sum"]), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
            inner.map(lambda s: f"-{s}"),
        ),
        max_leaves=12,
    )


@settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(text=_expressions())
def test_check_always_returns_a_verdict_quickly(text):
    start = time.perf_counter()
    verdict = check(text, "gaussian-mse", 2)
    assert time.perf_counter() - start < LIMIT_SECONDS
    assert isinstance(verdict, Verdict)
    assert verdict.kind in KINDS
    assert verdict.message
