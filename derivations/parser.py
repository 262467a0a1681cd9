"""A safe parser for the maths a learner types: plain notation or a little LaTeX -> SymPy.

This is the one place where user text meets SymPy, so nothing here evaluates code: there is no
``eval``, ``exec``, ``compile``, ``ast``, ``sympify`` or ``parse_expr``. A hand-written tokenizer
turns the text into tokens, a Pratt (precedence-climbing) parser turns the tokens into a small
tree of tuples, and a builder turns that tree into SymPy objects by calling constructors
directly, looking every name up in a whitelist.

Accepted (plain): numbers ``3``, ``0.5``, ``1e-3``; ``+ - * / ^`` (``**`` too), unary minus,
parentheses, implicit multiplication (``2sigma``, ``2 pi``, ``x_i mu_i``); the derivation's
names (``x``, ``mu``, ``sigma``, ``D``, ``i`` ...), Greek letters typed as words or as
``σ μ π β λ α ...``; ``pi`` and ``e`` (unless the derivation has its own); subscripts ``x_i``,
``mu_i``, ``x_1``, ``mu_z_j`` (the longest known name wins); functions ``log ln exp sqrt abs
sum mean norm softplus sigmoid logsigmoid log1p tanh atanh artanh arctanh erf max min``;
``sum(expr)`` = sum over the derivation's index ``i`` from 1 to ``D`` (also ``sum(expr, i)``,
``sum(expr, i, 1, D)``, ``Σ expr``, ``sum_i expr``); a sum over latent vectors (``mu_z``) runs
over their own index (``j`` to ``J``, see `sum_structure`); inside a sum a bare vector name means
its entry at the sum's index; ``|a|`` is abs. Unicode ``− × · ÷ √ ² ³ ⁻ ᵢ ₁ ½ Σ`` are
understood; a function written without brackets takes the implicit product after it
(``\\log 2\\pi\\sigma^2`` is log(2πσ²)).

Accepted (LaTeX, detected by a backslash or a brace): ``\\frac{a}{b}``, ``\\sqrt{a}``,
``\\log \\ln \\exp``, ``\\sum_{i=1}^{D}``, ``\\left( \\right)``, ``\\cdot \\times``, ``^{...}``,
``_{i}``, ``_{z,j}``, Greek commands, ``\\|x-\\mu\\|^2``, ``\\lvert a \\rvert``,
``\\operatorname{softplus}``, ``\\mathbf{x}``; surrounding ``$...$`` is dropped. As in LaTeX,
``x^23`` is x²·3 (refused: write ``x^{23}``).

Every rejection is a `ParseError` (a ``ValueError``) with a message a learner can act on.
Bounds: `MAX_LENGTH` characters, `MAX_TOKENS` tokens, `MAX_DEPTH` nesting, numbers of at most
`MAX_NUMBER_CHARS` characters, exact numbers of at most `MAX_DIGITS` digits (big powers are
refused before SymPy computes them), numeric exponents of at most `MAX_EXPONENT`, and at most
`MAX_RADICALS` roots of plain numbers (SymPy factorises those, which can be slow).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from derivations import base

MAX_LENGTH = 2000
MAX_TOKENS = 1000
MAX_DEPTH = 50
MAX_NUMBER_CHARS = 30
MAX_DIGITS = 1000
MAX_EXPONENT = 1000
MAX_RADICALS = 8
MAX_RADICAND = 10**6
MAX_SUM_TERMS = 1000
MAX_SUBSCRIPT = 1000

_MAX_BITS = int(MAX_DIGITS * math.log2(10)) + 1


class ParseError(ValueError):
    """The text is not an expression this parser accepts; the message says why."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# ---------------------------------------------------------------------------------------------
# Names


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

_SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7",
    "⁸": "8", "⁹": "9", "⁻": "-", "⁺": "+",
}  # fmt: skip
_SUBSCRIPTS = {
    "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7",
    "₈": "8", "₉": "9", "ᵢ": "i", "ⱼ": "j",
}  # fmt: skip
_FRACTIONS = {"½": ("1", "2"), "⅓": ("1", "3"), "⅔": ("2", "3"), "¼": ("1", "4"), "¾": ("3", "4")}
_UNICODE_OPS = {
    "−": "-", "–": "-", "×": "*", "·": "*", "⋅": "*", "∙": "*", "∗": "*", "÷": "/",
    "∕": "/",
}  # fmt: skip

# Cyrillic/Greek letters that look like Latin ones, for a "did you mean" in the error.
_LOOKALIKES = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "к": "k", "м": "M", "т": "T", "н": "H", "в": "B", "ο": "o",
    "ι": "i", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*", re.ASCII)
_LATEX_WORD = re.compile(r"[A-Za-z]+", re.ASCII)

_FORBIDDEN_MSG = (
    "{name!r} is not allowed: type a maths expression using numbers, + − × ÷ ^, the names of "
    "this step and functions like log, exp, sqrt, sum"
)
_DUNDER_MSG = "names like __import__ are not allowed (no names that start with _ or contain __)"


def _char_error(ch: str, pos: int) -> ParseError:
    name = unicodedata.name(ch, None)
    if name is None:
        name = "control character" if unicodedata.category(ch).startswith("C") else "unnamed"
    message = f"unexpected character {ch!r} (U+{ord(ch):04X} {name})"
    guess = _LOOKALIKES.get(ch)
    if guess is None:
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch and folded.isascii() and folded.isprintable() and folded not in ";:":
            guess = folded
    if guess is not None:
        message += f"; it looks like {guess!r} but is a different character — retype it"
    return ParseError(message, pos)


