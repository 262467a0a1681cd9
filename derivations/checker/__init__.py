"""'Check my derivation': compare a learner's expression with any step of any derivation.

`check(text, derivation, step)` is the public entry point, and the one that **judges a
learner's input**: it parses the text with the safe parser (`derivations.parser`, re-exported
here as `parse` and `ParseError`), then runs the verdict in a worker process with a wall-clock
limit of `WALL_SECONDS` and an address-space limit of `MEMORY_BYTES` (see `worker`), and returns
a `Verdict` whose kind is one of `KINDS`:

- ``equal``        the same function as the target;
- ``constant``     equal up to an additive term free of the derivation's parameters (same optimum);
- ``multiple``     a positive multiple of the target, possibly plus such a constant (same optimum);
- ``not-equal``    with a concrete point where the two differ, and hints for the known slips;
- ``invalid``      the text could not be parsed (the message says why) or evaluated;
- ``not-checked``  too expensive to check (over the time or memory limit), or the checker is busy.

It never raises for bad text. (`derivations.base.check_step` is the other checker: it verifies
the app's *own* steps, symbolically with `simplify` and numerically, and is never given user
text.) `check_expr` and `compare` are the same verdict for an already-built SymPy expression,
in the calling process and without limits: for the app's own expressions and for tests.

One module per job:

- `printing`   plain one-line rendering for messages (2σ², Σᵢ (xᵢ − μᵢ)²);
- `sampling`   the sample points, drawn lazily and reproducibly, in groups;
- `closures`   a learner's expression compiled to small Python closures (no lambdify, no exec);
- `targets`    the app's own steps lambdified, integrals by `scipy.integrate.quad`;
- `fitting`    reading equal / constant / multiple off the numbers;
- `symbolic`   bounded symbolic confirmation: the constant or the factor as a formula;
- `hints`      which corrected variant would have matched (a lost ½, a flipped sign, ...);
- `verdicts`   the `Verdict` and its message;
- `worker`     the process that bounds the time and memory of one verdict.

Numbers decide, symbols only explain: the relation is read off values at sample points, and a
formula is shown only once it agrees with those numbers. Sampling follows `derivations.base`
(its `_sample_value` ranges and `depends_on`), but not its `numeric_difference`: that substitutes
with SymPy at every point (``subs``/``doit``/``N``), too slow for the hundreds of evaluations a
verdict with hints needs, and unbounded on hostile input (``D^1000`` at D = 3 becomes an exact
477-digit integer; floats just overflow).
"""

from __future__ import annotations

import dataclasses

from derivations import get as _get
from derivations.base import Derivation
from derivations.checker import targets, worker
from derivations.checker.printing import plain
from derivations.checker.sampling import ranges_key
from derivations.checker.verdicts import (
    KINDS,
    Verdict,
    check_expr,
    compare,
    derivation_of,
    latex_of,
    namespace,
    sentence,
    step_of,
)
from derivations.checker.worker import MEMORY_BYTES, WALL_SECONDS
from derivations.parser import ParseError, parse, sum_structure

__all__ = [
    "KINDS",
    "MEMORY_BYTES",
    "WALL_SECONDS",
    "ParseError",
    "Verdict",
    "check",
    "check_expr",
    "compare",
    "namespace",
    "parse",
    "plain",
]


def check(
    text: str, derivation: Derivation | str, step_index: int | str, *, seed: int = 0
) -> Verdict:
    """Judge a learner's `text` against step `step_index` (index or label) of `derivation`
    (a Derivation or its slug).

    Never raises for bad text: unreadable text is an "invalid" verdict, and text whose verdict
    would take more than `WALL_SECONDS` or `MEMORY_BYTES` (it runs in a worker process, see
    `worker`) is a "not-checked" one. An unknown step label is the caller's error (KeyError).
    """
    derivation = derivation_of(derivation)
    step_of(derivation, step_index)  # an unknown step is a KeyError here, not in the worker
    try:
        expr = _parse(text, derivation)
    except ParseError as exc:
        return Verdict("invalid", sentence(exc.message))
    shown = latex_of(expr)
    request = (text, _by_name(derivation), step_index, seed)
    outcome = worker.run(_judge, *request, prepare=_prepare_target)
    if outcome.status == "ok":
        return dataclasses.replace(outcome.value, expr=expr)
    return Verdict("not-checked", _not_checked_message(outcome), latex=shown, expr=expr)


def _not_checked_message(outcome: worker.Outcome) -> str:
    if outcome.status == "timeout":
        return (
            f"Too expensive to check: the verdict needed more than {WALL_SECONDS:g} s, the "
            "checker's limit per answer, so it was stopped. Large powers of sums, such as "
            "(1 + x₁ + μ₁ + σ)^1000, are the usual cause: try a smaller expression."
        )
    if outcome.status in ("memory", "crashed"):
        return (
            f"Too expensive to check: the verdict needed more than {MEMORY_BYTES / 2**30:g} GiB "
            "of memory, the checker's limit, so it was stopped. Large powers of sums are the "
            "usual cause: try a smaller expression."
        )
    if outcome.status == "busy":
        return "The checker is busy with other expressions right now: try again in a moment."
    return f"Could not check this: the checker failed ({outcome.value})."


def _parse(text: str, derivation: Derivation):
    return parse(text, namespace(derivation), sums=sum_structure(s.expr for s in derivation.steps))


def _by_name(derivation: Derivation) -> Derivation | str:
    """A registered derivation travels to the worker as its slug (the worker builds its own,
    once); any other is sent whole."""
    try:
        return derivation.slug if _get(derivation.slug) is derivation else derivation
    except KeyError:
        return derivation


def _prepare_target(text, derivation, step_index, seed) -> None:
    """In the worker, before the clock starts: build the derivation and evaluate the target
    (trusted work, cached in the worker, so it is paid once per worker and step)."""
    derivation = derivation_of(derivation)
    step = step_of(derivation, step_index)
    targets.values(
        targets.prepare(step.expr),
        tuple(derivation.parameters),
        ranges_key(derivation.sample_ranges),
        seed,
    )


def _judge(text, derivation, step_index, seed) -> Verdict:
    """In the worker: the whole verdict. The parsed expression is not sent back (the caller
    has its own), so nothing the learner built is unpickled in the server."""
    derivation = derivation_of(derivation)
    verdict = check_expr(_parse(text, derivation), derivation, step_index, seed=seed)
    return dataclasses.replace(verdict, expr=None)
