"""Pratt (precedence-climbing) parser: tokens -> a small tree of tuples; no SymPy objects.

Nodes: ("num", text, pos), ("name", word, subscripts, pos), ("neg", node, pos),
("add" | "mul", [(op, node), ...], pos), ("^", base, exp, pos), ("call", name, args, pos),
("sum", body, index, lower, upper, pos), ("norm", node, pos). Long flat chains (a+b+c, a*b*c)
become one node each, so only real nesting recurses, and every recursive path counts its depth
against `MAX_DEPTH`.
"""

from __future__ import annotations

from derivations.parser.limits import MAX_DEPTH, ParseError
from derivations.parser.names import FUNCTIONS
from derivations.parser.tokenizer import Token

_BINDING = {"+": 10, "-": 10, "*": 20, "/": 20, "^": 30, "_": 40}
_UNARY = 25  # -x^2 is -(x^2); -a*b is (-a)*b
_SUM_BODY = 15  # \sum a_i b_i / c takes the whole product, stops at + and -
_CLOSERS = {"(": ")", "{": "}"}


class PrattParser:
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

    def enter(self) -> None:
        """One more level of nesting. Every recursive path (expr, and LaTeX arguments such as
        the x of \\sqrt x or √√x, which go straight to nud) passes here, so no input reaches
        Python's recursion limit."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(
                f"expression nested too deeply (more than {MAX_DEPTH} levels)", self.peek().pos
            )

    def expr(self, rbp: int) -> tuple:
        self.enter()
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
            self.enter()
            node = self.nud(tok)
            self.depth -= 1
            return node
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
