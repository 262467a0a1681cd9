"""The framework call table: what PyTorch, Keras, TensorFlow and JAX functions do to a loss.

(Longer than most modules: it is one table, one entry per library function or method read.)

Each entry says how a call changes the symbolic value: a library loss (``F.mse_loss``,
``keras.losses.binary_crossentropy`` ...) becomes a per-element `Part` followed by the library's
own reduction (PyTorch's ``reduction=``/legacy ``size_average``/``reduce``; Keras's mean over the
**last** axis, then its loss-object reduction); ``sum``/``mean``/``reduce_*`` reduce over the given
axes; ``square``/``exp``/``log``/``abs`` build the elementwise tree; reshapes change the axes;
``torch.distributions`` objects give ``log_prob`` terms and the closed-form ``kl_divergence``.
Functions are matched by the last part of their dotted path within a known framework prefix;
anything else returns an opaque tensor named after the call (never called, never imported).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fractions import Fraction

from derivations.loss_code.limits import LossCodeError
from derivations.loss_code.values import ONE, Coef, Loss, Part, Tensor, as_fraction, leaves

FRAMEWORK_PREFIXES = (
    "torch",
    "keras",
    "tensorflow",
    "tf",
    "jax",
    "numpy",
    "optax",
    "math",
    "builtins",
    "flax",
)

METHODS = {
    "sum",
    "mean",
    "pow",
    "abs",
    "exp",
    "log",
    "square",
    "sqrt",
    "view",
    "reshape",
    "flatten",
    "view_as",
    "reshape_as",
    "size",
    "contiguous",
    "float",
    "double",
    "to",
    "cuda",
    "cpu",
    "detach",
    "item",
    "div",
    "mul",
    "add",
    "sub",
    "neg",
    "squeeze",
    "log_prob",
    "numpy",
    "type_as",
    "clone",
    "rsample",
    "sample",
    "backward",
    "div_",
    "mul_",
    "add_",
    "sub_",
}


@dataclass(frozen=True)
class Dist:
    kind: str  # Normal, Laplace, Bernoulli, ContinuousBernoulli
    params: tuple  # ((name, value), ...)

    def get(self, name):
        return dict(self.params).get(name)


@dataclass(frozen=True)
class LossObject:
    """``nn.MSELoss(reduction=...)`` or ``keras.losses.MeanSquaredError()``: a callable loss."""

    function: str  # the functional path it stands for
    kwargs: tuple
    keras_class: bool = False


@dataclass(frozen=True)
class ShapeV:
    axes: tuple

    def sizes(self, interp):
        from derivations.loss_code.interpreter import Num

        out = []
        for label, size in self.axes:
            coef = {"B": Coef(b=1), "J": Coef(j=1), "D": Coef(d=1), "BD": Coef(b=1, d=1)}.get(
                label, Coef(Fraction(size))
            )
            out.append(Num(coef))
        return tuple(out)


LATENT_HINTS = ("mu", "mean", "logvar", "log_var", "sigma", "std", "var", "z_")
DATA_HINTS = ("recon", "decod", "output", "pred", "input", "data", "target", "img", "image")


def _latent_name(name: str) -> bool:
    """A guess from the name alone (used only where the code asks a tensor for its shape)."""
    low = name.lower().rsplit(".", 1)[-1]
    if low.startswith(("x", "y")) or any(h in low for h in DATA_HINTS):
        return False
    return any(h in low for h in LATENT_HINTS)


def role_axes(interp, value):
    if isinstance(value, Tensor):
        if value.axes is not None:
            return value.axes
        names = leaves(value.tree)
        if names and all(_latent_name(n) for n in names):
            return interp.latent_axes
        return interp.data_axes
    if isinstance(value, Loss):
        return value.axes
    return ()


def shape_of(interp, value, line):
    return ShapeV(role_axes(interp, value))


def dist_attribute(interp, dist: Dist, attr, line):
    from derivations.loss_code.interpreter import Method

    if attr in ("loc", "mean"):
        return dist.get("loc")
    if attr in ("scale", "stddev"):
        return dist.get("scale")
    return Method(dist, attr)


# --- helpers ------------------------------------------------------------------------------------


def bind(names: tuple[str, ...], args, kwargs, path, line, allowed_extra=()) -> dict:
    bound = {}
    for name, value in zip(names, args, strict=False):
        bound[name] = value
    if len(args) > len(names):
        raise LossCodeError(f"`{path.rsplit('.', 1)[-1]}` got too many arguments", line)
    for key, value in kwargs.items():
        if key not in names and key not in allowed_extra:
            raise LossCodeError(
                f"the argument `{key}=` of `{path.rsplit('.', 1)[-1]}` is not read", line
            )
        bound[key] = value
    return bound


def lit(value, default=None):
    from derivations.loss_code.interpreter import Lit, ModRef

    if value is None:
        return default
    if isinstance(value, Lit):
        return value.value
    if isinstance(value, ModRef):  # tf.keras.losses.Reduction.SUM and the like
        return value.path.rsplit(".", 1)[-1].lower()
    return value


def dims_of(interp, value, line):
    """An axis argument: None, an int, or a tuple/list of ints."""
    from derivations.loss_code.interpreter import Lit, Num, TupleV

    if value is None or (isinstance(value, Lit) and value.value is None):
        return None
    items = value.items if isinstance(value, TupleV) else (value,)
    out = []
    for item in items:
        if not (isinstance(item, Num) and item.coef.pure and item.coef.const.denominator == 1):
            raise LossCodeError("an axis must be an integer written in the code", line)
        out.append(int(item.coef.const))
    return tuple(out)


def keep(value) -> bool:
    return bool(lit(value, False))


def leaf_name(value) -> str:
    if isinstance(value, Tensor) and value.tree[0] == "leaf":
        return value.tree[1]
    return ""


def tensor_arg(interp, value, line) -> Tensor:
    from derivations.loss_code.interpreter import Method, Num

    if (
        isinstance(value, Method)
        and isinstance(value.owner, Tensor)
        and value.owner.tree[0] == "leaf"
    ):
        return Tensor(("leaf", f"{value.owner.tree[1]}.{value.name}"))  # e.g. p_x_z.mean
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Num):
        return interp.as_tensor(value, line)
    raise LossCodeError("a loss function is given something that is not a tensor", line)


def elementwise_loss(interp, family, pred, target, line, coef=ONE, delta=None, form="", cb=False):
    """The per-element `Part` of a library loss, over the inputs' axes."""
    p, t = tensor_arg(interp, pred, line), tensor_arg(interp, target, line)
    axes = interp.merge_axes(p, t, line)
    if axes is None:
        axes = interp.data_axes
    part = Part(
        "recon",
        family,
        coef,
        axes,
        p.lines | t.lines | interp.stmt_lines,
        (leaf_name(p), leaf_name(t)),
        form + ("-cb" if cb else ""),
        delta,
    )
    return Loss((part,), axes)


