"""Tokenizer: a learner's text (plain maths or a little LaTeX) -> a flat list of `Token`s.

Characters are read one by one; anything that is not maths (quotes, dots outside numbers,
brackets, control and look-alike characters, Python and TeX keywords) is refused here with a
message that names the character and, for look-alikes, the letter it imitates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from derivations.parser.limits import MAX_LENGTH, MAX_NUMBER_CHARS, MAX_TOKENS, ParseError
from derivations.parser.names import (
    ALIASES,
    CONSTANTS,
    FORBIDDEN_NAMES,
    FUNCTIONS,
    GREEK_LETTERS,
    LATEX_GREEK,
    default_symbols,
)

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


class Tokenizer:
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
    return Tokenizer(body, offset, latex, known).run()
