"""Corrected loss code in the user's framework, from a `Reading`.

Two versions: the exact negative ELBO at a noise level the user picks (σ for squared error, the
Laplace scale b for L1, the Huber scale s; none for BCE, whose ELBO has no noise level), and the
calibrated decoder (σ-VAE, Rybkin, Daniilidis & Levine 2021), where σ² (or b) is set to its
maximum-likelihood value for the batch: the mean squared (absolute) error. Both sum over each
example's pixels and latent dimensions and average over the batch, so the reconstruction/KL balance
is the ELBO's whatever D, J and B are. The code keeps the user's own tensor names.
"""

from __future__ import annotations

import math
import re

from derivations.loss_code import Reading

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")

OPS = {
    "torch": {
        "sum1": "torch.sum({}, dim=1)",
        "flat": "{}.flatten(1)",
        "square": "{}.pow(2)",
        "exp": "torch.exp({})",
        "log": "torch.log({})",
        "abs": "torch.abs({})",
        "mean": "torch.mean({})",
        "import": "import math\n\nimport torch\nimport torch.nn.functional as F\n",
    },
    "tensorflow": {
        "sum1": "tf.reduce_sum({}, axis=1)",
        "flat": "tf.reshape({0}, [tf.shape({0})[0], -1])",
        "square": "tf.square({})",
        "exp": "tf.exp({})",
        "log": "tf.math.log({})",
        "abs": "tf.abs({})",
        "mean": "tf.reduce_mean({})",
        "import": "import math\n\nimport tensorflow as tf\n",
    },
    "keras.ops": {
        "sum1": "ops.sum({}, axis=1)",
        "flat": "ops.reshape({0}, (ops.shape({0})[0], -1))",
        "square": "ops.square({})",
        "exp": "ops.exp({})",
        "log": "ops.log({})",
        "abs": "ops.abs({})",
        "mean": "ops.mean({})",
        "import": "import math\n\nfrom keras import ops\n",
    },
    "jax": {
        "sum1": "jnp.sum({}, axis=1)",
        "flat": "jnp.reshape({0}, ({0}.shape[0], -1))",
        "square": "jnp.square({})",
        "exp": "jnp.exp({})",
        "log": "jnp.log({})",
        "abs": "jnp.abs({})",
        "mean": "jnp.mean({})",
        "import": "import math\n\nimport jax.numpy as jnp\nimport optax\n",
    },
}
OPS["keras"] = OPS["tensorflow"]  # Keras 2 with the TensorFlow backend (K.* code)

PARAMETER = {"squared": ("SIGMA", "σ"), "l1": ("SCALE_B", "b"), "huber": ("SCALE_B", "b")}


def _names(reading: Reading) -> tuple[str, str, str, str]:
    pred, target = reading.recon_names
    mean, spread = reading.kl_names
    defaults = (
        "x_hat",
        "x",
        "mu",
        {"logvar": "logvar", "std": "std", "var": "var", "logstd": "log_std"}[reading.kl_form],
    )
    chosen = [
        v if _NAME.match(v or "") else d
        for v, d in zip((pred, target, mean, spread), defaults, strict=True)
    ]
    if len(set(chosen)) < 4:
        chosen = list(defaults)
    return tuple(chosen)


def _kl(ops: dict, form: str, m: str, s: str) -> str:
    sq = ops["square"]
    if form == "logvar":
        inner = f"1 + {s} - {sq.format(m)} - {ops['exp'].format(s)}"
        return f"-0.5 * {ops['sum1'].format(inner)}"
    if form == "std":
        inner = f"0.5 * ({sq.format(s)} + {sq.format(m)} - 1) - {ops['log'].format(s)}"
    elif form == "var":
        inner = f"0.5 * ({s} + {sq.format(m)} - 1 - {ops['log'].format(s)})"
    else:  # logstd
        inner = f"0.5 * ({ops['exp'].format('2 * ' + s)} + {sq.format(m)} - 1) - {s}"
    return ops["sum1"].format(inner)


