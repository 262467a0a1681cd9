"""Walk the pasted code's syntax tree and compute, symbolically, the loss it returns.

(Longer than most modules: it is one recursive evaluator over Python's statement and expression
grammar; its arithmetic is in `arithmetic`, its small values in `objects`.)

Nothing here runs the user's code. Statements are visited in order; an expression is turned into
the values of `values` (numbers, elementwise tensors, reduced loss terms) or into the small
framework values below (a module path, a distribution, a loss object). Names the code never
defines are tensors until something needs them as numbers; then their values must come from
``names`` (they are collected and asked for). A statement the reader cannot follow does not
stop the reading: the names it assigns carry the error, which is raised only if the loss uses them.
"""

from __future__ import annotations

import ast
from fractions import Fraction

from derivations.loss_code import calls
from derivations.loss_code.arithmetic import Arithmetic
from derivations.loss_code.limits import MAX_CALL_DEPTH, MAX_NAME_CHARS, Clock, LossCodeError
from derivations.loss_code.objects import (  # re-exported: calls and read() import them from here
    DictV,
    Func,
    Instance,
    Lit,
    Method,
    ModRef,
    Num,
    Refused,
    Scope,
    TupleV,
    Unreadable,
)
from derivations.loss_code.values import Coef, Loss, Tensor, as_fraction

ALLOWED_DUNDERS = {"__init__", "__call__", "__name__", "__main__"}  # harmless, everywhere


DEFAULT_MODULES = {
    "torch": "torch",
    "F": "torch.nn.functional",
    "nn": "torch.nn",
    "K": "keras.backend",
    "tf": "tensorflow",
    "keras": "keras",
    "ops": "keras.ops",
    "jnp": "jax.numpy",
    "jax": "jax",
    "np": "numpy",
    "math": "math",
    "optax": "optax",
    "metrics": "keras.metrics",
    "objectives": "keras.objectives",
    "losses": "keras.losses",
    "kloss": "keras.losses",
    "td": "torch.distributions",
    "dist": "torch.distributions",
    "distributions": "torch.distributions",
    "D": "torch.distributions",
}
# Bare names that examples import from keras.losses without showing the import.
DEFAULT_BARE = {
    name: f"keras.losses.{name}"
    for name in (
        "mse",
        "mae",
        "binary_crossentropy",
        "mean_squared_error",
        "mean_absolute_error",
        "MeanSquaredError",
        "MeanAbsoluteError",
        "BinaryCrossentropy",
    )
}
DEFAULT_BARE.update(
    {
        "kl_divergence": "torch.distributions.kl_divergence",
        "Normal": "torch.distributions.Normal",
        "Laplace": "torch.distributions.Laplace",
        "Bernoulli": "torch.distributions.Bernoulli",
        "ContinuousBernoulli": "torch.distributions.ContinuousBernoulli",
        "Independent": "torch.distributions.Independent",
        "len": "builtins.len",
        "sum": "builtins.sum",
        "abs": "builtins.abs",
        "float": "builtins.float",
        "int": "builtins.int",
        "isinstance": "builtins.isinstance",
    }
)
LOSS_NAMES = ("loss", "elbo", "__call__", "train_step", "training_step", "forward", "step")


def _lineno(node) -> int | None:
    if isinstance(node, ast.stmt | ast.expr | ast.keyword | ast.arg | ast.excepthandler):
        return node.lineno
    return None


def _lines(node: ast.AST) -> frozenset[int]:
    start = _lineno(node)
    if start is None:
        return frozenset()
    return frozenset(range(start, (node.end_lineno or start) + 1))