def torch_reduction(interp, bound, line) -> str:
    size_average, reduce = bound.get("size_average"), bound.get("reduce")
    if size_average is not None or reduce is not None:
        interp.note("the legacy size_average/reduce flags are read as PyTorch maps them")
        if lit(reduce, True) is False:
            return "none"
        return "mean" if lit(size_average, True) is not False else "sum"
    reduction = lit(bound.get("reduction"), "mean")
    if reduction not in ("mean", "sum", "none"):
        raise LossCodeError(f"reduction={reduction!r} is not read", line)
    return reduction


def apply_reduction(interp, loss, reduction, line):
    if reduction == "none":
        return loss
    return interp.reduce(loss, reduction, None, False, line)


TORCH_LOSSES = {
    # name: (family, parameter names)
    "mse_loss": ("squared", ("input", "target", "size_average", "reduce", "reduction", "weight")),
    "l1_loss": ("l1", ("input", "target", "size_average", "reduce", "reduction", "weight")),
    "smooth_l1_loss": (
        "huber",
        ("input", "target", "size_average", "reduce", "reduction", "beta"),
    ),
    "huber_loss": ("huber", ("input", "target", "reduction", "delta", "weight")),
    "binary_cross_entropy": (
        "bce",
        ("input", "target", "weight", "size_average", "reduce", "reduction"),
    ),
    "binary_cross_entropy_with_logits": (
        "bce",
        ("input", "target", "weight", "size_average", "reduce", "reduction", "pos_weight"),
    ),
    "gaussian_nll_loss": ("squared", ("input", "target", "var", "full", "eps", "reduction")),
}
TORCH_MODULES = {
    "MSELoss": "mse_loss",
    "L1Loss": "l1_loss",
    "SmoothL1Loss": "smooth_l1_loss",
    "HuberLoss": "huber_loss",
    "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
    "GaussianNLLLoss": "gaussian_nll_loss",
}
KERAS_LOSSES = {
    "mse": "squared",
    "mean_squared_error": "squared",
    "MSE": "squared",
    "mae": "l1",
    "mean_absolute_error": "l1",
    "MAE": "l1",
    "binary_crossentropy": "bce",
}
KERAS_CLASSES = {
    "MeanSquaredError": "mse",
    "MeanAbsoluteError": "mae",
    "BinaryCrossentropy": "binary_crossentropy",
}