# ---------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op", "sum", "frac", "sqrt", "norm", "end"
    text: str
    pos: int


def _strip_math_delimiters(text: str) -> tuple[str, int]:
    """Drop surrounding $...$, $$...$$, \\(...\\) or \\[...\\] that people paste from papers."""
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        fits = len(stripped) > len(left) + len(right)
        if fits and stripped.startswith(left) and stripped.endswith(right):
            return stripped[len(left) : -len(right)], offset + len(left)
    return stripped, offset


class _Tokenizer:
    def __init__(self, text: str, offset: int, latex: bool, known_words: set[str]) -> None:
        self.text = text
        self.offset = offset
        self.latex = latex
        self.known = known_words
        self.tokens: list[Token] = []
        self.single_digits = 0  # LaTeX: x^23 is x^2 * 3, \frac12 is 1/2

    def error(self, message: str, pos: int) -> ParseError:
        return ParseError(message, pos + self.offset)

    def add(self, kind: str, text: str, pos: int) -> None:
        if len(self.tokens) >= MAX_TOKENS:
            raise self.error(f"expression too long (more than {MAX_TOKENS} symbols)", pos)
        self.tokens.append(Token(kind, text, pos + self.offset))

    def run(self) -> list[Token]:
        text, n, pos = self.text, len(self.text), 0
        while pos < n:
            ch = text[pos]
            if ch.isspace():
                pos += 1
                continue
            if self.single_digits and ch not in "0123456789":
                self.single_digits = 0
            if ch in "0123456789" or (ch == "." and text[pos + 1 : pos + 2].isdigit()):
                pos = self.number(pos)
            elif ch.isascii() and ch.isalpha():
                pos = self.word(pos)
            elif ch == "\\" and self.latex:
                pos = self.command(pos)
            elif ch == "_":
                before = text[pos - 1] if pos else ""
                attached = before.isalnum() or before in "})"
                if text[pos + 1 : pos + 2] == "_" or not self.tokens or not attached:
                    raise self.error(_DUNDER_MSG, pos)
                self.add("op", "_", pos)
                if self.latex:
                    self.single_digits = 1
                pos += 1
            elif ch == "*":
                if text[pos + 1 : pos + 2] == "*":
                    self.add("op", "^", pos)
                    pos += 2
                else:
                    self.add("op", "*", pos)
                    pos += 1
            elif ch in "+-/^(),=|":
                self.add("op", ch, pos)
                if ch == "^" and self.latex:
                    self.single_digits = 1
                pos += 1
            elif ch in "{}":
                self.add("op", ch, pos)
                pos += 1
            elif ch in _UNICODE_OPS:
                self.add("op", _UNICODE_OPS[ch], pos)
                pos += 1
            elif ch in GREEK_LETTERS:
                self.add("name", GREEK_LETTERS[ch], pos)
                pos += 1
            elif ch in _FRACTIONS:
                top, bottom = _FRACTIONS[ch]
                for kind, piece in (("op", "("), ("num", top), ("op", "/"), ("num", bottom)):
                    self.add(kind, piece, pos)
                self.add("op", ")", pos)
                pos += 1
            elif ch in "Σ∑":
                self.add("sum", "sum", pos)
                pos += 1
            elif ch == "√":
                self.add("sqrt", "sqrt", pos)
                pos += 1
            elif ch in _SUPERSCRIPTS:
                start = pos
                while pos < n and text[pos] in _SUPERSCRIPTS:
                    pos += 1
                run = "".join(_SUPERSCRIPTS[c] for c in text[start:pos])
                self.add("op", "^", start)
                self.add("op", "(", start)
                digits = run.lstrip("+-")
                for sign in run[: len(run) - len(digits)]:
                    self.add("op", sign, start)
                if digits:
                    if not digits.isdigit():
                        raise self.error("a superscript like ⁻² needs digits after the sign", start)
                    self.add("num", digits, start)
                self.add("op", ")", start)
            elif ch in _SUBSCRIPTS:
                start = pos
                while pos < n and text[pos] in _SUBSCRIPTS:
                    pos += 1
                run = "".join(_SUBSCRIPTS[c] for c in text[start:pos])
                if not self.tokens or self.tokens[-1].kind != "name":
                    raise self.error("a subscript must follow a name, as in xᵢ", start)
                self.add("op", "_", start)
                self.add("num" if run.isdigit() else "name", run, start)
            elif ch in "'\"`":
                raise self.error(
                    "quotes are not allowed: type the expression itself, not a string", pos
                )
            elif ch == ".":
                raise self.error(
                    "'.' is only allowed inside numbers like 0.5 (there is no attribute access)",
                    pos,
                )
            elif ch in "[]":
                raise self.error("square brackets are not allowed; use round brackets ( )", pos)
            elif ch in ":;":
                raise self.error(
                    f"unexpected character {ch!r}: only a single maths expression is accepted", pos
                )
            elif ch == "\\":
                raise self.error("a backslash only makes sense in LaTeX, like \\frac{a}{b}", pos)
            else:
                raise _char_error(ch, pos + self.offset)
        self.add("end", "", n)
        return self.tokens

    def number(self, pos: int) -> int:
        m = _NUMBER.match(self.text, pos)
        assert m is not None
        literal = m.group(0)
        if self.single_digits:
            self.single_digits -= 1
            self.add("num", literal[0], pos)
            return pos + 1
        if len(literal) > MAX_NUMBER_CHARS:
            raise self.error(
                f"number too long ({len(literal)} characters; the limit is {MAX_NUMBER_CHARS})", pos
            )
        end = m.end()
        if literal.endswith(".") and self.text[end : end + 1].isalpha():
            raise self.error(
                "'.' is only allowed inside numbers like 0.5 (there is no attribute access)",
                end - 1,
            )
        self.add("num", literal, pos)
        if end < len(self.text) and self.text[end] == "." and not self.latex:
            raise self.error("a number can have only one decimal point", end)
        return end

    def word(self, pos: int) -> int:
        if self.latex:
            m = _LATEX_WORD.match(self.text, pos)
            assert m is not None
            word = m.group(0)
            if word in self.known or word in FUNCTIONS or word in FORBIDDEN_NAMES:
                self.emit_word(word, pos)
            else:  # LaTeX reads xy as x times y
                for k, letter in enumerate(word):
                    self.emit_word(letter, pos + k)
            return m.end()
        m = _WORD.match(self.text, pos)
        assert m is not None
        self.emit_word(m.group(0), pos)
        return m.end()

    def emit_word(self, word: str, pos: int) -> None:
        if word in FORBIDDEN_NAMES and word not in self.known:
            raise self.error(_FORBIDDEN_MSG.format(name=word), pos)
        self.add("name", word, pos)

    def command(self, pos: int) -> int:
        text = self.text
        m = _LATEX_WORD.match(text, pos + 1)
        if m is None:
            nxt = text[pos + 1 : pos + 2]
            if nxt in (",", ";", "!", ":", " ", ">"):
                return pos + 2
            if nxt == "|":
                self.add("norm", "||", pos)
                return pos + 2
            if nxt == "":
                raise self.error("a backslash must be followed by a LaTeX command", pos)
            raise self.error(f"the LaTeX command \\{nxt} is not supported", pos)
        name, end = m.group(0), m.end()
        if name in ("left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big", "biggl"):
            rest = end
            while rest < len(text) and text[rest].isspace():
                rest += 1
            if text[rest : rest + 1] == ".":  # \left. is an invisible delimiter
                return rest + 1
            return end
        if name in LATEX_GREEK:
            self.add("name", name, pos)
        elif name in ("frac", "dfrac", "tfrac"):
            self.add("frac", "frac", pos)
            self.single_digits = 2
        elif name == "sqrt":
            self.add("sqrt", "sqrt", pos)
            self.single_digits = 1
        elif name == "sum":
            self.add("sum", "sum", pos)
        elif name in ("cdot", "times", "ast"):
            self.add("op", "*", pos)
        elif name == "div":
            self.add("op", "/", pos)
        elif name in ("log", "ln", "exp", "tanh", "max", "min", "arctanh", "erf"):
            self.add("name", name, pos)
        elif name in ("lvert", "rvert", "vert"):
            self.add("op", "|", pos)
        elif name in ("lVert", "rVert", "Vert"):
            self.add("norm", "||", pos)
        elif name in ("quad", "qquad"):
            pass
        elif name in ("mathbf", "boldsymbol", "bm", "mathit", "vec"):
            # bold vectors: \mathbf{x}_i is x_i; anything longer in the braces just groups
            inner = re.compile(r"\s*\{\s*(\\?)([A-Za-z]+)\s*\}", re.ASCII).match(text, end)
            if inner is not None:
                word = inner.group(2)
                if inner.group(1) and word not in LATEX_GREEK:
                    raise self.error(f"the LaTeX command \\{word} is not supported here", pos)
                self.add("name", word, pos)
                return inner.end()
        elif name in ("operatorname", "mathrm"):
            inner = re.compile(r"\s*\{\s*([A-Za-z0-9]+)\s*\}", re.ASCII).match(text, end)
            if inner is None:
                raise self.error(f"\\{name} must be followed by a name in braces", pos)
            self.emit_word(inner.group(1), pos)
            return inner.end()
        else:
            raise self.error(
                f"the LaTeX command \\{name} is not allowed here (only maths commands such as "
                "\\frac, \\sqrt, \\log, \\exp, \\sum, \\cdot and Greek letters)",
                pos,
            )
        return end


