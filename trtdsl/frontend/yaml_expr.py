"""Block-parameter substitution for the YAML DSL: ``$name`` lookups and tiny integer expressions.

A string value starting with ``$`` is an expression over the block's parameters:

* ``$planes`` is the parameter's value, whatever its type (int, bool, list, string);
* ``$planes * 4``, ``$(width // 2) + 1``: integer arithmetic with ``+ - * // %``, unary minus
  and parentheses (``$`` before a name is optional after the first one);
* ``$stride == 1 and expand``, ``$not project``: integer comparisons (``== != < <= > >=``)
  and ``and``/``or``/``not`` on booleans, e.g. for ``when:``.

Nothing is evaluated as Python: the expression is tokenised and folded here, and every operand
is type-checked (no int/bool mixing). ``$$text`` is the literal string ``$text``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trtdsl.errors import ModelError
from trtdsl.ir.ops.base import suggest

_TOKEN = re.compile(r"\s*(?:(\d+)|\$?([A-Za-z_][A-Za-z0-9_]*)|(//|==|!=|<=|>=|[-+*%()<>]))")
_KEYWORDS = ("and", "or", "not")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
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
    value = parser.disjunction()
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
                "name, an integer, an operator (+ - * // % == != < <= > >= and or not) "
                "or parentheses"
            )
        number, name, symbol = match.groups()
        if number is not None:
            tokens.append(("int", number))
        elif name is not None:
            tokens.append(("op" if name in _KEYWORDS else "name", name))
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
    """Recursive descent, loosest first: or, and, not, comparison, + -, * // %, unary, atom."""

    def __init__(self, tokens: list[tuple[str, str]], params: Mapping[str, Any], text: str):
        self.tokens = tokens
        self.params = params
        self.text = text
        self.position = 0
        self.depth = 0

    def _peek(self) -> str | None:
        if self.position < len(self.tokens) and self.tokens[self.position][0] == "op":
            return self.tokens[self.position][1]
        return None

    def _need(self, value: Any, kind: type, what: str) -> Any:
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            expected = "true/false" if kind is bool else "integers"
            raise ExpressionError(f"{self.text!r}: {what} needs {expected}, found {value!r}")
        return value

    def disjunction(self) -> Any:
        value = self.conjunction()
        while self._peek() == "or":
            self.position += 1
            right = self.conjunction()
            value = self._need(value, bool, "'or'") | self._need(right, bool, "'or'")
        return value

    def conjunction(self) -> Any:
        value = self.negation()
        while self._peek() == "and":
            self.position += 1
            right = self.negation()
            value = self._need(value, bool, "'and'") & self._need(right, bool, "'and'")
        return value

    def negation(self) -> Any:
        if self._peek() == "not":
            self.position += 1
            return not self._need(self.negation(), bool, "'not'")
        return self.comparison()

    def comparison(self) -> Any:
        value = self.sum()
        symbol = self._peek()
        if symbol not in _COMPARISONS:
            return value
        self.position += 1
        left = self._need(value, int, f"{symbol!r}")
        right = self._need(self.sum(), int, f"{symbol!r}")
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[symbol]

    def sum(self) -> Any:
        value = self.product()
        while (symbol := self._peek()) in ("+", "-"):
            self.position += 1
            left = self._need(value, int, f"{symbol!r}")
            right = self._need(self.product(), int, f"{symbol!r}")
            value = self._check(left + right if symbol == "+" else left - right)
        return value

    def product(self) -> Any:
        value = self.unary()
        while (symbol := self._peek()) in ("*", "//", "%"):
            self.position += 1
            left = self._need(value, int, f"{symbol!r}")
            right = self._need(self.unary(), int, f"{symbol!r}")
            if symbol == "*":
                value = self._check(left * right)
            elif right == 0:
                raise ExpressionError(f"{self.text!r}: division by zero")
            else:
                value = left // right if symbol == "//" else left % right
        return value

    def unary(self) -> Any:
        if self._peek() == "-":
            self.position += 1
            return -self._need(self.unary(), int, "'-'")
        return self.atom()

    def atom(self) -> Any:
        if self.position >= len(self.tokens):
            raise ExpressionError(f"{self.text!r}: ends early; expected a value")
        kind, text = self.tokens[self.position]
        self.position += 1
        if kind == "int":
            return self._check(int(text))
        if kind == "name":
            return _lookup(text, self.params)
        if text == "(":
            self.depth += 1
            if self.depth > 20:
                raise ExpressionError(f"{self.text!r}: parentheses nested too deeply")
            value = self.disjunction()
            if self._peek() != ")":
                raise ExpressionError(f"{self.text!r}: expected ')'")
            self.position += 1
            self.depth -= 1
            return value
        raise ExpressionError(f"{self.text!r}: unexpected {text!r}; expected a value")

    def _check(self, value: int) -> int:
        if abs(value) > _MAX_INT:
            raise ExpressionError(f"{self.text!r}: value out of range")
        return value