def torch_loss(interp, name, args, kwargs, line, extra_kwargs=()):
    family, params = TORCH_LOSSES[name]
    bound = bind(params, args, {**dict(extra_kwargs), **kwargs}, name, line)
    for unsupported in ("weight", "pos_weight"):
        if bound.get(unsupported) is not None and lit(bound[unsupported]) is not None:
            raise LossCodeError(f"a `{unsupported}=` on `{name}` is not read", line)
    if "input" not in bound or "target" not in bound:
        raise LossCodeError(f"`{name}` needs its input and target", line)
    coef, delta, form = ONE, None, ""
    if name == "smooth_l1_loss":
        beta = interp.number(bound.get("beta"), line).coef.const if "beta" in bound else Fraction(1)
        if beta == 0:
            family = "l1"
        else:  # smooth_l1(beta=δ) = huber(delta=δ) / δ
            coef, delta = Coef(1 / beta), beta
    elif name == "huber_loss":
        delta = interp.number(bound["delta"], line).coef.const if "delta" in bound else Fraction(1)
    elif name.startswith("binary_cross_entropy"):
        form = "logits" if name.endswith("logits") else "probs"
    elif name == "gaussian_nll_loss":
        if "var" not in bound:
            raise LossCodeError("`gaussian_nll_loss` needs its var", line)
        var = interp.number(bound["var"], line)
        if var.coef.value(interp.D, interp.J, interp.B) <= 0:
            raise LossCodeError("the variance must be positive", line)
        coef = Coef(1 / (2 * var.coef.value(interp.D, interp.J, interp.B)))
        interp.note("gaussian_nll_loss: ½·log var is a constant here and is dropped")
        if keep(bound.get("full")):
            interp.note("full=True adds ½·log 2π, a constant")
    loss = elementwise_loss(
        interp, family, bound["input"], bound["target"], line, coef, delta, form
    )
    if name == "gaussian_nll_loss":
        needs = interp.number(bound["var"], line).needs
        loss = loss.scaled(ONE, frozenset(), needs)
        loss = Loss(loss.parts, loss.axes, dropped=True)
    return apply_reduction(interp, loss, torch_reduction(interp, bound, line), line)


def keras_loss(interp, name, args, kwargs, line):
    family = KERAS_LOSSES[name]
    bound = bind(
        ("y_true", "y_pred", "from_logits", "label_smoothing", "axis"), args, kwargs, name, line
    )
    if "y_true" not in bound or "y_pred" not in bound:
        raise LossCodeError(f"`{name}` needs y_true and y_pred", line)
    if lit(bound.get("label_smoothing"), 0) not in (0, None) and not (
        hasattr(bound.get("label_smoothing"), "coef") and bound["label_smoothing"].coef.const == 0
    ):
        raise LossCodeError("label_smoothing is not read", line)
    form = "logits" if keep(bound.get("from_logits")) else "probs"
    loss = elementwise_loss(interp, family, bound["y_pred"], bound["y_true"], line, form=form)
    axis = dims_of(interp, bound.get("axis"), line) or (-1,)
    interp.note(f"Keras's `{name}` averages over the last axis (size {loss.axes[-1][1]})")
    return interp.reduce(loss, "mean", axis, False, line)


def call_loss_object(interp, obj: LossObject, args, kwargs, node):
    line = node.lineno
    name = obj.function.rsplit(".", 1)[-1]
    if not obj.keras_class:
        return torch_loss(interp, name, args, kwargs, line, obj.kwargs)
    options = dict(obj.kwargs)
    per_sample = keras_loss(
        interp, name, args, {k: v for k, v in options.items() if k != "reduction"} | kwargs, line
    )
    reduction = lit(options.get("reduction"), "sum_over_batch_size")
    if reduction in ("none",):
        return per_sample
    if reduction == "sum":
        return interp.reduce(per_sample, "sum", None, False, line)
    if reduction in ("sum_over_batch_size", "auto", None):
        return interp.reduce(per_sample, "mean", None, False, line)
    raise LossCodeError(f"reduction={reduction!r} is not read", line)