def _bce(framework: str, form: str, pred: str, target: str) -> str:
    logits = form.startswith("logits")
    if framework == "torch":
        fn = "binary_cross_entropy_with_logits" if logits else "binary_cross_entropy"
        return f'F.{fn}({pred}, {target}, reduction="none")'
    if framework in ("tensorflow", "keras"):
        if logits:
            return f"tf.nn.sigmoid_cross_entropy_with_logits(labels={target}, logits={pred})"
        return f"tf.keras.backend.binary_crossentropy({target}, {pred})"
    if framework == "keras.ops":
        return f"ops.binary_crossentropy({target}, {pred}, from_logits={logits})"
    if logits:
        return f"optax.sigmoid_binary_cross_entropy({pred}, {target})"
    return f"-({target} * jnp.log({pred}) + (1 - {target}) * jnp.log(1 - {pred}))"


def _huber(framework: str, pred: str, target: str) -> str:
    if framework == "torch":
        return f'F.huber_loss({pred}, {target}, reduction="none", delta=DELTA)'
    where = {
        "tensorflow": "tf.where",
        "keras": "tf.where",
        "keras.ops": "ops.where",
        "jax": "jnp.where",
    }[framework]
    absolute = OPS[framework]["abs"].format(f"{pred} - {target}")
    return (
        f"{where}({absolute} <= DELTA, 0.5 * ({absolute}) ** 2, DELTA * ({absolute} - 0.5 * DELTA))"
    )


def _signature(reading: Reading) -> tuple[str, tuple[str, str, str, str]]:
    names = _names(reading)
    return f"def loss_function({', '.join(names)}):", names


def _flatten_line(ops: dict, pred: str, target: str) -> str:
    flat = ops["flat"]
    return (
        f"    {pred}, {target} = {flat.format(pred)}, {flat.format(target)}"
        "  # one row of D pixels per example"
    )


def _format(value: float) -> str:
    return f"{value:.6g}"


def corrected_code(reading: Reading, noise: float) -> str:
    """The exact negative ELBO at the user's noise parameter (σ, b or s; ignored for BCE)."""
    if not (isinstance(noise, int | float) and math.isfinite(noise) and noise > 0):
        raise ValueError(f"the noise parameter must be a positive number, got {noise!r}")
    framework = reading.framework if reading.framework in OPS else "torch"
    ops = OPS[framework]
    signature, (pred, target, m, s) = _signature(reading)
    family = reading.family
    lines = [ops["import"].replace("import math\n\n", "")]  # math is for the calibrated version
    if family in PARAMETER:
        constant, symbol = PARAMETER[family]
        meaning = {
            "squared": f"the decoder's noise std: p(x | z) = N(x | {pred}, σ²), σ² = "
            f"{_format(noise**2)}",
            "l1": f"the Laplace scale: p(x | z) = Laplace(x | {pred}, b), noise std √2·b = "
            f"{_format(math.sqrt(2) * noise)}",
            "huber": "the Huber scale (derivations.huber): p(x | z) ∝ exp(−Huber_δ(x − x̂)/b²), "
            f"a Gaussian core of std b = {_format(noise)} out to δ",
        }[family]
        lines.append(f"{constant} = {_format(noise)}  # {symbol}, {meaning}")
        if family == "huber":
            lines.append(f"DELTA = {_format(reading.huber_delta or 1.0)}  # your Huber threshold δ")
    lines += ["", "", signature, _flatten_line(ops, pred, target)]
    total = ops["sum1"]
    if family == "squared":
        lines += [
            "    # Negative ELBO of a Gaussian decoder with fixed σ (x̂ decoded from the sampled",
            "    # z): per example the sum over pixels of (x − x̂)²/(2σ²) plus the closed-form KL",
            "    # summed over latents, averaged over the batch; the constant D·log(σ√(2π)) is",
            "    # left out (it has no gradient).",
            f"    recon = {total.format(f'({pred} - {target}) ** 2')} / (2 * SIGMA**2)",
        ]
    elif family == "l1":
        lines += [
            "    # Negative ELBO of a Laplace decoder with fixed scale b: per example,",
            "    # Σ|x − x̂|/b plus the KL, averaged over the batch (the constant D·log 2b is left",
            "    # out: it has no gradient).",
            f"    recon = {total.format(ops['abs'].format(f'{pred} - {target}'))} / SCALE_B",
        ]
    elif family == "huber":
        lines += [
            "    # Negative ELBO of the Huber density exp(−Huber_δ/b²)/(b·Z) with fixed b and δ:",
            "    # per example ΣHuber/b² plus the KL, averaged over the batch (log bZ: constant).",
            f"    recon = {total.format(_huber(framework, pred, target))} / SCALE_B**2",
        ]
    elif reading.continuous_bernoulli:
        lines += [
            "    # β = 1: per example, the summed cross-entropy plus the KL summed over latent",
            "    # dimensions, averaged over the batch. The continuous Bernoulli's log-normaliser",
            "    # log C(x̂) is not in the cross-entropy: add it to make this its exact ELBO.",
            f"    recon = {total.format(_bce(framework, reading.recon_form, pred, target))}",
        ]
    else:
        lines += [
            "    # The ELBO with β = 1: per example, the summed cross-entropy (−log Bernoulli",
            "    # likelihood) plus the KL summed over latent dimensions, averaged over the batch.",
            f"    recon = {total.format(_bce(framework, reading.recon_form, pred, target))}",
        ]
    lines += [
        f"    kl = {_kl(ops, reading.kl_form, m, s)}",
        f"    return {ops['mean'].format('recon + kl')}",
    ]
    return "\n".join(lines) + "\n"


