"""The matrix of a linear map, read off its expression: K with E(V) = K·V, one rule per node type.

A Hessian-vector product H·V is an expression linear in the direction V (n×1); its Hessian is the
n×n matrix K of that map. Rules carry, for every node that depends on V, the matrix K of that
node: a column u (m×1) or a scalar is u = K·V (K is m×n, 1×n); a row u (1×m) is uᵀ = K·V.
So (A·u) has K_A·u = A·K_u, the entrywise product d ⊙ u has d ⊙ K_u (d broadcast along the
directions: diag(d)·K_u without forming the diagonal), Σ u has 1ᵀ·K_u, and a column times a
scalar s has u·K_s (an outer product): each node's record's `linear` rule. Nodes that are neither
rows nor columns have no such K; for them use `hvp`.
"""

import sympy as sp

from ..primitives.matrix_record import gap, matrix_record, matrix_rule
from . import records  # noqa: F401 - enters the matrix-node records
from .algebra import add, matmul
from .graph import operands, topological
from .records.linear_map import NotLinear, shape


def _check_vector(node):
    rows, cols = shape(node)
    if rows != 1 and cols != 1:
        raise NotLinear(
            f"{str(node)[:60]} ({rows}×{cols}) depends on the direction but is neither a row nor a column; "
            "the Hessian needs an n×1 parameter whose gradient is built from rows and columns (use hvp otherwise)"
        )


def _affine_scalar(node, ks):
    """K of a scalar sum or product (the scalar records have no K rules: + and · are all it takes)."""
    if isinstance(node, sp.Add):
        if any(k is None and a != 0 for a, k in zip(node.args, ks, strict=True)):
            raise NotLinear(f"{str(node)[:60]} adds a term that does not depend on the direction")
        return add(*[k for k in ks if k is not None])
    if isinstance(node, sp.Mul):
        dep = [i for i, k in enumerate(ks) if k is not None]
        if len(dep) == 1:
            rest = sp.Mul(*[a for j, a in enumerate(node.args) if j != dep[0]])
            return matmul(rest, ks[dep[0]])
    raise NotLinear(f"{type(node).__name__} ({str(node)[:60]}) is not linear in the direction")


def rule(node):
    """The node's K rule: its matrix record's `linear`; for a scalar sum or product, `_affine_scalar`."""
    if (found := matrix_rule(node, "linear")) is not None:
        return found
    if matrix_record(node) is None and isinstance(node, (sp.Add, sp.Mul)):
        return _affine_scalar
    why = gap(node, "linear") or "not linear in it"
    raise NotLinear(f"{type(node).__name__} ({str(node)[:60]}) of the direction: {why}")


def coefficient(expr, direction):
    """K with expr = K·direction (expr a column or scalar; a row: exprᵀ = K·direction).

    `direction` is an n×1 MatrixSymbol that `expr` depends on linearly; K is m×n.
    """
    coef = {}
    for node in topological([expr]):
        if node == direction:
            coef[node] = sp.Identity(direction.shape[0])
            continue
        ks = [coef.get(a) for a in operands(node)]
        if any(k is not None for k in ks):
            _check_vector(node)
            coef[node] = rule(node)(node, ks)
    if expr not in coef:
        rows = shape(expr)[0] if shape(expr)[1] == 1 else shape(expr)[1]
        return sp.ZeroMatrix(rows, direction.shape[0])
    return coef[expr]
