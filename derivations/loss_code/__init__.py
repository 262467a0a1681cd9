"""Paste your loss: read a real VAE loss function and say which σ² (or scale) and β it implies.

`read(code, data_shape, latent_dim, batch_size, names)` parses the code with `ast.parse` only
(after the caps in `limits`), follows it symbolically (`interpreter`, `calls`, `values`) to the
form a · Σ ℓ(x̂, x) + k · Σ KL, and hands the coefficients to `derivations.implied_sigma`, whose
`Implied` (σ², scale, β, verdict) and derivation steps it reuses. `writer` turns a reading into
corrected code in the same framework. Nothing in this package compiles, executes or imports the
user's text.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, replace
from fractions import Fraction
from numbers import Integral, Real

from derivations import implied_sigma
from derivations.loss_code.interpreter import (
    DictV,
    Interpreter,
    Lit,
    Num,
    Refused,
    TupleV,
    Unreadable,
)
from derivations.loss_code.limits import Clock, LossCodeError, MissingNames, parse
from derivations.loss_code.values import Coef, Loss, Tensor, classify

__all__ = ["LossCodeError", "MissingNames", "Reading", "read"]

MAX_SIZE = 10**8


@dataclass(frozen=True)
class Reading:
    """What a pasted loss implies, and where in the code each term is."""

    implied: implied_sigma.Implied
    family: str  # squared, l1, huber, bce
    framework: str  # torch, keras.ops, tensorflow, jax
    recon_coefficient: Fraction  # a, exactly
    kl_coefficient: Fraction  # k, exactly
    recon_lines: tuple[int, ...]
    kl_lines: tuple[int, ...]
    reductions: dict  # the implied_sigma.derivation arguments that give the same β
    overall_factor: float  # the code's loss = overall_factor × the derivation's starting loss
    recon_names: tuple[str, str]  # (prediction, target) as the code names them
    kl_names: tuple[str, str]  # (mean, spread)
    kl_form: str  # logvar, std, var or logstd
    recon_form: str  # probs, logits (BCE), "" otherwise; "-cb" suffix for continuous Bernoulli
    huber_delta: float | None
    names_used: tuple[str, ...]
    notes: tuple[str, ...]
    data_shape: tuple[int, ...]
    latent_dim: int
    batch_size: int

    @property
    def continuous_bernoulli(self) -> bool:
        return self.recon_form.endswith("-cb")


def _check_inputs(data_shape, latent_dim, batch_size, names):
    if isinstance(data_shape, Integral) and not isinstance(data_shape, bool):
        data_shape = (data_shape,)
    try:
        shape = tuple(data_shape)
    except TypeError:
        raise LossCodeError(
            f"data_shape must be a tuple of positive integers, got {data_shape!r}"
        ) from None
    if not 1 <= len(shape) <= 4 or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and 1 <= s <= MAX_SIZE for s in shape
    ):
        raise LossCodeError(
            "data_shape must be 1 to 4 positive integers, e.g. (784,) or (3, 64, 64); "
            f"got {shape!r}"
        )
    if math.prod(shape) > MAX_SIZE:
        raise LossCodeError(f"data_shape has more than {MAX_SIZE:,} elements")
    for label, value in (("latent_dim", latent_dim), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, Integral) or not 1 <= value <= 10**6:
            raise LossCodeError(f"{label} must be an integer from 1 to 1,000,000, got {value!r}")
    clean = {}
    for key, value in (names or {}).items():
        if not isinstance(key, str) or not key or len(key) > 80:
            raise LossCodeError(f"names: {key!r} is not a name")
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise LossCodeError(
                f"names: the value of `{key}` must be a finite number, got {value!r}", name=key
            )
        clean[key] = value
    return tuple(int(s) for s in shape), int(latent_dim), int(batch_size), clean


def _final_loss(interp: Interpreter, value) -> Loss:
    if isinstance(value, TupleV) and value.items:
        interp.note("the function returns several values; the first is the loss")
        value = value.items[0]
    if isinstance(value, Unreadable):
        raise value.error
    if isinstance(value, DictV):
        for key, item in value.items:
            if isinstance(key, str) and key.lower() == "loss":
                interp.note(f"the loss is the dict entry '{key}'")
                if isinstance(item, Unreadable):
                    raise item.error
                value = item
                break
        else:
            raise LossCodeError("the returned dict has no 'loss' entry")
    if isinstance(value, Lit):
        raise LossCodeError("no loss found: the function returns no tensor")
    if isinstance(value, Num):
        raise LossCodeError("the loss is a plain number: no reconstruction or KL term found")
    loss = interp.as_loss(value, interp.line) if not isinstance(value, Loss) else value
    if loss.axes:
        if [label for label, _ in loss.axes] == ["B"] and (
            {"keras", "keras.ops", "tensorflow"} & set(interp.frameworks)
        ):
            interp.note("a per-example loss: Keras averages it over the batch")
            loss = interp.reduce(loss, "mean", None, False, interp.line)
        else:
            shape = tuple(s for _, s in loss.axes)
            raise LossCodeError(f"the loss is not a single number: it still has shape {shape}")
    return loss


def _pick(coef: Coef, D, J, B, size_sym: str, size: int) -> tuple[str, str, Fraction]:
    """(over-items, over-batch, residual) reductions for a coefficient, preferring the code's own
    symbolic divisions and, where they leave a factor, an exact alternative (784 · mean = sum)."""
    value = coef.value(D, J, B)
    exp_items = coef.d if size_sym == "D" else coef.j
    options = []
    for items in ("sum", "mean"):
        for batch in ("sum", "mean"):
            structural = Fraction(1, size if items == "mean" else 1) * Fraction(
                1, B if batch == "mean" else 1
            )
            residual = value / structural
            matches = (exp_items == (-1 if items == "mean" else 0)) + (
                coef.b == (-1 if batch == "mean" else 0)
            )
            options.append(
                (residual != 1, -matches, abs(math.log(float(residual))), items, batch, residual)
            )
    best = min(options)
    return best[3], best[4], best[5]


def read(code: str, data_shape, latent_dim: int, batch_size: int, names=None) -> Reading:
    """Read a VAE loss written in PyTorch, Keras, TensorFlow or JAX (see the module docstring).

    ``data_shape`` is one example's shape (e.g. ``(784,)`` or ``(3, 64, 64)``); ``names`` gives
    the values of names the code uses but never defines. Raises a `LossCodeError` (a ValueError)
    saying what and where; `MissingNames` lists every undefined name whose value is needed.
    """
    shape, J, B, names = _check_inputs(data_shape, latent_dim, batch_size, names)
    tree = parse(code)
    interp = Interpreter(tree, shape, J, B, names, Clock())
    try:
        value = interp.run()
        loss = _final_loss(interp, value)
    except RecursionError:
        raise LossCodeError("the code nests too deeply to read") from None
    D = interp.D
    recon = [p for p in loss.parts if p.kind == "recon"]
    kl = [p for p in loss.parts if p.kind == "kl"]
    needed = {n for p in loss.parts for n in p.needs}
    missing = {n: ln for n, ln in interp.missing.items() if n in needed and n not in names}
    if missing:
        raise MissingNames(missing, tuple(sorted(needed & names.keys())))
    if not recon:
        raise LossCodeError("no reconstruction term found (F.mse_loss, BCE, (x − x̂)², log_prob …)")
    if not kl:
        raise LossCodeError("no KL term found: I read the closed-form KL of N(μ, σ²) from N(0, 1)")
    for group, what in ((recon, "reconstruction"), (kl, "KL")):
        if len(group) > 1:
            lines = sorted({ln for p in group for ln in p.lines})
            raise LossCodeError(
                f"{len(group)} different {what} terms (lines {', '.join(map(str, lines))}); "
                "I read one of each",
                min(lines) if lines else None,
            )
    r, q = recon[0], kl[0]
    for part, what in ((r, "reconstruction"), (q, "KL")):
        line = min(part.lines) if part.lines else None
        if part.detached:
            raise LossCodeError(
                f"the {what} term is detached (.detach()/.item()): it sends no gradient", line
            )
        value = part.coef.value(D, J, B)
        if value <= 0:
            sign = "zero" if value == 0 else "negative"
            raise LossCodeError(
                f"the {what} term enters the loss with a {sign} weight "
                f"({float(value):g}); minimising it would not fit the data",
                line,
            )
    a, k = r.coef.value(D, J, B), q.coef.value(D, J, B)
    recon_items, recon_batch, rho_a = _pick(r.coef, D, J, B, "D", D)
    kl_items, kl_batch, rho_k = _pick(q.coef, D, J, B, "J", J)
    weight = rho_k / rho_a
    family = r.family
    delta = float(r.delta) if r.delta is not None else 1.0
    reductions = {
        "recon": recon_items,
        "recon_batch": recon_batch,
        "kl": kl_items,
        "kl_batch": kl_batch,
        "kl_weight": float(weight),
        "loss": family,
    }
    # implied() takes the Huber threshold as `huber_delta` (it shapes the density, not β)
    accepts = inspect.signature(implied_sigma.implied).parameters
    kwargs = {"huber_delta": delta} if family == "huber" and "huber_delta" in accepts else {}
    try:
        result = implied_sigma.implied(D, J, B, **reductions, **kwargs)
    except ValueError as error:
        raise LossCodeError(f"cannot compute the implied likelihood: {error}") from None
    result = _with_coefficients(result, float(a), float(k))
    if r.form.endswith("-cb"):
        result = replace(
            result,
            explanation=result.explanation.replace("ΣBCE", "Σ(−log CB)")
            .replace("the Bernoulli ELBO", "the continuous-Bernoulli (CB) ELBO")
            .replace("the Bernoulli has no", "the continuous Bernoulli has no"),
        )
    order = ("torch", "jax", "keras.ops", "tensorflow", "keras")
    framework = next((f for f in order if f in interp.frameworks), "torch")
    return Reading(
        implied=result,
        family=family,
        framework=framework,
        recon_coefficient=a,
        kl_coefficient=k,
        recon_lines=tuple(sorted(r.lines)),
        kl_lines=tuple(sorted(q.lines)),
        reductions={**reductions, **kwargs},
        overall_factor=float(rho_a),
        recon_names=r.names,
        kl_names=q.names,
        kl_form=q.form,
        recon_form=r.form,
        huber_delta=float(r.delta) if r.delta is not None else None,
        names_used=tuple(sorted(needed)),
        notes=tuple(interp.notes)
        + (
            ("an additive constant is dropped: it does not move the optimum",)
            if loss.dropped
            else ()
        ),
        data_shape=shape,
        latent_dim=J,
        batch_size=B,
    )


def _with_coefficients(result: implied_sigma.Implied, a: float, k: float) -> implied_sigma.Implied:
    """The Implied with the code's own coefficients a and k (implied() knows only reductions, so it
    reports a up to the factor the code puts on its reconstruction term)."""
    if math.isclose(result.recon_coefficient, a, rel_tol=1e-12):
        return replace(result, kl_coefficient=k, recon_coefficient=a)
    fmt = implied_sigma._num  # the same number format the explanation was written with
    old, new = f"Your loss is {fmt(result.recon_coefficient)} ×", f"Your loss is {fmt(a)} ×"
    return replace(
        result,
        recon_coefficient=a,
        kl_coefficient=k,
        explanation=result.explanation.replace(old, new, 1),
    )


_ = (Refused, Tensor, classify)  # re-exported for tests