def reshape(interp, value, shape_items, line):
    """Axes after view/reshape: -1 is inferred; B, D and B·D keep their symbolic meaning."""
    from derivations.loss_code.interpreter import Num

    if isinstance(value, Loss):  # e.g. F.mse_loss(..., reduction="none").view(B, -1)
        if any(p.axes != value.axes for p in value.parts):
            raise LossCodeError("reshaping a sum of differently shaped terms is not read", line)
        shaped = reshape(interp, Tensor(("leaf", "_"), value.axes), shape_items, line)
        from dataclasses import replace as _replace

        return Loss(
            tuple(
                _replace(p, axes=shaped.axes, lines=p.lines | interp.stmt_lines)
                for p in value.parts
            ),
            shaped.axes,
            value.dropped,
        )
    t = tensor_arg(interp, value, line)
    current = t.axes if t.axes is not None else role_axes(interp, t)
    total = 1
    for _, size in current:
        total *= size
    sizes, labels, unknown = [], [], None
    for k, item in enumerate(shape_items):
        if not isinstance(item, Num) or item.needs:
            raise LossCodeError("a reshape size must be a number the code fixes", line)
        c = item.coef
        value_ = c.value(interp.D, interp.J, interp.B)
        if value_ == -1:
            unknown = k
            sizes.append(None)
            labels.append(None)
            continue
        if value_.denominator != 1 or value_ < 1:
            raise LossCodeError(f"the reshape size {value_} is not a positive integer", line)
        sizes.append(int(value_))
        labels.append(
            {(0, 0, 1): "B", (0, 1, 0): "J", (1, 0, 0): "D", (1, 0, 1): "BD"}.get((c.d, c.j, c.b))
            if c.const == 1
            else None
        )
    known = 1
    for s in sizes:
        known *= s or 1
    if unknown is not None:
        if total % known:
            raise LossCodeError(
                f"cannot reshape {total} elements (B·{total // interp.B}) into {sizes}", line
            )
        sizes[unknown] = total // known
    product = 1
    for s in sizes:
        product *= s
    if product != total:
        raise LossCodeError(f"cannot reshape {total} elements into {sizes}", line)
    axes = []
    per = total // interp.B
    for k, size in enumerate(sizes):
        label = labels[k]
        if label is None:
            if k == 0 and size == interp.B and len(sizes) > 1:
                label = "B"
            elif len(sizes) == 1 and size == total:
                label = "BD" if per == interp.D else "n"
            elif k == 1 and len(sizes) == 2 and sizes[0] == interp.B and size == per:
                label = "D" if per == interp.D else ("J" if per == interp.J else "n")
            elif tuple(sizes[1:]) == interp.data_shape and k >= 1 and sizes[0] == interp.B:
                label = f"d{k - 1}"
            else:
                label = "n"
        axes.append((label, size))
    return Tensor(t.tree, tuple(axes), t.lines | interp.stmt_lines, t.per_example)


def flatten(interp, value, start, line):
    from derivations.loss_code.interpreter import Num

    axes = value.axes if isinstance(value, Loss) else None
    t = value if isinstance(value, Loss) else tensor_arg(interp, value, line)
    if axes is None:
        axes = t.axes if t.axes is not None else role_axes(interp, t)
    if start == 0:
        items = [Num(Coef(Fraction(-1)))]
    else:
        items = [n for n in ShapeV(axes[:start]).sizes(interp)] + [Num(Coef(Fraction(-1)))]
    return reshape(interp, t, items, line)


def unary(interp, kind, value, line):
    from derivations.loss_code.interpreter import Num

    if isinstance(value, Num):
        return interp.number(Tensor((kind, ("const", value.coef))), line)
    t = tensor_arg(interp, value, line)
    if kind == "square":
        return Tensor(
            ("pow", t.tree, Fraction(2)), t.axes, t.lines | interp.stmt_lines, t.per_example
        )
    if kind == "sqrt":
        return Tensor(
            ("pow", t.tree, Fraction(1, 2)), t.axes, t.lines | interp.stmt_lines, t.per_example
        )
    return Tensor((kind, t.tree), t.axes, t.lines | interp.stmt_lines, t.per_example)


