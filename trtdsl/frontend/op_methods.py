"""ModelBuilder's op methods: one per registered op, made from the op classes.

``OpMethods`` gets a method for every name in ``OPS`` when this module is imported, with the
op's signature (inputs positional, attributes keyword-only with their defaults) and docstring,
so ``help(ModelBuilder)`` and ``inspect.signature`` show them. For static tools (IDE completion,
mypy) the same methods are declared in ``op_methods.pyi``, generated from the op classes by
``signatures.render_stub`` (``python tools/generate_ops.py`` rewrites it; a test keeps it
current).
"""

from __future__ import annotations

from trtdsl.frontend.signatures import make_method
from trtdsl.ir.ops import OPS


class OpMethods:
    """One method per registered op; ModelBuilder inherits them."""


for _name, _cls in sorted(OPS.items()):
    setattr(OpMethods, _name, make_method(_name, _cls))