def tokenize(text: str, symbols: Mapping[str, sp.Basic] | None = None) -> list[Token]:
    """Tokens of `text` (mostly useful for tests); raises ParseError on anything suspicious."""
    if not isinstance(text, str):
        raise ParseError("the expression must be text")
    if len(text) > MAX_LENGTH:
        raise ParseError(
            f"expression too long ({len(text)} characters; the limit is {MAX_LENGTH})", MAX_LENGTH
        )
    body, offset = _strip_math_delimiters(text)
    if not body:
        raise ParseError("type an expression first", 0)
    latex = "\\" in body or "{" in body or "}" in body
    known = set(symbols if symbols is not None else default_symbols()) | set(CONSTANTS)
    known |= set(ALIASES) | {"sum"}
    return _Tokenizer(body, offset, latex, known).run()


# ---------------------------------------------------------------------------------------------
# Parser: tokens -> a tree of tuples


_BINDING = {"+": 10, "-": 10, "*": 20, "/": 20, "^": 30, "_": 40}
_UNARY = 25  # -x^2 is -(x^2); -a*b is (-a)*b
_SUM_BODY = 15  # \sum a_i b_i / c takes the whole product, stops at + and -
_CLOSERS = {"(": ")", "{": "}"}


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0
        self.bars = 0  # open |...| groups
        self.norms = 0  # open \|...\| groups

    # helpers
    def peek(self) -> Token:
        return self.tokens[self.at]

    def next(self) -> Token:
        tok = self.tokens[self.at]
        if tok.kind != "end":
            self.at += 1
        return tok

    def is_op(self, tok: Token, text: str) -> bool:
        return tok.kind == "op" and tok.text == text

    def expect(self, text: str, opener: Token | None = None) -> Token:
        tok = self.peek()
        if self.is_op(tok, text):
            return self.next()
        if opener is not None:
            raise ParseError(
                f"missing {text!r} to close the {opener.text!r} at position {opener.pos + 1}",
                tok.pos,
            )
        raise ParseError(f"expected {text!r} but found {self.describe(tok)}", tok.pos)

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.kind == "end":
            return "the end of the expression"
        return repr(tok.text)

    def parse(self) -> tuple:
        node = self.expr(0)
        tok = self.peek()
        if tok.kind != "end":
            if self.is_op(tok, "="):
                raise ParseError(
                    "'=' is not allowed: type one side only (the expression), not an equation",
                    tok.pos,
                )
            if tok.kind == "op" and tok.text in ")}":
                raise ParseError(f"unmatched {tok.text!r}", tok.pos)
            if self.is_op(tok, "_"):
                raise ParseError("a subscript must follow a name, as in x_i", tok.pos)
            raise ParseError(f"unexpected {self.describe(tok)}", tok.pos)
        return node

    def starts_operand(self, tok: Token) -> bool:
        if tok.kind in ("num", "name", "sum", "frac", "sqrt"):
            return True
        if tok.kind == "norm":
            return self.norms == 0
        if tok.kind == "op":
            return tok.text in "({" or (tok.text == "|" and self.bars == 0)
        return False

    def binding(self, tok: Token, left: tuple) -> int:
        if self.is_op(tok, "_"):
            # only \sigma^2_i (LaTeX for \sigma_i^2) reaches here; other misplaced
            # subscripts are reported by parse()
            reattach = left[0] == "^" and left[1][0] == "name" and not left[1][2]
            return _BINDING["_"] if reattach else 0
        if tok.kind == "op" and tok.text in _BINDING:
            return _BINDING[tok.text]
        if self.starts_operand(tok):
            return 20  # implicit multiplication, same as * (so 1/2 x is x/2)
        return 0

    def expr(self, rbp: int) -> tuple:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(
                f"expression nested too deeply (more than {MAX_DEPTH} levels)", self.peek().pos
            )
        left = self.nud(self.next())
        while self.binding(self.peek(), left) > rbp:
            left = self.led(left, self.peek())
        self.depth -= 1
        return left

    # prefix positions
    def nud(self, tok: Token) -> tuple:
        if tok.kind == "num":
            return ("num", tok.text, tok.pos)
        if tok.kind == "name":
            return self.name(tok)
        if tok.kind == "sum":
            return self.sum_operator(tok)
        if tok.kind == "frac":
            num = self.argument(tok)
            den = self.argument(tok)
            return ("mul", [("*", num), ("/", den)], tok.pos)
        if tok.kind == "sqrt":
            if self.is_op(self.peek(), "["):
                raise ParseError("\\sqrt[n] is not supported; use a power like x^(1/3)", tok.pos)
            return ("call", "sqrt", [self.argument(tok)], tok.pos)
        if tok.kind == "norm":
            self.norms += 1
            inner = self.expr(0)
            close = self.peek()
            if close.kind != "norm":
                raise ParseError(
                    f"missing '\\|' to close the norm at position {tok.pos + 1}", close.pos
                )
            self.next()
            self.norms -= 1
            return ("norm", inner, tok.pos)
        if tok.kind == "op":
            if tok.text in _CLOSERS:
                inner = self.expr(0)
                self.expect(_CLOSERS[tok.text], tok)
                return inner
            if tok.text == "-":
                return ("neg", self.expr(_UNARY), tok.pos)
            if tok.text == "+":
                return self.expr(_UNARY)
            if tok.text == "|":
                self.bars += 1
                inner = self.expr(0)
                self.expect("|", tok)
                self.bars -= 1
                return ("call", "abs", [inner], tok.pos)
            if tok.text in ")}":
                raise ParseError(
                    f"unexpected {tok.text!r}: something is missing before it", tok.pos
                )
            if tok.text == "=":
                raise ParseError(
                    "'=' is not allowed: type one side only (the expression), not an equation",
                    tok.pos,
                )
            if tok.text == "_":
                raise ParseError("a subscript must follow a name, as in x_i", tok.pos)
            raise ParseError(f"{tok.text!r} needs something before it", tok.pos)
        if tok.kind == "end":
            raise ParseError("the expression ends too early: something is missing", tok.pos)
        raise ParseError(f"unexpected {self.describe(tok)}", tok.pos)

    def argument(self, owner: Token) -> tuple:
        """A LaTeX argument: {expr}, (expr) or a single number/name."""
        tok = self.peek()
        if tok.kind == "op" and tok.text in "({":
            self.next()
            inner = self.expr(0)
            self.expect(_CLOSERS[tok.text], tok)
            return inner
        if tok.kind in ("num", "name", "sqrt", "frac"):
            self.next()
            return self.nud(tok)
        if owner.kind == "sqrt" and self.starts_operand(tok):
            return self.expr(_BINDING["^"])
        raise ParseError(f"\\{owner.text} needs an argument in braces, like {{x}}", tok.pos)

    def name(self, tok: Token) -> tuple:
        word = tok.text
        if word in FUNCTIONS:
            if self.is_op(self.peek(), "("):
                opener = self.next()
                args = [self.expr(0)]
                while self.is_op(self.peek(), ","):
                    self.next()
                    args.append(self.expr(0))
                self.expect(")", opener)
                return ("call", word, args, tok.pos)
            if word == "sum":
                return self.sum_operator(tok)
            if self.is_op(self.peek(), "^"):
                raise ParseError(
                    f"write powers of {word} with brackets, like {word}(x)^2", self.peek().pos
                )
            if not self.starts_operand(self.peek()):
                raise ParseError(f"{word} needs an argument, like {word}(x)", self.peek().pos)
            return ("call", word, [self.chain()], tok.pos)
        subs: list[tuple[str, int]] = []
        while self.is_op(self.peek(), "_"):
            self.next()
            subs.extend(self.subscript())
            if len(subs) > 3:
                raise ParseError("too many subscripts", tok.pos)
        return ("name", word, subs, tok.pos)

    def chain(self) -> tuple:
        """The argument of a function written without brackets: \\log 2\\pi\\sigma^2."""
        node = self.expr(_BINDING["^"] - 1)
        while True:
            tok = self.peek()
            plain_name = tok.kind == "name" and tok.text not in FUNCTIONS
            if not (tok.kind == "num" or plain_name or (tok.kind == "op" and tok.text in "({")):
                return node
            node = ("mul", [("*", node), ("*", self.expr(_BINDING["^"] - 1))], tok.pos)

    def subscript(self) -> list[tuple[str, int]]:
        """x_i, x_1, mu_z (a name's suffix), or LaTeX x_{i}, \\mu_{z,j}, \\mu_{z_j}."""
        tok = self.next()
        if tok.kind in ("name", "num"):
            return [(tok.text, tok.pos)]
        if self.is_op(tok, "{"):
            parts = []
            while True:
                inner = self.next()
                if inner.kind not in ("name", "num"):
                    raise ParseError("a subscript must be an index like i or a number", inner.pos)
                parts.append((inner.text, inner.pos))
                if self.peek().kind == "op" and self.peek().text in ",_":
                    self.next()
                elif self.peek().kind not in ("name", "num") or len(parts) > 3:
                    break
            self.expect("}", tok)
            return parts
        raise ParseError("a subscript must be an index like i or a number", tok.pos)

    def sum_operator(self, tok: Token) -> tuple:
        index = lower = upper = None
        if self.is_op(self.peek(), "_"):
            self.next()
            sub = self.next()
            if self.is_op(sub, "{") or self.is_op(sub, "("):
                name = self.next()
                if name.kind != "name":
                    raise ParseError("a sum needs an index name, like \\sum_{i=1}^{D}", name.pos)
                index = (name.text, name.pos)
                if self.is_op(self.peek(), "="):
                    self.next()
                    lower = self.expr(0)
                self.expect(_CLOSERS[sub.text], sub)
            elif sub.kind == "name":
                index = (sub.text, sub.pos)
            else:
                raise ParseError("a sum needs an index name, like \\sum_{i=1}^{D}", sub.pos)
        if self.is_op(self.peek(), "^"):
            self.next()
            upper = self.argument(Token("sum", "sum", tok.pos))
        if not self.starts_operand(self.peek()) and not self.is_op(self.peek(), "-"):
            raise ParseError("a sum needs something to add up after it", self.peek().pos)
        body = self.expr(_SUM_BODY)
        return ("sum", body, index, lower, upper, tok.pos)

    # infix positions
    def led(self, left: tuple, tok: Token) -> tuple:
        if tok.kind == "op" and tok.text in "+-*/":
            self.next()
            right = self.expr(_BINDING[tok.text])
            return self.chain_with(left, tok.text, right, tok.pos)
        if self.is_op(tok, "^"):
            self.next()
            if self.peek().kind == "end":
                raise ParseError("'^' needs an exponent after it", self.peek().pos)
            right = self.expr(_BINDING["^"] - 1)  # right-associative
            return ("^", left, right, tok.pos)
        if self.is_op(tok, "_"):
            self.next()
            subs = self.subscript()
            base = left[1]  # binding() let '_' through only for \sigma^2_i
            return ("^", ("name", base[1], subs, base[3]), left[2], left[3])
        # implicit multiplication
        if tok.kind == "num":
            raise ParseError(
                f"missing operator before the number {tok.text} (write * to multiply)", tok.pos
            )
        right = self.expr(_BINDING["*"])
        return self.chain_with(left, "*", right, tok.pos)

    @staticmethod
    def chain_with(left: tuple, op: str, right: tuple, pos: int) -> tuple:
        """a+b-c and a*b/c become one flat node each, so long chains never recurse deeply."""
        kind = "add" if op in "+-" else "mul"
        if left[0] == kind:
            left[1].append((op, right))
            return left
        return (kind, [("+" if kind == "add" else "*", left), (op, right)], pos)


