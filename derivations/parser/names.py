"""The whitelist: every name, function and constant a learner may type, and the words refused."""

from __future__ import annotations

import sympy as sp

from derivations import base


def default_symbols() -> dict[str, sp.Basic]:
    """The namespace used when no derivation is given: the project's shared symbols."""
    return {"x": base.x, "mu": base.mu, "sigma": base.sigma, "D": base.D, "i": base.i}


# name -> (fewest, most) arguments; the builder maps each to SymPy constructors.
FUNCTIONS = {
    "log": (1, 1),
    "ln": (1, 1),
    "exp": (1, 1),
    "sqrt": (1, 1),
    "abs": (1, 1),
    "softplus": (1, 1),
    "sigmoid": (1, 1),
    "logsigmoid": (1, 1),
    "log1p": (1, 1),
    "tanh": (1, 1),
    "atanh": (1, 1),
    "artanh": (1, 1),
    "arctanh": (1, 1),
    "erf": (1, 1),
    "max": (2, 8),
    "min": (2, 8),
    "sum": (1, 4),
    "mean": (1, 1),
    "norm": (1, 1),
}

CONSTANTS = {"pi": sp.pi, "e": sp.E}

# Other spellings of the same name (tried when the namespace lacks the typed one).
ALIASES = {
    "lambda": ("lam",),
    "lam": ("lambda",),
    "epsilon": ("eps", "varepsilon"),
    "varepsilon": ("epsilon", "eps"),
    "eps": ("epsilon",),
    "phi": ("varphi",),
    "varphi": ("phi",),
    "theta": ("vartheta",),
    "vartheta": ("theta",),
}

GREEK_LETTERS = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "ϵ": "epsilon",
    "ζ": "zeta",
    "η": "eta",
    "θ": "theta",
    "ϑ": "theta",
    "ι": "iota",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "µ": "mu",  # MICRO SIGN, what many keyboards type for μ
    "ν": "nu",
    "ξ": "xi",
    "π": "pi",
    "ρ": "rho",
    "σ": "sigma",
    "τ": "tau",
    "φ": "phi",
    "ϕ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
}

LATEX_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi",
    "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Phi",
    "Psi", "Omega",
}  # fmt: skip

# Python and SymPy words that a learner would not type as maths: a clear refusal beats
# "unknown name".
FORBIDDEN_NAMES = {
    "import", "from", "exec", "eval", "compile", "open", "getattr", "setattr", "delattr",
    "globals", "locals", "vars", "dir", "type", "object", "class", "def", "return", "yield",
    "print", "input", "breakpoint", "help", "os", "sys", "subprocess", "builtins", "lambdify",
    "sympify", "Symbol", "Function", "Integral", "Derivative", "Matrix", "while", "for", "if",
    "else", "with", "as", "del", "global", "nonlocal", "raise", "try", "except", "assert",
    "async", "await", "pass", "None", "True", "False", "self", "system", "popen", "file",
    "write", "read", "setrecursionlimit", "memoryview", "bytes", "bytearray", "chr", "ord",
    "isinstance", "issubclass", "super", "property", "staticmethod", "classmethod",
}  # fmt: skip