def _text(node: ast.AST, limit: int = 40) -> str:
    try:
        text = ast.unparse(node)
    except Exception:
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Interpreter(Arithmetic):
    def __init__(self, tree, data_shape, latent_dim, batch_size, names, clock: Clock):
        self.tree = tree
        self.data_shape = tuple(data_shape)
        self.D = 1
        for s in self.data_shape:
            self.D *= s
        self.J, self.B = latent_dim, batch_size
        self.user_names = {k: as_fraction(v) for k, v in (names or {}).items()}
        self.clock = clock
        self.notes: list[str] = []
        self.frameworks: list[str] = []
        self.markers: list = []
        self.missing: dict[str, int] = {}
        self.depth = 0
        self.stmt_lines: frozenset[int] = frozenset()
        self.line: int | None = None
        self.per_example = 0  # > 0 inside a function under jax.vmap
        self.globals = Scope()
        self.functions: dict[str, ast.FunctionDef] = {}
        self.classes: dict[str, ast.ClassDef] = {}

    # -- axes ---------------------------------------------------------------------------------
    @property
    def data_axes(self):
        return (("B", self.B), *((f"d{k}", s) for k, s in enumerate(self.data_shape)))

    @property
    def latent_axes(self):
        return (("B", self.B), ("J", self.J))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def uses(self, path: str) -> None:
        top = path.split(".")[0]
        family = {"torch": "torch", "keras": "keras", "tensorflow": "tensorflow"}.get(top)
        family = family or ("jax" if top in ("jax", "optax", "flax") else None)
        if path.startswith("keras.ops"):
            family = "keras.ops"
        if family and family not in self.frameworks:
            self.frameworks.append(family)

    # -- entry --------------------------------------------------------------------------------
    def run(self):
        body = self.tree.body
        for node in ast.walk(self.tree):  # refuse dunders anywhere, read or not
            line = _lineno(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.check_name(node.name, line)
            elif isinstance(node, ast.Name):
                self.check_name(node.id, line)
            elif isinstance(node, ast.Attribute):
                self.check_name(node.attr, line)
            elif (isinstance(node, ast.keyword) and node.arg) or isinstance(node, ast.arg):
                self.check_name(node.arg, line)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                stripped = node.value.strip()
                if stripped.startswith("__") and stripped.endswith("__") and len(stripped) > 4:
                    self.check_name(stripped, line)
        called = {
            n.func.attr
            if isinstance(n.func, ast.Attribute)
            else (n.func.id if isinstance(n.func, ast.Name) else None)
            for n in ast.walk(self.tree)
            if isinstance(n, ast.Call)
        }
        compiled = {
            kw.value.id
            for n in ast.walk(self.tree)
            if isinstance(n, ast.Call)
            for kw in n.keywords
            if kw.arg == "loss" and isinstance(kw.value, ast.Name)
        }
        top_result = self.exec_block(body, self.globals)
        if self.markers:
            return self.combine_markers()
        candidates = []
        for node in body:
            if isinstance(node, ast.FunctionDef):
                candidates.append((node, None))
            elif isinstance(node, ast.ClassDef):
                candidates += [
                    (m, node)
                    for m in node.body
                    if isinstance(m, ast.FunctionDef) and m.name != "__init__"
                ]
        with_marker = [c for c in candidates if _has_marker(c[0])]
        uncalled = [c for c in candidates if c[0].name not in called or c[0].name in compiled]
        everything = candidates
        candidates = with_marker or uncalled

        def rank(item):
            name = item[0].name.lower()
            hits = [k for k, word in enumerate(LOSS_NAMES) if word in name]
            return (min(hits) if hits else len(LOSS_NAMES), -item[0].lineno)

        if candidates:
            return self.run_function(min(candidates, key=rank))
        if top_result is not None:
            return top_result
        for name in ("loss", "total_loss", "vae_loss", "elbo_loss", "train_loss", "elbo"):
            if name in self.globals.names:
                return self.globals.names[name]
        if self.last_assigned is not None:
            return self.globals.names[self.last_assigned]
        if everything:  # every function is called by another: start from the likeliest name
            return self.run_function(min(everything, key=rank))
        raise LossCodeError(
            "no loss found: paste a function that returns the loss, or the lines that compute it"
        )

    def run_function(self, choice):
        node, cls = choice
        owner = self.instantiate(cls) if cls is not None else None
        self.note(f"the loss is what `{node.name}` computes")
        value = self.call_user(Func(node, owner), [], {}, node)
        if self.markers:
            return self.combine_markers()
        return value

    last_assigned: str | None = None

    def combine_markers(self):
        total = self.markers[0]
        for extra in self.markers[1:]:
            total = self.binop(ast.Add(), total, extra)
        return total

    def instantiate(self, cls: ast.ClassDef) -> Instance:
        instance = Instance({}, cls)
        for member in cls.body:
            if isinstance(member, ast.FunctionDef) and member.name == "__init__":
                self.call_user(Func(member, instance), [], {}, member)
        return instance

    # -- statements ---------------------------------------------------------------------------
    def exec_block(self, body, scope: Scope):
        """Run statements; returns the value of a `return` reached (or None)."""
        for stmt in body:
            self.clock.check(stmt.lineno)
            self.stmt_lines, self.line = _lines(stmt), stmt.lineno
            result = self.exec_stmt(stmt, scope)
            if result is not None:
                return result
        return None

    def exec_stmt(self, stmt, scope: Scope):
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self.do_import(stmt, scope)
        elif isinstance(stmt, ast.FunctionDef):
            scope.names[stmt.name] = Func(stmt)
        elif isinstance(stmt, ast.AsyncFunctionDef):
            raise LossCodeError("async functions are not read", stmt.lineno)
        elif isinstance(stmt, ast.ClassDef):
            scope.names.pop(stmt.name, None)  # a model class: calling it gives an opaque tensor
        elif isinstance(stmt, ast.Assign):
            value = self.safe_eval(stmt.value, scope)
            for target in stmt.targets:
                self.assign(target, value, scope)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.safe_eval(stmt.value, scope), scope)
        elif isinstance(stmt, ast.AugAssign):
            read_target = stmt.target
            current = self.safe_eval(read_target, scope)
            value = self.safe_eval(stmt.value, scope)
            if isinstance(current, Unreadable):
                combined = current
            elif isinstance(value, Unreadable):
                combined = value
            else:
                try:
                    combined = self.binop(stmt.op, current, value)
                except Refused:
                    raise
                except LossCodeError as error:
                    combined = Unreadable(error)
            self.assign(stmt.target, combined, scope)
        elif isinstance(stmt, ast.Return):
            value = Lit(None) if stmt.value is None else self.evaluate(stmt.value, scope)
            return ("return", value)
        elif isinstance(stmt, ast.Expr):
            self.exec_expr_stmt(stmt.value, scope)
        elif isinstance(stmt, ast.If):
            return self.exec_if(stmt, scope)
        elif isinstance(stmt, ast.With):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, self.leaf_for(item.optional_vars), scope)
            return self.exec_block(stmt.body, scope)
        elif isinstance(stmt, ast.For | ast.While):
            if isinstance(stmt, ast.For):
                self.assign(stmt.target, self.leaf_for(stmt.target), scope)
            self.note("a loop body is read once, as one training step")
            return self.exec_block(stmt.body, scope)
        elif isinstance(stmt, ast.Try):
            return self.exec_block(stmt.body, scope)
        elif isinstance(stmt, ast.Raise):
            raise LossCodeError("the code raises an exception here", stmt.lineno)
        elif isinstance(
            stmt,
            ast.Pass
            | ast.Assert
            | ast.Break
            | ast.Continue
            | ast.Global
            | ast.Nonlocal
            | ast.Delete,
        ):
            pass
        else:
            raise LossCodeError(f"a `{type(stmt).__name__}` statement is not read", stmt.lineno)
        return None

    def leaf_for(self, target) -> Tensor:
        return Tensor(("leaf", _text(target)))

    def do_import(self, stmt, scope: Scope) -> None:
        for alias in stmt.names:
            self.check_name(alias.name, stmt.lineno)
            if isinstance(stmt, ast.Import):
                bound = alias.asname or alias.name.split(".")[0]
                scope.names[bound] = ModRef(alias.name if alias.asname else bound)
            else:
                module = stmt.module or ""
                if alias.name == "*":
                    continue
                scope.names[alias.asname or alias.name] = ModRef(f"{module}.{alias.name}")

    def exec_expr_stmt(self, expr, scope: Scope) -> None:
        """Only loss markers matter among bare expressions: x.backward(), *.add_loss(x),
        *.compile(loss=fn)."""
        if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Attribute):
            return
        name = expr.func.attr
        if name == "backward" and not expr.args:
            self.markers.append(self.evaluate(expr.func.value, scope))
            self.note("the loss is the tensor `.backward()` is called on")
        elif name == "add_loss" and expr.args:
            self.markers.append(self.evaluate(expr.args[0], scope))
            self.note("the loss is what `add_loss` receives")
        elif name == "compile":
            for kw in expr.keywords:
                if kw.arg == "loss":
                    fn = self.evaluate(kw.value, scope)
                    if isinstance(fn, Func):
                        self.note(
                            f"the loss is `{fn.node.name}`, which Keras averages over the batch"
                        )
                        self.markers.append(self.call_user(fn, [], {}, expr))

    def exec_if(self, stmt: ast.If, scope: Scope):
        decided = self.decide(stmt.test, scope)
        if decided is True:
            return self.exec_block(stmt.body, scope)
        if decided is False:
            return self.exec_block(stmt.orelse, scope)
        error = LossCodeError(
            f"which branch of `if {_text(stmt.test, 60)}:` runs is not in the code; paste only the "
            "branch you train with",
            stmt.lineno,
        )
        for node in ast.walk(ast.Module(body=stmt.body + stmt.orelse, type_ignores=[])):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                scope.names[node.id] = Unreadable(error)
            if isinstance(node, ast.Return):
                raise error
        return None

    def decide(self, test, scope: Scope):
        if (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
        ):
            self.note("an `isinstance` check is taken as true")
            return True
        try:
            value = self.evaluate(test, scope)
        except Refused:
            raise
        except LossCodeError:
            return None
        if isinstance(value, Lit):
            return bool(value.value)
        if isinstance(value, Num) and not value.needs:
            return value.coef.const != 0
        return None

    def assign(self, target, value, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            self.check_name(target.id, target.lineno)
            if (
                isinstance(value, Tensor)
                and value.tree[0] == "leaf"
                and any(ch in value.tree[1] for ch in "([")
            ):
                value = Tensor(("leaf", target.id), value.axes, value.lines)
            scope.names[target.id] = value
            if scope is self.globals:
                self.last_assigned = target.id
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, TupleV) and len(value.items) == len(target.elts):
                for t, v in zip(target.elts, value.items, strict=True):
                    self.assign(t, v, scope)
            else:
                for t in target.elts:
                    self.assign(
                        t, self.leaf_for(t) if not isinstance(value, Unreadable) else value, scope
                    )
        elif isinstance(target, ast.Attribute):
            self.check_name(target.attr, target.lineno)
            owner = self.safe_eval(target.value, scope)
            if isinstance(owner, Instance):
                owner.attrs[target.attr] = value
        elif isinstance(target, ast.Subscript | ast.Starred):
            pass  # item assignment into a container the loss does not read
        else:
            raise LossCodeError("this assignment target is not read", target.lineno)

    # -- expressions --------------------------------------------------------------------------
    def safe_eval(self, node, scope: Scope):
        try:
            return self.evaluate(node, scope)
        except Refused:
            raise
        except LossCodeError as error:
            if error.line is None:
                error = type(error)(error.reason, _lineno(node), error.name)
            return Unreadable(error)

    def check_name(self, name: str, line) -> None:
        if len(name) > MAX_NAME_CHARS:
            raise Refused(
                f"a name of {len(name):,} characters; the limit is {MAX_NAME_CHARS}", line
            )
        if name.startswith("__") and name.endswith("__") and name not in ALLOWED_DUNDERS:
            raise Refused(
                f"the name `{name}` is refused (double-underscore names are not read)", line, name
            )

    def evaluate(self, node, scope: Scope):
        self.clock.check(_lineno(node))
        value = self._eval(node, scope)
        if isinstance(value, Unreadable):
            raise value.error
        return value

    def _eval(self, node, scope: Scope):
        line = _lineno(node) or self.line
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or v is None or isinstance(v, str):
                return Lit(v)
            if isinstance(v, int | float):
                if isinstance(v, int) and v.bit_length() > 64:
                    raise LossCodeError("an integer this large is not read", line)
                return Num(Coef(as_fraction(v, line)))
            raise LossCodeError(f"a {type(v).__name__} constant is not read", line)
        if isinstance(node, ast.Name):
            self.check_name(node.id, line)
            return self.lookup(node.id, scope, line)
        if isinstance(node, ast.Attribute):
            self.check_name(node.attr, line)
            return self.attribute(self.evaluate(node.value, scope), node.attr, node, line)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.BinOp):
            left, right = self.evaluate(node.left, scope), self.evaluate(node.right, scope)
            return self.binop(node.op, left, right, line)
        if isinstance(node, ast.UnaryOp):
            operand = self.evaluate(node.operand, scope)
            if isinstance(node.op, ast.USub):
                return self.scale(operand, Num(Coef(Fraction(-1))), line)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not) and isinstance(operand, Lit):
                return Lit(not operand.value)
            raise LossCodeError(f"the operator {type(node.op).__name__} is not read", line)
        if isinstance(node, ast.Subscript):
            return self.subscript(self.evaluate(node.value, scope), node, scope, line)
        if isinstance(node, ast.Tuple | ast.List):
            items = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    raise LossCodeError("starred items are not read", line)
                items.append(self.safe_eval(elt, scope))  # an unread item fails only if used
            return TupleV(tuple(items))
        if isinstance(node, ast.Dict):
            items = []
            for k, v in zip(node.keys, node.values, strict=True):
                if k is None:
                    raise LossCodeError("dict unpacking is not read", line)
                key = self.evaluate(k, scope)
                items.append(
                    (key.value if isinstance(key, Lit) else None, self.safe_eval(v, scope))
                )
            return DictV(tuple(items))
        if isinstance(node, ast.Compare):
            return self.compare(node, scope, line)
        if isinstance(node, ast.BoolOp):
            values = [self.evaluate(v, scope) for v in node.values]
            if all(isinstance(v, Lit) for v in values):
                bools = [bool(v.value) for v in values]
                return Lit(all(bools) if isinstance(node.op, ast.And) else any(bools))
            raise LossCodeError("this and/or is not decided by the code", line)
        if isinstance(node, ast.IfExp):
            decided = self.decide(node.test, scope)
            if decided is None:
                raise LossCodeError(f"`{_text(node, 60)}` is not decided by the code", line)
            return self.evaluate(node.body if decided else node.orelse, scope)
        if isinstance(node, ast.JoinedStr):
            return Lit("")
        if isinstance(node, ast.Lambda):
            raise Refused("lambdas are not read: write the loss with def", line)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            raise LossCodeError("comprehensions are not read", line)
        raise LossCodeError(f"a `{type(node).__name__}` expression is not read", line)

    def lookup(self, name: str, scope: Scope, line):
        for table in (scope.names, self.globals.names):
            if name in table:
                return table[name]
        if name in self.user_names:
            return Num(Coef(self.user_names[name]), frozenset({name}))
        if name in DEFAULT_MODULES:
            return ModRef(DEFAULT_MODULES[name])
        if name in DEFAULT_BARE:
            return ModRef(DEFAULT_BARE[name])
        return Tensor(("leaf", name))

    def attribute(self, owner, attr: str, node, line):
        if isinstance(owner, ModRef):
            return ModRef(f"{owner.path}.{attr}")
        if isinstance(owner, Instance):
            if attr in owner.attrs:
                return owner.attrs[attr]
            for member in owner.cls.body:
                if isinstance(member, ast.FunctionDef) and member.name == attr:
                    return Func(member, owner)
            dotted = f"self.{attr}"
            if dotted in self.user_names:
                return Num(Coef(self.user_names[dotted]), frozenset({dotted}))
            return Tensor(("leaf", dotted))
        if isinstance(owner, calls.Dist):
            return calls.dist_attribute(self, owner, attr, line)
        if isinstance(owner, Tensor | Loss | Num):
            if attr == "shape":
                return calls.shape_of(self, owner, line)
            if attr in ("data", "T") and isinstance(owner, Tensor):
                return owner
            if isinstance(owner, Tensor) and owner.tree[0] == "leaf" and attr not in calls.METHODS:
                dotted = f"{owner.tree[1]}.{attr}"
                if dotted in self.user_names:
                    return Num(Coef(self.user_names[dotted]), frozenset({dotted}))
                return Tensor(("leaf", dotted))
            return Method(owner, attr)
        if isinstance(owner, calls.LossObject | DictV | TupleV):
            return Method(owner, attr)
        if isinstance(owner, Func):
            raise LossCodeError(
                f"attributes of the function `{owner.node.name}` are not read", line
            )
        raise LossCodeError(f"`.{attr}` of this value is not read", line)

    def subscript(self, owner, node, scope, line):
        index_node = node.slice
        if isinstance(owner, calls.ShapeV | TupleV):
            items = owner.items if isinstance(owner, TupleV) else owner.sizes(self)
            if isinstance(index_node, ast.Slice):
                lo = self.int_of(index_node.lower, scope, 0)
                hi = self.int_of(index_node.upper, scope, len(items))
                if index_node.step is not None:
                    raise LossCodeError("slices with a step are not read", line)
                return TupleV(tuple(items[lo:hi]))
            k = self.int_of(index_node, scope, None)
            if not -len(items) <= k < len(items):
                raise LossCodeError(f"index {k} is out of range (length {len(items)})", line)
            if isinstance(items[k], Unreadable):
                raise items[k].error
            return items[k]
        if isinstance(owner, DictV):
            key = self.evaluate(index_node, scope)
            if isinstance(key, Lit):
                found = owner.get(key.value)
                if found is not None:
                    if isinstance(found, Unreadable):
                        raise found.error
                    return found
            raise LossCodeError(f"the key {_text(index_node)} is not in this dict", line)
        if isinstance(owner, Tensor) and owner.tree[0] == "leaf":
            key = self.safe_eval(index_node, scope)
            if isinstance(key, Lit) and isinstance(key.value, str):
                self.check_name(key.value, line)
                for name in (_text(node), key.value):
                    if name in self.user_names:
                        return Num(Coef(self.user_names[name]), frozenset({name}))
                return Tensor(("leaf", _text(node)))
            return Tensor(("leaf", _text(node)))
        raise LossCodeError(f"indexing `{_text(node)}` is not read", line)

    def int_of(self, node, scope, default):
        if node is None:
            return default
        value = self.evaluate(node, scope)
        if isinstance(value, Num) and value.coef.pure and value.coef.const.denominator == 1:
            return int(value.coef.const)
        if isinstance(value, Num):
            return int(value.coef.value(self.D, self.J, self.B))
        raise LossCodeError(f"`{_text(node)}` is not an integer the code fixes", node.lineno)

    def compare(self, node, scope, line):
        left = self.evaluate(node.left, scope)
        result = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.evaluate(right_node, scope)
            a, b = self.plain(left), self.plain(right)
            if a is _UNKNOWN or b is _UNKNOWN:
                raise LossCodeError("this comparison is not decided by the code", line)
            try:
                if isinstance(op, ast.Eq):
                    ok = a == b
                elif isinstance(op, ast.NotEq):
                    ok = a != b
                elif isinstance(op, ast.Is):
                    ok = a is b or a == b
                elif isinstance(op, ast.IsNot):
                    ok = not (a is b or a == b)
                elif isinstance(op, ast.In):
                    ok = a in b
                elif isinstance(op, ast.NotIn):
                    ok = a not in b
                elif isinstance(op, ast.Lt):
                    ok = a < b
                elif isinstance(op, ast.LtE):
                    ok = a <= b
                elif isinstance(op, ast.Gt):
                    ok = a > b
                else:
                    ok = a >= b
            except TypeError:
                raise LossCodeError("this comparison is not decided by the code", line) from None
            result = result and ok
            left = right
        return Lit(result)

    def plain(self, value):
        if isinstance(value, Lit):
            return value.value
        if isinstance(value, Num) and not value.needs:
            return value.coef.value(self.D, self.J, self.B)
        if isinstance(value, TupleV):
            items = tuple(self.plain(v) for v in value.items)
            return _UNKNOWN if _UNKNOWN in items else items
        return _UNKNOWN

    # -- calls --------------------------------------------------------------------------------
    def call(self, node: ast.Call, scope: Scope):
        line = node.lineno
        if isinstance(node.func, ast.Attribute) and node.func.attr == "gradient" and node.args:
            self.markers.append(self.evaluate(node.args[0], scope))  # tape.gradient(loss, weights)
            self.note("the loss is what `tape.gradient` differentiates")
            return Tensor(("leaf", "gradients"))
        callee = self.evaluate(node.func, scope)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                spread = self.evaluate(a.value, scope)
                if isinstance(spread, TupleV):
                    args.extend(spread.items)
                    continue
                raise LossCodeError(f"`*{_text(a.value)}` is not read", line)
            args.append(self.evaluate(a, scope))
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                spread = self.evaluate(kw.value, scope)
                if isinstance(spread, DictV):
                    kwargs.update({k: v for k, v in spread.items if isinstance(k, str)})
                    continue
                raise LossCodeError(f"`**{_text(kw.value)}` is not read", line)
            self.check_name(kw.arg, line)
            kwargs[kw.arg] = self.evaluate(kw.value, scope)
        if isinstance(callee, Func):
            return self.call_user(callee, args, kwargs, node)
        if isinstance(callee, ModRef):
            self.uses(callee.path)
            return calls.call_library(self, callee.path, args, kwargs, node)
        if isinstance(callee, Method):
            return calls.call_method(self, callee.owner, callee.name, args, kwargs, node)
        if isinstance(callee, calls.LossObject):
            return calls.call_loss_object(self, callee, args, kwargs, node)
        return self.unknown_call(node, args, kwargs)

    def unknown_call(self, node, args, kwargs):
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, Loss):
                raise LossCodeError(
                    f"`{_text(node.func)}(…)` is applied to a loss term; I can't tell what it does",
                    node.lineno,
                )
        return Tensor(("leaf", _text(node)))

    def call_user(self, func: Func, args, kwargs, node):
        fn = func.node
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            raise LossCodeError("functions call each other too deeply", node.lineno)
        saved = (self.stmt_lines, self.line)
        vmapped = any(_text(d) in ("jax.vmap", "vmap") for d in fn.decorator_list)
        self.per_example += vmapped
        try:
            scope = Scope()
            params = fn.args
            positional = params.posonlyargs + params.args
            if (
                func.owner is not None
                and positional
                and not any(_text(d) == "staticmethod" for d in fn.decorator_list)
            ):
                scope.names[positional[0].arg] = func.owner
                positional = positional[1:]
            defaults = [None] * (len(positional) - len(params.defaults)) + list(params.defaults)
            for k, (param, default) in enumerate(zip(positional, defaults, strict=True)):
                self.check_name(param.arg, fn.lineno)
                if k < len(args):
                    scope.names[param.arg] = args[k]
                elif param.arg in kwargs:
                    scope.names[param.arg] = kwargs.pop(param.arg)
                elif param.arg in self.user_names:
                    scope.names[param.arg] = Num(
                        Coef(self.user_names[param.arg]), frozenset({param.arg})
                    )
                elif default is not None:
                    value = self.safe_eval(default, self.globals)
                    if isinstance(value, Num) and not isinstance(
                        default, ast.Constant | ast.UnaryOp
                    ):
                        pass
                    if isinstance(value, Num):
                        self.note(
                            f"`{param.arg}` is taken at its default {float(value.coef.const):g}"
                        )
                    scope.names[param.arg] = value
                else:
                    scope.names[param.arg] = Tensor(("leaf", param.arg))
            for param, default in zip(params.kwonlyargs, params.kw_defaults, strict=True):
                if param.arg in kwargs:
                    scope.names[param.arg] = kwargs.pop(param.arg)
                elif default is not None:
                    scope.names[param.arg] = self.safe_eval(default, self.globals)
                else:
                    scope.names[param.arg] = Tensor(("leaf", param.arg))
            extra = args[len(positional) :]
            if params.vararg is not None:
                scope.names[params.vararg.arg] = (
                    TupleV(tuple(extra)) if extra else Tensor(("leaf", params.vararg.arg))
                )
            if params.kwarg is not None:
                scope.names[params.kwarg.arg] = (
                    DictV(tuple(kwargs.items())) if kwargs else Tensor(("leaf", params.kwarg.arg))
                )
            result = self.exec_block(fn.body, scope)
        finally:
            self.depth -= 1
            self.per_example -= vmapped
            self.stmt_lines, self.line = saved
        if result is None:
            return Lit(None)
        value = result[1]
        if isinstance(value, Unreadable):
            raise value.error
        if isinstance(value, Tensor) and vmapped:
            return Tensor(value.tree, value.axes, value.lines, per_example=True)
        if isinstance(value, Loss) and vmapped:
            # inside vmap the batch axis was never reduced
            return value
        return value


def _has_marker(fn: ast.FunctionDef) -> bool:
    """Does the function call .backward(), tape.gradient(loss, …) or add_loss(loss)?"""
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (
                node.func.attr in ("backward", "add_loss")
                or (node.func.attr == "gradient" and node.args)
            )
        ):
            return True
    return False


class _Unknown:
    pass


_UNKNOWN = _Unknown()
