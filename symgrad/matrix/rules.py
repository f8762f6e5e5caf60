"""Symbolic reverse mode over matrix expressions: the sweep, reading each node's record's adjoint.

A rule (`MatrixPrimitive.adjoint`, `symgrad.matrix.records`) takes a node and its adjoint G (a
matrix expression of the node's shape, or a scalar for scalar nodes) and returns one adjoint contribution per operand, of that operand's shape:
for C = A·B it returns (G·Bᵀ, Aᵀ·G). Entrywise functions are differentiated by the scalar rule
records (`symgrad.primitives`, sympy's `fdiff` for other functions), with the derivative
written in terms of the function's output where the calculus allows (σ' = y(1 − y)), so the
gradient reuses the forward pass like a textbook backprop does.
"""

import sympy as sp

from .. import symbolic
from ..errors import UnsupportedError
from ..primitives.matrix_record import gap, matrix_rule
from . import records  # noqa: F401 - enters the matrix-node records
from .algebra import add
from .graph import operands, topological
from .nodes import SumAll
from .prepare import prepare


def rule(node):
    """The node's adjoint rule: its matrix record's `adjoint`, the scalar records' partials for a scalar node."""
    if (found := matrix_rule(node, "adjoint")) is not None:
        return found
    if node.is_Matrix:
        why = gap(node, "adjoint") or "give its record (symgrad.matrix.records) an adjoint rule"
        raise UnsupportedError(f"no matrix derivative rule for {type(node).__name__} (in {str(node)[:60]}): {why}")
    return _scalar_rule


def _scalar_rule(node, g):
    out = []
    for local in symbolic.partials(node):
        out.append(g if local == 1 else local if g == 1 else sp.Mul(g, local, evaluate=False))
    return out


def as_scalar_loss(expr):
    """The loss every matrix path takes: prepared (`prepare.prepare`), a matrix meaning the sum of its entries."""
    expr = prepare(expr)
    return SumAll(expr) if expr.is_Matrix else expr


def reverse(expr, wrt, adjoints=None):
    """Adjoints of `wrt` (MatrixSymbols: matrices of their shape; Symbols: scalars) for `expr`.

    `adjoints`, a dict, receives every node's adjoint (lowering names them d_<node>).
    """
    expr = as_scalar_loss(expr)
    order = topological([expr])
    targets = set(wrt)
    needed = set()
    for node in order:
        if node in targets or any(c in needed for c in operands(node)):
            needed.add(node)
    contributions = {expr: [sp.S.One]}
    adjoint = {} if adjoints is None else adjoints
    for node in reversed(order):
        terms = contributions.pop(node, None)
        if terms is None:
            continue
        adjoint[node] = adj = add(*terms)
        ops = operands(node)
        if node in targets or not ops:
            continue
        for arg, contribution in zip(ops, rule(node)(node, adj), strict=True):
            if arg in needed and contribution is not None:
                contributions.setdefault(arg, []).append(contribution)
    return [adjoint.get(w, sp.ZeroMatrix(*w.shape) if w.is_Matrix else sp.S.Zero) for w in wrt]