def reduction_call(interp, op, args, kwargs, line, axis_names=("dim", "axis")):
    x = args[0] if args else kwargs.get("input", kwargs.get("x", kwargs.get("input_tensor")))
    if x is None:
        raise LossCodeError(f"`{op}` needs a tensor", line)
    axis = args[1] if len(args) > 1 else next((kwargs[a] for a in axis_names if a in kwargs), None)
    keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", kwargs.get("keepdims"))
    return interp.reduce(x, op, dims_of(interp, axis, line), keep(keepdim), line)


def is_zero_or_one(interp, value, target, line) -> bool:
    from derivations.loss_code.interpreter import Num

    try:
        num = interp.number(value, line) if isinstance(value, Num) else None
    except LossCodeError:
        return False
    return num is not None and num.coef.value(interp.D, interp.J, interp.B) == target


def call_library(interp, path: str, args, kwargs, node):
    from derivations.loss_code.interpreter import Lit, Num, TupleV

    line = node.lineno
    parts = path.split(".")
    name = parts[-1]
    top = parts[0]
    if top not in FRAMEWORK_PREFIXES:
        return interp.unknown_call(node, args, kwargs)
    # torch.nn.functional / torch losses
    if name in TORCH_LOSSES and top == "torch":
        return torch_loss(interp, name, args, kwargs, line)
    if name in TORCH_MODULES and top == "torch":
        bound = bind(
            ("size_average", "reduce", "reduction", "beta", "delta", "full", "eps"),
            args,
            kwargs,
            name,
            line,
            allowed_extra=("weight", "pos_weight"),
        )
        return LossObject(TORCH_MODULES[name], tuple(bound.items()))
    if name in KERAS_CLASSES and top in ("keras", "tensorflow", "tf"):
        bound = bind(
            ("from_logits", "reduction", "name", "axis", "label_smoothing"),
            args,
            kwargs,
            name,
            line,
        )
        bound.pop("name", None)
        return LossObject(KERAS_CLASSES[name], tuple(bound.items()), keras_class=True)
    if (
        name in KERAS_LOSSES
        and top in ("keras", "tensorflow", "tf")
        and not (".backend" in path or ".ops" in path)
    ):
        return keras_loss(interp, name, args, kwargs, line)
    if (
        name == "binary_crossentropy"
    ):  # K.binary_crossentropy / ops.binary_crossentropy: per element
        bound = bind(("target", "output", "from_logits"), args, kwargs, name, line)
        form = "logits" if keep(bound.get("from_logits")) else "probs"
        return elementwise_loss(interp, "bce", bound["output"], bound["target"], line, form=form)
    if name == "sigmoid_cross_entropy_with_logits":
        bound = bind(("labels", "logits"), args, kwargs, name, line)
        return elementwise_loss(
            interp, "bce", bound["logits"], bound["labels"], line, form="logits"
        )
    if name == "sigmoid_binary_cross_entropy":  # optax
        bound = bind(("logits", "labels"), args, kwargs, name, line)
        return elementwise_loss(
            interp, "bce", bound["logits"], bound["labels"], line, form="logits"
        )
    if name in ("l2_loss", "squared_error") and top == "optax":
        bound = bind(("predictions", "targets"), args, kwargs, name, line)
        if "targets" not in bound:
            raise LossCodeError("optax's loss without targets is not read", line)
        coef = Coef(Fraction(1, 2)) if name == "l2_loss" else ONE
        return elementwise_loss(
            interp, "squared", bound["predictions"], bound["targets"], line, coef
        )
    # reductions
    if name in ("sum", "reduce_sum", "nansum"):
        if top == "builtins":
            return interp.reduce(args[0], "sum", (0,), False, line)
        return reduction_call(interp, "sum", args, kwargs, line)
    if name in ("mean", "reduce_mean"):
        return reduction_call(interp, "mean", args, kwargs, line)
    # elementwise maths
    if name in ("square", "exp", "log", "abs", "sqrt", "absolute", "fabs"):
        kind = {"absolute": "abs", "fabs": "abs"}.get(name, name)
        if not args:
            raise LossCodeError(f"`{name}` needs an argument", line)
        return unary(interp, kind, args[0], line)
    if name in ("pow", "power"):
        return interp.binop(ast.Pow(), args[0], args[1], line)
    if name in ("ones_like", "zeros_like"):
        return Num(Coef(Fraction(1 if name == "ones_like" else 0)))
    if name == "full_like":
        return interp.number(args[1] if len(args) > 1 else kwargs.get("fill_value"), line)
    if name in (
        "tensor",
        "constant",
        "variable",
        "get_value",
        "convert_to_tensor",
        "float32",
        "float",
        "int",
        "asarray",
        "array",
        "stop_gradient_",
        "cast",
    ):
        return args[0] if args else Lit(None)
    if name in ("flatten", "batch_flatten"):
        if name == "batch_flatten":
            return flatten(interp, args[0], 1, line)
        start = args[1] if len(args) > 1 else kwargs.get("start_dim")
        start_dim = 0 if start is None else int(interp.number(start, line).coef.const)
        return flatten(interp, args[0], start_dim, line)
    if name == "reshape":
        shape = args[1] if len(args) > 1 else kwargs.get("shape", kwargs.get("newshape"))
        items = shape.items if isinstance(shape, TupleV) else (shape,)
        return reshape(interp, args[0], items, line)
    if name in ("shape", "int_shape") and args:
        return shape_of(interp, args[0], line)
    if name == "prod" and args and isinstance(args[0], TupleV):
        total = Num(ONE)
        for item in args[0].items:
            total = interp.binop(ast.Mult(), total, item, line)
        return total
    if name == "len" and args:
        return Num(Coef(b=1))
    if name == "pi":
        raise LossCodeError("π is only read inside an additive constant", line)
    if name == "isinstance":
        return Lit(True)
    # distributions
    if name in ("Normal", "Laplace") and "distributions" in path:
        bound = bind(("loc", "scale", "validate_args"), args, kwargs, name, line)
        return Dist(name, tuple(bound.items()))
    if name in ("Bernoulli", "ContinuousBernoulli") and "distributions" in path:
        bound = bind(("probs", "logits", "validate_args", "lims"), args, kwargs, name, line)
        return Dist(name, tuple(bound.items()))
    if name == "Independent" and "distributions" in path:
        return args[0]
    if name == "kl_divergence" and "distributions" in path:
        return kl_divergence(interp, args, kwargs, line)
    return interp.unknown_call(node, args, kwargs)