# ---------------------------------------------------------------------------------------------
# Builder: tree -> SymPy, names through the whitelist

# Conventional (index, size) pairs, used when a namespace has both names.
_INDEX_SIZE_NAMES = (("i", "D"), ("j", "J"), ("k", "K"), ("n", "N"), ("l", "L"))


def sum_structure(exprs) -> dict[sp.Basic, tuple[sp.Symbol, sp.Expr]]:
    """How a derivation sums: index -> (index, upper limit) and vector -> (its index, upper).

    `parse` uses it so that ``sum(mu_z^2)`` in the ELBO sums over the latent index j up to J
    while ``sum((x-mu)^2)`` sums over the pixels i up to D.
    """
    out: dict[sp.Basic, tuple[sp.Symbol, sp.Expr]] = {}
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if not isinstance(node, (sp.Sum, sp.Product)):
                continue
            for limit in node.limits:
                if len(limit) != 3:
                    continue
                idx, _, upper = limit
                out.setdefault(idx, (idx, upper))
                for ind in node.function.atoms(sp.Indexed):
                    if idx in ind.indices:
                        out.setdefault(ind.base, (idx, upper))
    return out


def _number(text: str, pos: int) -> sp.Rational:
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0") or "0"
    exp10 = (int(exponent) if exponent else 0) - len(frac)
    if abs(exp10) > 300:
        raise ParseError(f"number {text} is too large or too small", pos)
    value = int(digits)
    if exp10 >= 0:
        return sp.Integer(value * 10**exp10)
    return sp.Rational(value, 10**-exp10)


