"""Hostile text meets derivations.loss_code.read: nothing runs, every call answers quickly with a
specific LossCodeError (a ValueError), never a traceback of another kind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from derivations.loss_code import LossCodeError, read

CANARY = Path("/tmp/loss_code_canary_must_not_exist")

KL = "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"
GOOD = f"def f(x_hat, x, mu, logvar):\n    return F.mse_loss(x_hat, x, reduction='sum') + {KL}\n"

HOSTILE = {
    "import os and run a shell command": (
        f"import os\nos.system('touch {CANARY}')\n{GOOD}",
        None,  # imports are noted, never run: the loss itself still reads
    ),
    "__import__": (f"__import__('os').system('touch {CANARY}')\n{GOOD}", "__import__"),
    "dunder attribute walk": ("x = ().__class__.__bases__[0].__subclasses__()\n" + GOOD, "refused"),
    "getattr of a dunder": ("y = getattr(x, '__globals__')\n" + GOOD, "__globals__"),
    "exec and eval as names": (f"exec(\"open('{CANARY}', 'w')\")\neval('1')\n{GOOD}", None),
    "open a file in the loss": (
        f"def f(x_hat, x, mu, logvar):\n    open('{CANARY}', 'w').write('x')\n"
        f"    return F.mse_loss(x_hat, x, reduction='sum') + {KL}\n",
        None,
    ),
    "lambda": ("f = lambda x: x\nloss = f(1)\n", "lambda"),
    "lambda in the loss": (
        "def f(x_hat, x, mu, logvar):\n    g = lambda t: t\n    return g(x)\n",
        "lambda",
    ),
    "300 kB name": ("a" * 300_000 + " = 1\n", "characters"),
    "long name within the size cap": ("b" * 5_000 + " = 1\n", "characters"),
    "5,000 nested brackets": ("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n", "nest"),
    "5,000 nested lists": ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nest"),
    "deep attribute chain": (
        "x = (a" + "".join(".b" + "\n" * (k % 100 == 99) for k in range(3000)) + ")\n",
        "deep",
    ),
    "deep unary chain": ("x = " + "-" * 350 + "1\n", "deeper"),
    "huge integer literal": ("x = " + "9" * 390 + "\nloss = x * x\n", None),
    "huge float": (
        "w = 1e999999\n" + GOOD.replace("reduction='sum')", "reduction='sum') * w"),
        "not finite",
    ),
    "power tower of numbers": (
        GOOD.replace("reduction='sum')", "reduction='sum') * 9**9**9**9"),
        "power",
    ),
    "power tower on a tensor": (
        "def f(x_hat, x, mu, logvar):\n    return ((x_hat - x) ** 2 ** 2 ** 2 ** 2).sum()"
        f" + {KL}\n",
        "power",
    ),
    "squaring a tree 200 times": (
        "def f(x_hat, x, mu, logvar):\n    a = x_hat - x\n"
        + "    a = a * a\n" * 200
        + f"    return a.sum() + {KL}\n",
        "too long",
    ),
    "infinite recursion": (
        "def loss(x):\n    return helper(x)\n\ndef helper(x):\n    return helper(x)\n",
        "deeply",
    ),
    "while True": ("while True:\n    pass\n" + GOOD, None),
    "NUL byte": ("x = 1\x00\n", "not valid Python"),
    "binary garbage": (bytes(range(256)).decode("latin-1"), None),
    "async def": ("async def f():\n    return 1\n", None),
    "match statement": ("match x:\n    case 1:\n        pass\n", None),
    "f-string with a call": ("x = f'{open(\"/etc/passwd\").read()}'\n" + GOOD, None),
    "walrus": ("def f(x_hat, x, mu, logvar):\n    return (y := x)\n", None),
    "comprehension": ("def f(x_hat, x, mu, logvar):\n    return sum([t for t in x])\n", None),
    "empty": ("   \n", "empty"),
    "only a comment": ("# nothing here\n", None),
    "many statements": ("x = 1\n" * 599, None),
    "too many lines": ("x = 1\n" * 700, "lines"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_text_is_read_safely_and_quickly(name):
    code, message = HOSTILE[name]
    CANARY.unlink(missing_ok=True)
    start = time.monotonic()
    try:
        reading = read(code, (1, 28, 28), 20, 128)
    except LossCodeError as error:
        assert isinstance(error, ValueError)
        if message is not None:
            assert message in str(error), str(error)
    else:
        assert message is None, f"expected a refusal mentioning {message!r}"
        assert reading.implied.sigma2 == 0.5  # only the GOOD loss can be read
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"{name} took {elapsed:.2f} s"  # generous hang guard
    assert not CANARY.exists(), "the reader executed user code"


def test_reader_source_never_executes_or_looks_up_user_text():
    source = "".join(path.read_text() for path in Path("derivations/loss_code").glob("*.py"))
    import re

    for forbidden in ("exec", "eval", "compile", "getattr", "__import__", "sympify", "parse_expr"):
        assert not re.search(rf"(?<![\w.]){forbidden}\(", source), forbidden
    assert "importlib" not in source
    assert "ast.parse(" in source


@pytest.mark.parametrize(
    "arguments, message",
    [
        (((0,), 20, 128), "data_shape"),
        (((784,), 0, 128), "latent_dim"),
        (((784,), 20, True), "batch_size"),
        (((784,), 20, 128, {"w": float("nan")}), "finite"),
        (((784,), 20, 128, {"w": "1"}), "finite"),
        ((("784",), 20, 128), "data_shape"),
        (((1, 2, 3, 4, 5), 20, 128), "data_shape"),
    ],
)
def test_bad_sizes_and_names_get_specific_messages(arguments, message):
    with pytest.raises(LossCodeError, match=message):
        read(GOOD, *arguments)