def kl_divergence(interp, args, kwargs, line):
    from derivations.loss_code.interpreter import Num

    bound = bind(("p", "q"), args, kwargs, "kl_divergence", line)
    q, prior = bound.get("p"), bound.get("q")
    if not (isinstance(q, Dist) and isinstance(prior, Dist) and q.kind == prior.kind == "Normal"):
        raise LossCodeError("kl_divergence is read between two Normal distributions only", line)
    if not (
        is_zero_or_one(interp, prior.get("loc"), 0, line)
        and is_zero_or_one(interp, prior.get("scale"), 1, line)
    ):
        raise LossCodeError("the KL is read only against the prior Normal(0, 1)", line)
    m, s = tensor_arg(interp, q.get("loc"), line), tensor_arg(interp, q.get("scale"), line)
    half = ("const", Coef(Fraction(1, 2)))
    tree = (
        "add",
        (
            "add",
            ("mul", ("const", Coef(Fraction(-1))), ("log", s.tree)),
            ("mul", half, ("add", ("pow", s.tree, Fraction(2)), ("pow", m.tree, Fraction(2)))),
        ),
        ("const", Coef(Fraction(-1, 2))),
    )
    t = Tensor(tree, interp.merge_axes(m, s, line), m.lines | s.lines | interp.stmt_lines)
    loss = interp.as_loss(t, line)
    if not loss.parts or loss.parts[0].kind != "kl":
        raise LossCodeError("this kl_divergence is not the KL of N(μ, σ²) from N(0, 1)", line)
    _ = Num  # the prior's parameters were checked as numbers above
    return loss


