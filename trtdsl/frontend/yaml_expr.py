"""Block-parameter substitution for the YAML DSL: ``$name`` lookups and tiny integer arithmetic.

A string value starting with ``$`` is an expression over the block's parameters:

* ``$planes`` is the parameter's value, whatever its type (int, bool, list, string);
* ``$planes * 4``, ``$(width // 2) + 1`` are integer arithmetic with ``+ - * // %``, unary
  minus and parentheses (``$`` before a name is optional after the first one).

Nothing is evaluated as Python: the expression is tokenised and folded here.
``$$text`` is the literal string ``$text``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trtdsl.errors import ModelError
from trtdsl.ir.ops.base import suggest

_TOKEN = re.compile(r"\s*(?:(\d+)|\$?([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*%()]))")
_MAX_LENGTH = 200
_MAX_INT = 2**62


class ExpressionError(ModelError):
    """A ``$`` expression is malformed or names an unknown parameter (location added by caller)."""


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("$") and not value.startswith("$$")


def evaluate(text: str, params: Mapping[str, Any]) -> Any:
    """The value of the ``$`` expression ``text`` under ``params``.

    Raises:
        ExpressionError saying what was expected and what was found.
    """
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"expression longer than {_MAX_LENGTH} characters")
    tokens = _tokenize(text[1:])
    if len(tokens) == 1 and tokens[0][0] == "name":
        return _lookup(tokens[0][1], params)
    parser = _Parser(tokens, params, text)
    value = parser.expression()
    if parser.position != len(tokens):
        raise ExpressionError(f"{text!r}: unexpected {tokens[parser.position][1]!r}")
    return value


def _tokenize(body: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    body = body.rstrip()
    while position < len(body):
        match = _TOKEN.match(body, position)
        if match is None or match.end() == position:
            raise ExpressionError(
                f"'${body}': unexpected {body[position:].strip()[:10]!r}; expected a parameter "
                "name, an integer, + - * // % or parentheses"
            )
        number, name, symbol = match.groups()
        if number is not None:
            tokens.append(("int", number))
        elif name is not None:
            tokens.append(("name", name))
        else:
            tokens.append(("op", symbol))
        position = match.end()
    if not tokens:
        raise ExpressionError("empty '$' expression; expected a parameter name after '$'")
    return tokens


def _lookup(name: str, params: Mapping[str, Any]) -> Any:
    if name not in params:
        known = sorted(params)
        listing = f" (parameters: {', '.join(known)})" if known else " (no parameters here)"
        raise ExpressionError(f"unknown parameter {name!r}{suggest(name, known)}{listing}")
    return params[name]


class _Parser:
    """Recursive descent over ``expr := term (+|- term)*``, ``term := factor (*|//|% factor)*``."""

    def __init__(self, tokens: list[tuple[str, str]], params: Mapping[str, Any], text: str):
        self.tokens = tokens
        self.params = params
        self.text = text
        self.position = 0
        self.depth = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def expression(self) -> int:
        value = self.term()
        while (token := self._peek()) is not None and token[1] in ("+", "-"):
            self.position += 1
            right = self.term()
            value = self._check(value + right if token[1] == "+" else value - right)
        return value

    def term(self) -> int:
        value = self.factor()
        while (token := self._peek()) is not None and token[1] in ("*", "//", "%"):
            self.position += 1
            right = self.factor()
            if token[1] == "*":
                value = self._check(value * right)
            elif right == 0:
                raise ExpressionError(f"{self.text!r}: division by zero")
            else:
                value = value // right if token[1] == "//" else value % right
        return value

    def factor(self) -> int:
        token = self._peek()
        if token is None:
            raise ExpressionError(f"{self.text!r}: ends early; expected a value")
        self.position += 1
        kind, text = token
        if kind == "int":
            return self._check(int(text))
        if kind == "name":
            value = _lookup(text, self.params)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ExpressionError(
                    f"{self.text!r}: parameter {text!r} is {value!r}; arithmetic needs integers"
                )
            return value
        if text == "-":
            return -self.factor()
        if text == "(":
            self.depth += 1
            if self.depth > 20:
                raise ExpressionError(f"{self.text!r}: parentheses nested too deeply")
            value = self.expression()
            if self._peek() != ("op", ")"):
                raise ExpressionError(f"{self.text!r}: expected ')'")
            self.position += 1
            self.depth -= 1
            return value
        raise ExpressionError(f"{self.text!r}: unexpected {text!r}; expected a value")

    def _check(self, value: int) -> int:
        if abs(value) > _MAX_INT:
            raise ExpressionError(f"{self.text!r}: value out of range")
        return value
