"""Symbolic dimensions derived from declared ones: ``m * ((S + a) // b) + c``.

A shape entry is an int, a declared symbol (``"H"``) or a derived expression of one symbol,
written in Python syntax (``"(H+1)//2"``, ``"2*((H+7)//8)-1"``). Convolution, pooling and
resizing map a size ``s`` to ``(s + k) // stride + 1`` or ``s * factor``; these forms are
closed under such maps (``((S + a) // b + k) // s == (S + a + k*b) // (b*s)`` for integers),
so every derived size has one canonical spelling and two branches of a network that reach the
same size (ResNet's 3x3 stride-2 conv and its 1x1 stride-2 downsample) agree as strings.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from trtdsl.errors import ShapeError

Dim = int | str


@dataclass(frozen=True)
class SymDim:
    """``m * ((symbol + a) // b) + c`` with ``b >= 1``, ``0 <= a < b`` and ``m >= 1``."""

    symbol: str
    a: int = 0
    b: int = 1
    m: int = 1
    c: int = 0

    def __post_init__(self) -> None:
        assert self.b >= 1 and 0 <= self.a < self.b and self.m >= 1, self

    def format(self) -> str:
        """The canonical spelling (``"H"``, ``"(H+3)//4"``, ``"2*(H//8)+1"``)."""
        if self.b == 1:
            core = self.symbol if self.m == 1 else f"{self.m}*{self.symbol}"
        else:
            floor = f"({self.symbol}+{self.a})//{self.b}" if self.a else f"{self.symbol}//{self.b}"
            core = floor if self.m == 1 else f"{self.m}*({floor})"
        if self.c:
            core += f"{self.c:+d}"
        return core

    def value(self, size: int) -> int:
        """The dimension's size when ``symbol`` has size ``size``."""
        return self.m * ((size + self.a) // self.b) + self.c

    def add(self, k: int) -> SymDim:
        return SymDim(self.symbol, self.a, self.b, self.m, self.c + k)

    def mul(self, k: int) -> SymDim:
        if k < 1:
            raise ValueError(f"cannot multiply {self.format()} by {k}")
        return SymDim(self.symbol, self.a, self.b, self.m * k, self.c * k)

    def floordiv(self, k: int) -> SymDim:
        if k < 1:
            raise ValueError(f"cannot divide {self.format()} by {k}")
        if self.m % k == 0:
            return SymDim(self.symbol, self.a, self.b, self.m // k, self.c // k)
        if k % self.m == 0:
            # (m*F + c) // k == (F + c // m) // (k / m)   (nested floors of integers)
            numerator = self.a + (self.c // self.m) * self.b
            b = self.b * (k // self.m)
            return SymDim(self.symbol, numerator % b, b, 1, numerator // b)
        raise ValueError(
            f"{self.format()} // {k} has no closed form (the factor {self.m} and the "
            f"divisor {k} do not divide one another)"
        )


def parse_dim(text: str) -> SymDim:
    """The SymDim a string spells (any Python spelling of the supported forms).

    Raises:
        ValueError: not an expression of one symbol with ints, ``+ - * //``.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"bad dimension expression {text!r}") from None
    result = _eval(tree, text)
    if not isinstance(result, SymDim):
        raise ValueError(f"dimension expression {text!r} has no symbol")
    return result


def _eval(node: ast.expr, text: str) -> SymDim | int:
    if isinstance(node, ast.Name):
        return SymDim(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return int(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = _eval(node.operand, text)
        if isinstance(operand, int):
            return -operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, text), _eval(node.right, text)
        if isinstance(left, int) and isinstance(right, int):
            return _int_op(node.op, left, right, text)
        if isinstance(node.op, (ast.Add, ast.Mult)) and isinstance(left, int):
            left, right = right, left  # k + S, k * S
        if isinstance(left, SymDim) and isinstance(right, int):
            if isinstance(node.op, ast.Add):
                return left.add(right)
            if isinstance(node.op, ast.Sub):
                return left.add(-right)
            if isinstance(node.op, ast.Mult):
                return left.mul(right)
            if isinstance(node.op, ast.FloorDiv):
                return left.floordiv(right)
    raise ValueError(f"unsupported dimension expression {text!r}")


def _int_op(op: ast.operator, a: int, b: int, text: str) -> int:
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    if isinstance(op, ast.FloorDiv) and b:
        return a // b
    raise ValueError(f"unsupported dimension expression {text!r}")


def _sym(d: str) -> SymDim:
    try:
        return parse_dim(d)
    except ValueError as e:
        raise ShapeError(str(e)) from None


def _result(d: SymDim) -> Dim:
    return d.format()


def dim_add(d: Dim, k: int) -> Dim:
    """``d + k`` (an int for an int, the canonical expression for a symbolic size)."""
    return d + k if isinstance(d, int) else _result(_sym(d).add(k))


def dim_mul(d: Dim, k: int) -> Dim:
    """``d * k`` for an int ``k >= 1``."""
    if isinstance(d, int):
        return d * k
    try:
        return _result(_sym(d).mul(k))
    except ValueError as e:
        raise ShapeError(str(e)) from None


def dim_floordiv(d: Dim, k: int) -> Dim:
    """``d // k`` for an int ``k >= 1``; ShapeError where the symbolic result has no closed form."""
    if isinstance(d, int):
        return d // k
    try:
        return _result(_sym(d).floordiv(k))
    except ValueError as e:
        raise ShapeError(str(e)) from None


def window_output(size: Dim, span: int, stride: int) -> Dim:
    """``(size - span) // stride + 1``: the output length of a sliding window (conv, pool)
    over ``size`` padded positions minus the effective window ``span``."""
    return dim_add(dim_floordiv(dim_add(size, -span), stride), 1)


def base_symbol(d: str) -> str:
    """The declared symbol a (possibly derived) symbolic size depends on."""
    return _sym(d).symbol


def dim_value(d: Dim, sizes: Mapping[str, int], default: int | None = None) -> int:
    """The size of ``d`` given the sizes of declared symbols (``default`` for a symbol that
    has none, if given).

    Raises:
        KeyError: the symbol ``d`` depends on has no size in ``sizes`` and no default.
    """
    if isinstance(d, int):
        return d
    if d in sizes:
        return int(sizes[d])
    parsed = parse_dim(d)
    if parsed.symbol not in sizes and default is not None:
        return parsed.value(default)
    return parsed.value(int(sizes[parsed.symbol]))