CALIBRATED_WHY_NOT = {
    "huber": "The Huber density has no closed-form maximum-likelihood scale, so there is no "
    "one-line calibrated version; learn log s as a parameter with its log-normaliser.",
    "bce": "The Bernoulli likelihood has no noise level to calibrate: the ELBO in the other tab "
    "is already the whole story (use a Gaussian or Laplace decoder if your pixels are not "
    "binary).",
}


def calibrated_code(reading: Reading) -> str | None:
    """σ-VAE: σ² (or b) set to its maximum-likelihood value per batch; None where there is none
    (see CALIBRATED_WHY_NOT)."""
    if reading.family not in ("squared", "l1"):
        return None
    framework = reading.framework if reading.framework in OPS else "torch"
    ops = OPS[framework]
    signature, (pred, target, m, s) = _signature(reading)
    total = ops["sum1"]
    clamp = {
        "torch": "torch.clamp({}, min=1e-6)",
        "tensorflow": "tf.maximum({}, 1e-6)",
        "keras": "tf.maximum({}, 1e-6)",
        "keras.ops": "ops.maximum({}, 1e-6)",
        "jax": "jnp.maximum({}, 1e-6)",
    }[framework]
    log = ops["log"]
    if reading.family == "squared":
        err = f"({pred} - {target}) ** 2"
        body = [
            "    # Calibrated decoder (σ-VAE, Rybkin et al. 2021): σ² is set to its maximum-",
            "    # likelihood value, the batch's mean squared error, and the full Gaussian NLL is",
            "    # used, so the reconstruction/KL balance adjusts itself as the fit improves.",
            f"    squared_error = {err}",
            f"    sigma2 = {clamp.format(ops['mean'].format('squared_error'))}  # floor keeps "
            "log σ² finite",
            "    recon = "
            + total.format(
                f"squared_error / (2 * sigma2) + 0.5 * {log.format('2 * math.pi * sigma2')}"
            ),
        ]
    else:
        err = ops["abs"].format(f"{pred} - {target}")
        body = [
            "    # Calibrated Laplace decoder: the scale b is set to its maximum-likelihood value,",
            "    # the batch's mean absolute error, and the full Laplace NLL is used.",
            f"    absolute_error = {err}",
            f"    b = {clamp.format(ops['mean'].format('absolute_error'))}  # floor: log b finite",
            "    recon = " + total.format("absolute_error / b + " + log.format("2 * b")),
        ]
    lines = [
        ops["import"],
        "",
        signature,
        _flatten_line(ops, pred, target),
        *body,
        f"    kl = {_kl(ops, reading.kl_form, m, s)}",
        f"    return {ops['mean'].format('recon + kl')}",
    ]
    return "\n".join(lines) + "\n"
