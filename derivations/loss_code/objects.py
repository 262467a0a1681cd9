"""Small values the interpreter passes around besides those of `values`: numbers with the names
they used, literals, containers, module paths, pasted functions and classes, deferred errors."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from derivations.loss_code.limits import LossCodeError
from derivations.loss_code.values import Coef


class Refused(LossCodeError):
    """Text the reader refuses outright (dunders, lambdas): raised at once, never deferred."""


@dataclass(frozen=True)
class Num:
    coef: Coef
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Lit:
    value: object  # str, bool or None


@dataclass(frozen=True)
class TupleV:
    items: tuple


@dataclass(frozen=True)
class DictV:
    items: tuple  # ((key, value), ...)

    def get(self, key):
        for k, v in self.items:
            if k == key:
                return v
        return None


@dataclass(frozen=True)
class ModRef:
    path: str  # e.g. "torch.nn.functional.mse_loss"


@dataclass(frozen=True)
class Method:
    owner: object
    name: str


@dataclass
class Instance:
    """`self` of a pasted class: its attributes as set in __init__, and its methods."""

    attrs: dict
    cls: ast.ClassDef


@dataclass(frozen=True)
class Func:
    node: ast.FunctionDef
    owner: Instance | None = None


@dataclass(frozen=True)
class Unreadable:
    error: LossCodeError


@dataclass
class Scope:
    names: dict = field(default_factory=dict)
