"""The interpreter's arithmetic: numbers, elementwise tensors and loss terms combined by + − × ÷ **,
numbers folded exactly (asking for the values of names), reductions of loss terms."""

from __future__ import annotations

import ast
from fractions import Fraction

from derivations.loss_code.limits import LossCodeError
from derivations.loss_code.objects import Lit, Method, Num, Unreadable
from derivations.loss_code.values import (
    ONE,
    Coef,
    Loss,
    Tensor,
    add_losses,
    as_fraction,
    classify,
    const,
    leaves,
    reduce_loss,
)


class Arithmetic:
    """Mixed into `Interpreter`, which provides the sizes, ``user_names``, ``missing``, ``notes``
    and the current statement's lines."""

    def number(self, value, line) -> Num:
        """The value as a number; names it needs are looked up in ``names`` or recorded missing."""
        if isinstance(value, Num):
            return value
        if isinstance(value, Tensor):
            needs = set()
            result = self.fold(value.tree, needs, line)
            return Num(Coef(result), frozenset(needs))
        if isinstance(value, Lit) and isinstance(value.value, bool):
            return Num(Coef(Fraction(int(value.value))))
        if isinstance(value, Loss):
            raise LossCodeError("two loss terms are multiplied together", line)
        raise LossCodeError("this value is used as a number but is not one", line)

    def fold(self, tree, needs: set, line, memo: dict | None = None) -> Fraction:
        """A tree of numbers and ``names`` evaluated exactly (memoised: trees share nodes)."""
        memo = {"work": 0} if memo is None else memo
        if id(tree) in memo:
            return memo[id(tree)][1]
        memo["work"] += 1
        if memo["work"] > 20_000:
            raise LossCodeError("a number in the code is too large an expression to read", line)
        value = self._fold(tree, needs, line, memo)
        memo[id(tree)] = (tree, value)
        return value

    def _fold(self, tree, needs: set, line, memo) -> Fraction:
        import math

        kind = tree[0]
        if kind == "leaf":
            name = tree[1]
            needs.add(name)
            if name in self.user_names:
                return self.user_names[name]
            self.missing.setdefault(name, line)
            return Fraction(1)
        if kind == "const":
            return tree[1].value(self.D, self.J, self.B)
        if kind == "add":
            return self.fold(tree[1], needs, line, memo) + self.fold(tree[2], needs, line, memo)
        if kind == "mul":
            return as_fraction(
                self.fold(tree[1], needs, line, memo) * self.fold(tree[2], needs, line, memo), line
            )
        if kind == "pow":
            base, n = self.fold(tree[1], needs, line, memo), tree[2]
            if n.denominator == 1:
                if base == 0 and n < 0:
                    raise LossCodeError("division by zero", line)
                return Coef(base).power(int(n)).const
            if base < 0:
                raise LossCodeError("a root of a negative number", line)
            return as_fraction(float(base) ** float(n), line)
        if kind in ("exp", "log"):
            x = float(self.fold(tree[1], needs, line, memo))
            if kind == "exp":
                if x > 700:
                    raise LossCodeError("exp() of a number this large overflows", line)
                return as_fraction(math.exp(x), line)
            if x <= 0:
                raise LossCodeError("log() of a number that is not positive", line)
            return as_fraction(math.log(x), line)
        if kind == "abs":
            return abs(self.fold(tree[1], needs, line, memo))
        raise LossCodeError("a loss term is used as a number", line)

    def as_tensor(self, value, line) -> Tensor:
        if (
            isinstance(value, Method)
            and isinstance(value.owner, Tensor)
            and value.owner.tree[0] == "leaf"
        ):
            return Tensor(("leaf", f"{value.owner.tree[1]}.{value.name}"))
        if isinstance(value, Tensor):
            return value
        if isinstance(value, Num):
            if value.needs:
                raise LossCodeError("a value from `names` is used as a tensor", line)
            return const(value.coef)
        raise LossCodeError("this value is used as a tensor but is not one", line)

    def as_loss(self, value, line) -> Loss:
        if isinstance(value, Loss):
            return value
        if isinstance(value, Tensor):
            loss = classify(value, self.data_axes, self.latent_axes, line, self.notes)
            return Loss(
                tuple(p.scaled(ONE, self.stmt_lines) for p in loss.parts), loss.axes, loss.dropped
            )
        raise LossCodeError("this value is not a loss term", line)

    def scale(self, value, num: Num, line):
        if isinstance(value, Num):
            return Num(value.coef * num.coef, value.needs | num.needs)
        if isinstance(value, Loss):
            return value.scaled(num.coef, self.stmt_lines, num.needs)
        if isinstance(value, Tensor):
            if num.needs:
                return Tensor(
                    ("mul", ("const", num.coef), value.tree),
                    value.axes,
                    value.lines | self.stmt_lines,
                )  # pragma: no cover - folded below
            return Tensor(
                ("mul", ("const", num.coef), value.tree),
                value.axes,
                value.lines | self.stmt_lines,
                value.per_example,
            )
        raise LossCodeError("this value cannot be scaled", line)

    def binop(self, op, left, right, line=None):
        line = line or self.line
        for v in (left, right):
            if isinstance(v, Unreadable):
                raise v.error
        if isinstance(left, Method):
            left = self.as_tensor(left, line)
        if isinstance(right, Method):
            right = self.as_tensor(right, line)
        if isinstance(op, ast.Add | ast.Sub):
            if isinstance(op, ast.Sub):
                right = self.scale(right, Num(Coef(Fraction(-1))), line)
            if isinstance(left, Num) and isinstance(right, Num):
                if left.coef.pure and right.coef.pure:
                    return Num(Coef(left.coef.const + right.coef.const), left.needs | right.needs)
                a = left.coef.value(self.D, self.J, self.B)
                b = right.coef.value(self.D, self.J, self.B)
                return Num(Coef(a + b), left.needs | right.needs)
            if isinstance(left, Loss) or isinstance(right, Loss):
                return self.add_to_loss(left, right, line)
            if isinstance(left, Tensor | Num) and isinstance(right, Tensor | Num):
                return self.elementwise("add", left, right, line)
            raise LossCodeError("these two values cannot be added", line)
        if isinstance(op, ast.Mult):
            if isinstance(left, Loss) and isinstance(right, Loss):
                raise LossCodeError("two loss terms are multiplied together", line)
            if isinstance(left, Loss):
                return self.scale(left, self.number(right, line), line)
            if isinstance(right, Loss):
                return self.scale(right, self.number(left, line), line)
            if isinstance(left, Num) and isinstance(right, Num):
                return Num(left.coef * right.coef, left.needs | right.needs)
            if isinstance(left, Tensor | Num) and isinstance(right, Tensor | Num):
                return self.elementwise("mul", left, right, line)
            raise LossCodeError("these two values cannot be multiplied", line)
        if isinstance(op, ast.Div):
            if isinstance(right, Loss):
                raise LossCodeError("dividing by a loss term is not read", line)
            if isinstance(right, Num) or isinstance(left, Loss):
                num = self.number(right, line)
                if num.coef.const == 0:
                    raise LossCodeError("division by zero", line)
                inverse = Num(num.coef.inverse(), num.needs)
                if isinstance(left, Loss | Num | Tensor):
                    return (
                        self.scale(left, inverse, line)
                        if not isinstance(left, Tensor)
                        else self.binop(ast.Mult(), left, inverse, line)
                    )
            if isinstance(left, Tensor | Num) and isinstance(right, Tensor):
                return self.binop(
                    ast.Mult(),
                    left,
                    Tensor(("pow", right.tree, Fraction(-1)), right.axes, right.lines),
                    line,
                )
            raise LossCodeError("this division is not read", line)
        if isinstance(op, ast.Pow):
            exponent = self.number(right, line)
            if exponent.needs or not exponent.coef.pure:
                raise LossCodeError("the exponent must be a number written in the code", line)
            n = exponent.coef.const
            if abs(n) > 64 or (n.denominator not in (1, 2)):
                raise LossCodeError(
                    f"the power {n} is not read (integers up to 64, or halves)", line
                )
            if isinstance(left, Num):
                if n.denominator == 1:
                    return Num(left.coef.power(int(n)), left.needs)
                return self.number(Tensor(("pow", ("const", left.coef), n)), line)
            if isinstance(left, Tensor):
                return Tensor(
                    ("pow", left.tree, n), left.axes, left.lines | self.stmt_lines, left.per_example
                )
            raise LossCodeError("a loss term raised to a power is not read", line)
        raise LossCodeError(f"the operator {type(op).__name__} is not read", line)

    def elementwise(self, kind: str, left, right, line) -> Tensor:
        """left `kind` right ("add" or "mul") of two tensors or numbers, broadcast."""
        a, b = self.as_tensor_or_const(left, line), self.as_tensor_or_const(right, line)
        return Tensor(
            (kind, a.tree, b.tree),
            self.merge_axes(a, b, line),
            a.lines | b.lines | self.stmt_lines,
            a.per_example or b.per_example,
        )

    def as_tensor_or_const(self, value, line) -> Tensor:
        if isinstance(value, Num):
            if value.needs:
                # a value from `names`: keep it as a leaf so it is folded again where needed
                if len(value.needs) == 1 and value.coef.const == self.user_names.get(
                    next(iter(value.needs))
                ):
                    return Tensor(("leaf", next(iter(value.needs))))
                return const(value.coef)
            return const(value.coef)
        return value

    def merge_axes(self, a: Tensor, b: Tensor, line):
        if a.axes is None:
            return b.axes
        if b.axes is None or a.axes == b.axes:
            return a.axes
        if len(a.axes) == len(b.axes) and [s for _, s in a.axes] == [s for _, s in b.axes]:
            return a.axes
        raise LossCodeError("two tensors reshaped differently are combined", line)

    def add_to_loss(self, left, right, line) -> Loss:
        def to_loss(v):
            if isinstance(v, Num):
                if v.coef.const == 0:
                    return Loss((), ())
                return Loss((), (), dropped=True)
            if isinstance(v, Tensor) and not (leaves(v.tree)):
                return Loss((), (), dropped=True)
            return self.as_loss(v, line)

        a, b = to_loss(left), to_loss(right)
        total = add_losses(a, b, line)
        return Loss(
            tuple(p.scaled(ONE, self.stmt_lines) for p in total.parts), total.axes, total.dropped
        )

    def reduce(self, value, op, dims, keepdim, line):
        loss = self.as_loss(value, line)
        per_example = self.per_example > 0 or (isinstance(value, Tensor) and value.per_example)
        if self.per_example > 0 and dims is not None:  # under vmap, axis 0 is the example's own
            dims = tuple(d + 1 if d >= 0 else d for d in dims)
        return reduce_loss(
            loss, op, dims, keepdim, self.stmt_lines, line, per_example, len(self.data_shape)
        )
