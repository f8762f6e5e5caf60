"""Symbolic reverse mode over matrix expressions: the one sweep (`symbolic.adjoints`) on a prepared loss.

A matrix node's rule (`MatrixPrimitive.adjoint`, `symgrad.matrix.records`) takes the node and its
adjoint G (a matrix expression of the node's shape) and returns one adjoint contribution per
operand, of that operand's shape: for C = A·B it returns (G·Bᵀ, Aᵀ·G). Scalar nodes (above `SumAll`,
inside entrywise maps) are differentiated by their scalar records' partials, written through the
output where the calculus allows (σ' = y(1 − y)), so the gradient reuses the forward pass like a
textbook backprop does. The walk itself is the scalar level's: `symgrad.sweep`.
"""

import sympy as sp

from .. import symbolic
from . import records  # noqa: F401 - enters the matrix-node records
from .prepare import as_scalar_loss


def reverse(expr, wrt, adjoints=None):
    """Adjoints of `wrt` (MatrixSymbols: matrices of their shape; Symbols: scalars) for `expr`.

    `adjoints`, a dict, receives every node's adjoint (lowering names them d_<node>).
    """
    adjoint = symbolic.adjoints(as_scalar_loss(expr), wrt)
    if adjoints is not None:
        adjoints.update(adjoint)
    return [adjoint.get(w, sp.ZeroMatrix(*w.shape) if w.is_Matrix else sp.S.Zero) for w in wrt]