def log_prob(interp, dist: Dist, args, line):
    if not args:
        raise LossCodeError("log_prob needs a value", line)
    x = tensor_arg(interp, args[0], line)
    name = leaf_name(x)
    if name == "z" or name.startswith("z_") or name.endswith(("rsample()", "sample()")):
        raise LossCodeError(
            "log_prob of the latent sample z is a single-sample (Monte Carlo) KL estimate; "
            "I read only the closed-form KL",
            line,
        )
    if dist.kind in ("Normal", "Laplace"):
        loc = dist.get("loc")
        scale = interp.number(dist.get("scale"), line)
        value = scale.coef.value(interp.D, interp.J, interp.B)
        if value <= 0:
            raise LossCodeError("the scale must be positive", line)
        if dist.kind == "Normal":
            family, coef = "squared", Coef(as_fraction(-1 / (2 * value * value)))
        else:
            family, coef = "l1", Coef(as_fraction(-1 / value))
        loss = elementwise_loss(interp, family, loc, x, line, coef)
        interp.note(f"{dist.kind}.log_prob: its normalising constant is dropped")
        return Loss(loss.scaled(ONE, frozenset(), scale.needs).parts, loss.axes, dropped=True)
    probs, logits = dist.get("probs"), dist.get("logits")
    pred = probs if probs is not None else logits
    form = "probs" if probs is not None else "logits"
    cb = dist.kind == "ContinuousBernoulli"
    if cb:
        interp.note(
            "ContinuousBernoulli: its normaliser depends on x̂ (not on a noise level); "
            "β is read as for BCE"
        )
    return elementwise_loss(interp, "bce", pred, x, line, Coef(Fraction(-1)), form=form, cb=cb)


def call_method(interp, owner, name, args, kwargs, node):
    from derivations.loss_code.interpreter import Lit, Num, TupleV

    line = node.lineno
    if isinstance(owner, Dist):
        if name == "log_prob":
            return log_prob(interp, owner, args, line)
        if name in ("rsample", "sample"):
            return Tensor(("leaf", f"{name}()"))
        raise LossCodeError(f"`.{name}` of a distribution is not read", line)
    if isinstance(owner, LossObject):
        if name in ("forward", "__call__", "call"):
            return call_loss_object(interp, owner, args, kwargs, node)
        if name in ("cuda", "to", "cpu"):
            return owner
        raise LossCodeError(f"`.{name}` of a loss object is not read", line)
    if name in ("sum", "mean"):
        axis = args[0] if args else kwargs.get("dim", kwargs.get("axis"))
        keepdim = args[1] if len(args) > 1 else kwargs.get("keepdim", kwargs.get("keepdims"))
        if isinstance(owner, Num):
            return owner
        return interp.reduce(owner, name, dims_of(interp, axis, line), keep(keepdim), line)
    if name in ("pow",):
        return interp.binop(ast.Pow(), owner, args[0], line)
    if name in ("abs", "exp", "log", "square", "sqrt"):
        return unary(interp, name, owner, line)
    if name in ("view", "reshape"):
        items = args[0].items if len(args) == 1 and isinstance(args[0], TupleV) else args
        return reshape(interp, owner, items, line)
    if name in ("view_as", "reshape_as"):
        other = tensor_arg(interp, args[0], line)
        axes = other.axes if other.axes is not None else role_axes(interp, other)
        t = tensor_arg(interp, owner, line)
        return Tensor(t.tree, axes, t.lines, t.per_example)
    if name == "flatten":
        start = args[0] if args else kwargs.get("start_dim")
        start_dim = 0 if start is None else int(interp.number(start, line).coef.const)
        return flatten(interp, owner, start_dim, line)
    if name == "size":
        shape = ShapeV(role_axes(interp, owner))
        if args:
            k = int(interp.number(args[0], line).coef.const)
            sizes = shape.sizes(interp)
            if not -len(sizes) <= k < len(sizes):
                raise LossCodeError(f"size({k}) is out of range", line)
            return sizes[k]
        return shape
    if name in (
        "contiguous",
        "float",
        "double",
        "to",
        "cuda",
        "cpu",
        "type_as",
        "clone",
        "squeeze",
        "numpy",
    ):
        return owner
    if name in ("detach", "item"):
        if isinstance(owner, Loss):
            from dataclasses import replace

            return Loss(
                tuple(replace(p, detached=True) for p in owner.parts), owner.axes, owner.dropped
            )
        return owner
    if name in ("div", "div_", "mul", "mul_", "add", "add_", "sub", "sub_"):
        op = {"div": ast.Div(), "mul": ast.Mult(), "add": ast.Add(), "sub": ast.Sub()}[
            name.rstrip("_")
        ]
        return interp.binop(op, owner, args[0], line)
    if name == "neg":
        return interp.scale(owner, Num(Coef(Fraction(-1))), line)
    if name in ("backward",):
        return Lit(None)
    raise LossCodeError(f"the method `.{name}()` is not read", line)