def _rational_bits(r: sp.Rational) -> int:
    return max(abs(int(r.p)).bit_length(), int(r.q).bit_length())


def _max_bits(expr: sp.Basic) -> int:
    return max((_rational_bits(a) for a in expr.atoms(sp.Rational)), default=1)


def _names_in(node) -> list[tuple[str, list]]:
    """Every (name, subscripts) in a syntax tree, without recursion limits mattering (depth<=50)."""
    found = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple) and item and item[0] == "name":
            found.append((item[1], item[2]))
        elif isinstance(item, (tuple, list)):
            stack.extend(part for part in item if isinstance(part, (tuple, list)))
    return found


class _Builder:
    def __init__(
        self,
        symbols: Mapping[str, sp.Basic],
        sums: Mapping[sp.Basic, tuple[sp.Symbol, sp.Expr]] | None,
    ) -> None:
        self.symbols = dict(symbols)
        self.sums = dict(sums or {})
        for index_name, size_name in _INDEX_SIZE_NAMES:
            idx, size = self.symbols.get(index_name), self.symbols.get(size_name)
            if isinstance(idx, sp.Symbol) and isinstance(size, sp.Expr):
                self.sums.setdefault(idx, (idx, size))
        self.default = self.default_sum()
        self.scopes: list[sp.Symbol] = []  # indices of the sums we are inside
        self.radicals = 0

    def default_sum(self) -> tuple[sp.Symbol, sp.Expr] | None:
        idx = self.symbols.get("i")
        if idx in self.sums:
            return self.sums[idx]
        for key, value in self.sums.items():
            if isinstance(key, sp.Symbol):
                return value
        return None

    def build(self, node: tuple) -> sp.Expr:
        kind = node[0]
        if kind == "num":
            return _number(node[1], node[2])
        if kind == "name":
            return self.name(node)
        if kind == "neg":
            return self.checked(sp.Mul(sp.S.NegativeOne, self.build(node[1])), node[2])
        if kind == "add":
            terms = []
            for op, part in node[1]:
                value = self.build(part)
                terms.append(value if op == "+" else sp.Mul(sp.S.NegativeOne, value))
            return self.checked(sp.Add(*terms), node[2])
        if kind == "mul":
            factors = []
            for op, part in node[1]:
                value = self.build(part)
                if op == "/":
                    if value == 0:
                        raise ParseError("division by zero", node[2])
                    value = self.power(value, sp.S.NegativeOne, node[2])
                factors.append(value)
            return self.checked(sp.Mul(*factors), node[2])
        if kind == "^":
            return self.power(self.build(node[1]), self.build(node[2]), node[3])
        if kind == "call":
            return self.call(node[1], node[2], node[3])
        if kind == "sum":
            return self.sum(node[1], node[2], node[3], node[4], node[5])
        if kind == "norm":
            return self.norm(node[1], node[2])
        raise ParseError("could not understand this expression")  # pragma: no cover

    def checked(self, expr: sp.Basic, pos: int | None) -> sp.Basic:
        """Refuse exact numbers with more than MAX_DIGITS digits as soon as they appear."""
        for part in (expr, *expr.args):
            if isinstance(part, sp.Rational) and _rational_bits(part) > _MAX_BITS:
                raise ParseError(
                    f"number too large (more than {MAX_DIGITS} digits); keep the numbers small",
                    pos,
                )
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise ParseError(
                "the expression is undefined here: it divides by zero or takes log(0)", pos
            )
        return expr

    # names
    def lookup(self, word: str) -> sp.Basic | None:
        if word in self.symbols:
            return self.symbols[word]
        for alias in ALIASES.get(word, ()):
            if alias in self.symbols:
                return self.symbols[alias]
        return CONSTANTS.get(word)

    def known_names(self) -> str:
        names = sorted(self.symbols, key=str.lower)
        return ", ".join(names + [c for c in CONSTANTS if c not in self.symbols])

    def resolve(self, word: str, subs: list) -> tuple[str, sp.Basic | None, list]:
        """The longest name that exists: mu_z_j is mu_z with index j; x_i is x with index i."""
        for k in range(len(subs), -1, -1):
            full = "_".join([word] + [s for s, _ in subs[:k]])
            obj = self.lookup(full)
            if obj is not None:
                return full, obj, subs[k:]
        return word, None, subs

    def name(self, node: tuple) -> sp.Expr:
        _, word, subs, pos = node
        full, obj, rest = self.resolve(word, subs)
        if obj is None:
            if word in FUNCTIONS:
                raise ParseError(f"{word} needs an argument, like {word}(x)", pos)
            hint = " (put * between names, e.g. x*mu)" if len(word) > 1 and word.isalpha() else ""
            raise ParseError(
                f"unknown name {word!r}{hint}; names you can use here: {self.known_names()}", pos
            )
        if not rest:
            if isinstance(obj, sp.IndexedBase):
                if self.scopes:
                    return obj[self.scopes[-1]]
                raise ParseError(
                    f"{full} is a vector here: write {full}_i for one entry, or put it inside "
                    f"sum(...) to add over the entries",
                    pos,
                )
            if not isinstance(obj, sp.Expr):
                raise ParseError(f"{full!r} cannot be used in an expression here", pos)
            return obj
        if len(rest) > 1:
            shown = "_".join([full] + [s for s, _ in rest])
            raise ParseError(f"{shown}: a vector entry takes one index, like {full}_i", pos)
        sub_text, sub_pos = rest[0]
        if not isinstance(obj, sp.IndexedBase):
            if isinstance(obj, sp.Symbol) and obj.is_integer:
                raise ParseError(f"{full} is a size or an index here; it takes no subscript", pos)
            raise ParseError(
                f"this step has one shared {full}; {full}_{sub_text} is not defined here", pos
            )
        return obj[self.subscript_value(full, sub_text, sub_pos)]

    def subscript_value(self, word: str, sub: str, pos: int) -> sp.Expr:
        if sub.isdigit():
            k = int(sub)
            if not 1 <= k <= MAX_SUBSCRIPT:
                raise ParseError(f"{word}_{sub}: entries are numbered from 1", pos)
            return sp.Integer(k)
        for scope in reversed(self.scopes):
            if scope.name == sub:
                return scope
        obj = self.lookup(sub)
        if isinstance(obj, sp.Symbol) and obj.is_integer:
            return obj
        hint = self.index_for_vector(self.lookup(word))
        index = hint.name if hint is not None else "i"
        raise ParseError(
            f"unknown index {sub!r} in {word}_{sub}; use {index}, as in {word}_{index}", pos
        )

    def index_for_vector(self, obj) -> sp.Symbol | None:
        if obj in self.sums:
            return self.sums[obj][0]
        return self.default[0] if self.default else None

    # sums
    def choose_sum(self, body: tuple, pos: int) -> tuple[sp.Symbol, sp.Expr]:
        """The index and size of an unlabelled sum: from the indices or vectors it mentions."""
        typed, vectors = set(), set()
        for word, subs in _names_in(body):
            _, obj, rest = self.resolve(word, subs)
            if isinstance(obj, sp.IndexedBase):
                if len(rest) == 1:
                    idx = self.lookup(rest[0][0])
                    if isinstance(idx, sp.Symbol) and idx in self.sums:
                        typed.add(self.sums[idx])
                elif not rest and obj in self.sums:
                    vectors.add(self.sums[obj])
        for candidates in (typed, vectors):
            if len(candidates) == 1:
                return candidates.pop()
        if self.default is None:
            raise ParseError("there is no sum over an index in this step", pos)
        return self.default

    def sum(self, body: tuple, index, lower, upper, pos: int) -> sp.Expr:
        if index is None:
            idx, size = self.choose_sum(body, pos)
        else:
            word, ipos = index
            existing = self.lookup(word)
            sizes = {v[1] for v in self.sums.values()}
            if isinstance(existing, sp.Symbol) and existing.is_integer and existing not in sizes:
                idx = existing
            elif existing is None and len(word) == 1:
                idx = sp.Symbol(word, integer=True, positive=True)
            else:
                raise ParseError(f"{word!r} cannot be a sum index; use a letter like i", ipos)
            size = self.sums[idx][1] if idx in self.sums else None
        if idx in self.scopes:
            raise ParseError(f"a sum over {idx} inside another sum over {idx}", pos)
        lo = self.build(lower) if lower is not None else sp.S.One
        if upper is not None:
            hi = self.build(upper)
        elif size is not None:
            hi = size
        else:
            raise ParseError(f"this step has no size to sum {idx} up to; write the limits", pos)
        for limit in (lo, hi):
            if limit.has(idx):
                raise ParseError("the limits of a sum cannot contain its own index", pos)
            if limit.is_number and not limit.is_integer:
                raise ParseError("the limits of a sum must be whole numbers", pos)
        span = hi - lo
        if span.is_number and span > MAX_SUM_TERMS:
            raise ParseError(f"a sum may have at most {MAX_SUM_TERMS} terms", pos)
        self.scopes.append(idx)
        try:
            expr = self.build(body)
        finally:
            self.scopes.pop()
        return self.checked(sp.Sum(expr, (idx, lo, hi)), pos)

    def norm(self, body: tuple, pos: int) -> sp.Expr:
        """‖v‖ = sqrt(Σ v_i²); SymPy turns ‖v‖² back into the plain sum."""
        if self.default is None:
            raise ParseError("there is no vector to take a norm of in this step", pos)
        idx, size = self.choose_sum(body, pos)
        if idx in self.scopes:
            raise ParseError("a norm inside a sum over the same index", pos)
        self.scopes.append(idx)
        try:
            inner = self.build(body)
        finally:
            self.scopes.pop()
        return sp.sqrt(sp.Sum(sp.Pow(inner, 2), (idx, 1, size)))

    # operators
    def power(self, base: sp.Expr, exp: sp.Expr, pos: int) -> sp.Expr:
        if exp.is_Number:
            if abs(exp) > MAX_EXPONENT:
                raise ParseError(
                    f"exponent too large ({exp}); exponents are limited to ±{MAX_EXPONENT}", pos
                )
            if base.is_number:
                bits = _max_bits(base) * abs(exp)
                if bits > _MAX_BITS:
                    digits = int(bits * math.log10(2))
                    raise ParseError(
                        f"number too large: this power has about {digits:,} digits "
                        f"(the limit is {MAX_DIGITS:,})",
                        pos,
                    )
        if base.is_number and not exp.is_integer:
            self.radical(base, pos)
        if base == 0 and (exp.is_negative or exp == 0):
            raise ParseError("0 to a negative (or zero) power is undefined", pos)
        return self.checked(sp.Pow(base, exp), pos)

    def radical(self, base: sp.Expr, pos: int) -> None:
        """SymPy factorises roots of plain numbers (slowly, for big ones): allow a few, small."""
        self.radicals += 1
        if self.radicals > MAX_RADICALS:
            raise ParseError(
                f"too many roots or exponentials of plain numbers (the limit is {MAX_RADICALS})",
                pos,
            )
        for r in base.atoms(sp.Rational):
            if abs(r.p) > MAX_RADICAND or r.q > MAX_RADICAND:
                raise ParseError(
                    f"numbers inside roots and exponentials are limited to {MAX_RADICAND:,}; "
                    f"{r} is too large",
                    pos,
                )

    def call(self, name: str, args: list[tuple], pos: int) -> sp.Expr:
        lo, hi = FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            if lo == hi:
                want = f"{lo} argument" + ("s" if lo > 1 else "")
            else:
                want = f"{lo} to {hi} arguments"
            raise ParseError(f"{name} takes {want}, not {len(args)}", pos)
        if name == "sum":
            if len(args) == 3:
                raise ParseError("write sum(expr), sum(expr, i) or sum(expr, i, 1, D)", pos)
            index = None
            if len(args) >= 2:
                if args[1][0] != "name" or args[1][2]:
                    raise ParseError("the second argument of sum must be the index, like i", pos)
                index = (args[1][1], args[1][3])
            lower, upper = (args[2], args[3]) if len(args) == 4 else (None, None)
            return self.sum(args[0], index, lower, upper, pos)
        if name == "mean":
            total = self.sum(args[0], None, None, None, pos)
            return self.checked(total / total.limits[0][2], pos)
        if name == "norm":
            return self.norm(args[0], pos)
        values = [self.build(a) for a in args]
        a = values[0]
        if a.is_number and name in ("exp", "sigmoid", "softplus", "logsigmoid"):
            self.radical(a, pos)  # exp(log(7)/2) becomes sqrt(7): same budget as roots
        if name in ("log", "ln"):
            if a == 0:
                raise ParseError("log(0) is undefined", pos)
            out = sp.log(a)
        elif name == "exp":
            out = sp.exp(a)
        elif name == "sqrt":
            out = self.power(a, sp.S.Half, pos)
        elif name == "abs":
            out = sp.Abs(a)
        elif name == "softplus":
            out = sp.log(1 + sp.exp(a))
        elif name == "sigmoid":
            out = 1 / (1 + sp.exp(-a))
        elif name == "logsigmoid":
            out = -sp.log(1 + sp.exp(-a))
        elif name == "log1p":
            out = sp.log(1 + a)
        elif name == "tanh":
            out = sp.tanh(a)
        elif name in ("atanh", "artanh", "arctanh"):
            out = sp.atanh(a)
        elif name == "erf":
            out = sp.erf(a)
        elif name == "max":
            out = sp.Max(*values)
        elif name == "min":
            out = sp.Min(*values)
        else:  # pragma: no cover - FUNCTIONS and this chain are kept in step
            raise ParseError(f"unknown function {name!r}", pos)
        return self.checked(out, pos)


