"""Constant matrices: ones, zeros, the identity, the unit matrix E_ij; and explicit matrices.

Constants carry no operands (their arguments are sizes and indices), so no derivative reaches
them; kernels make each one only where a statement needs the array (`lowering.constant`).
"""

import sympy as sp

from ...primitives.matrix_record import MatrixPrimitive
from ...primitives.registry import add_record
from ..nodes import Unit

_NO_OPERANDS = "a constant: no operands, so no derivative reaches it"
CONSTANT_GAPS = dict.fromkeys(("adjoint", "array_vjp", "tangent", "linear"), _NO_OPERANDS)


def _constant(cls, kind, forward):
    add_record(MatrixPrimitive(
        cls, operands=lambda n: (), forward=forward, lower=lambda low, node: low.constant(node, kind),
        gaps=CONSTANT_GAPS,
    ))


def _unit(env, node):
    out = env.ops.full(env.shape(node), 0.0)
    out[int(node.index[0]), int(node.index[1])] = 1.0
    return out


_constant(sp.OneMatrix, "ones", lambda env, node: env.ops.full(env.shape(node), 1.0))
_constant(sp.ZeroMatrix, "zeros", lambda env, node: env.ops.full(env.shape(node), 0.0))
_constant(sp.Identity, "eye", lambda env, node: env.ops.eye(env.shape(node)[0]))
_constant(Unit, "unit", _unit)

# an explicit matrix: its entries are its operands (`prepare` rewrites the scalar ones into nodes)
_EXPLICIT = ("`matrix.prepare` writes an explicit matrix (up to 256 entries) as a sum of entry times Unit(i, j) "
             "before every path; a larger one is refused by name (pass it as a MatrixSymbol)")
add_record(MatrixPrimitive(sp.MatrixBase, operands=tuple, gaps=dict.fromkeys(
    ("adjoint", "array_vjp", "forward", "tangent", "linear", "lower", "cuda"), _EXPLICIT)))
