"""What the parser refuses, in one place: its size limits and the error it raises.

Every bound on a learner's text lives here so that pages can quote it (the "Try it yourself"
boxes import `MAX_LENGTH` rather than retyping it) and so that each limit is stated once.
"""

from __future__ import annotations

import math

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

MAX_BITS = int(MAX_DIGITS * math.log2(10)) + 1


class ParseError(ValueError):
    """The text is not an expression this parser accepts; the message says why."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