def parse_tree(text: str, symbols: Mapping[str, sp.Basic] | None = None) -> tuple:
    """The syntax tree (nested tuples) of `text`; no SymPy objects are built."""
    return _Parser(tokenize(text, symbols)).parse()


def parse(
    text: str,
    symbols: Mapping[str, sp.Basic] | None = None,
    *,
    sums: Mapping[sp.Basic, tuple[sp.Symbol, sp.Expr]] | None = None,
) -> sp.Expr:
    """Parse a learner's expression into SymPy using only whitelisted names and functions.

    `symbols` is a derivation's ``symbols`` mapping (name -> Symbol or IndexedBase); without it
    the project's conventions are used (x, mu, sigma, D, i). `sums` (see `sum_structure`) says
    which index and size an unlabelled ``sum(...)`` uses for which vectors; without it ``i``
    runs to ``D`` (and ``j`` to ``J``) when those names exist. Raises ParseError (a ValueError).
    """
    namespace = default_symbols() if symbols is None else dict(symbols)
    tree = _Parser(tokenize(text, namespace)).parse()
    builder = _Builder(namespace, sums)
    try:
        expr = builder.build(tree)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels)") from None
    except (ArithmeticError, ValueError, TypeError, AttributeError) as exc:
        # SymPy's own evaluation of numbers can fail on odd inputs; never leak a traceback.
        raise ParseError(f"could not build this expression ({type(exc).__name__})") from None
    if not isinstance(expr, sp.Expr):
        raise ParseError("this is not a maths expression")
    for r in expr.atoms(sp.Rational):
        if _rational_bits(r) > _MAX_BITS:
            raise ParseError(f"number too large (more than {MAX_DIGITS} digits)")
    return expr
