"""Caps applied to pasted code before and while it is read, and the one error type readers raise.

User text is only ever given to `ast.parse`, after the caps below: CPython's parser recurses on
nesting and can exhaust the C stack on a few thousand brackets, so depth is measured by a plain
character scan first. Nothing is compiled, executed, imported or looked up with getattr.
"""

from __future__ import annotations

import ast
import time

MAX_CHARS = 20_000  # a loss function with its class and helpers fits in a few kB
MAX_LINES = 600
MAX_LINE_CHARS = 400
MAX_NAME_CHARS = 80
MAX_BRACKET_DEPTH = 40
MAX_NODES = 8_000
MAX_AST_DEPTH = 60
MAX_CALL_DEPTH = 12  # user functions calling user functions
TIME_BUDGET = 0.5  # CPU seconds of reading before giving up


class LossCodeError(ValueError):
    """The code cannot be read (or is refused); the message says what and where."""

    def __init__(self, message: str, line: int | None = None, name: str | None = None) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{message}")
        self.line = line
        self.name = name
        self.reason = message


class MissingNames(LossCodeError):
    """The code uses names it never defines; their values are needed (``names`` lists them)."""

    def __init__(self, missing: dict[str, int], given: tuple[str, ...] = ()) -> None:
        self.missing = dict(missing)
        self.given = tuple(given)  # names from `names` that the loss also uses
        listed = ", ".join(f"`{n}` (line {ln})" for n, ln in self.missing.items())
        first_name, first_line = next(iter(self.missing.items()))
        super().__init__(
            f"the code uses {listed} without defining {'it' if len(missing) == 1 else 'them'}: "
            "give the value of each",
            line=first_line,
            name=first_name,
        )


def _bracket_depth(code: str) -> tuple[int, int]:
    """Deepest bracket nesting and the line where it is reached (strings are not skipped: a
    conservative over-count is fine for a cap)."""
    depth = deepest = 0
    line = deepest_line = 1
    for char in code:
        if char in "([{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "\n":
            line += 1
    return deepest, deepest_line


def _tree_depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def parse(code: str) -> ast.Module:
    """`ast.parse` behind caps on size, line length and nesting; LossCodeError otherwise."""
    if not isinstance(code, str):
        raise LossCodeError(f"the code must be text, got {type(code).__name__}")
    if not code.strip():
        raise LossCodeError("the code box is empty: paste the function that computes your loss")
    if len(code) > MAX_CHARS:
        raise LossCodeError(f"the code is {len(code):,} characters; the limit is {MAX_CHARS:,}")
    depth, depth_line = _bracket_depth(code)
    if depth > MAX_BRACKET_DEPTH:
        raise LossCodeError(
            f"brackets nest {depth} deep; the limit is {MAX_BRACKET_DEPTH}", depth_line
        )
    lines = code.splitlines()
    if len(lines) > MAX_LINES:
        raise LossCodeError(f"the code has {len(lines):,} lines; the limit is {MAX_LINES:,}")
    for number, text in enumerate(lines, 1):
        if len(text) > MAX_LINE_CHARS:
            raise LossCodeError(
                f"the line is {len(text):,} characters long; the limit is {MAX_LINE_CHARS}", number
            )
    try:
        tree = ast.parse(code.expandtabs(4), mode="exec")
    except SyntaxError as error:
        raise LossCodeError(f"not valid Python: {error.msg}", error.lineno) from None
    except (MemoryError, RecursionError):
        raise LossCodeError("the code nests too deeply to parse") from None
    except ValueError as error:
        raise LossCodeError(f"not valid Python: {error}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise LossCodeError(f"the code has {count:,} syntax nodes; the limit is {MAX_NODES:,}")
    if _tree_depth(tree) > MAX_AST_DEPTH:
        raise LossCodeError(f"expressions nest deeper than {MAX_AST_DEPTH} levels")
    return tree


class Clock:
    """A reading's time budget, checked as nodes are visited. It counts this thread's CPU time,
    so a busy machine (or the server's other sessions) cannot make a small reading run out."""

    def __init__(self, budget: float = TIME_BUDGET) -> None:
        self.deadline = time.thread_time() + budget

    def check(self, line: int | None) -> None:
        if time.thread_time() > self.deadline:
            raise LossCodeError("reading took too long; paste only the loss function", line)
