"""Symbolic forward mode over matrix expressions: the sweep, reading each node's record's tangent.

A rule (`MatrixPrimitive.tangent`, `symgrad.matrix.records`) takes a node and the tangents of its
operands (matrix expressions of each operand's shape, or None where an operand does not depend on
the seeds) and returns the node's tangent: for
C = A·B it returns Ȧ·B + A·Ḃ. Applied to a reverse-mode gradient with the parameter's tangent
seeded to a direction V, it gives the Hessian-vector product in closed form (forward over
reverse), as matrix expressions that reuse the forward pass and the gradient.
"""

import sympy as sp

from .. import symbolic
from ..errors import UnsupportedError
from ..primitives.matrix_record import gap, matrix_record, matrix_rule
from . import records  # noqa: F401 - enters the matrix-node records
from .algebra import add
from .graph import operands, topological


def _sum(terms):
    terms = [t for t in terms if t is not None]
    return add(*terms) if terms else None


def _scalar(node, tangents):
    terms = []
    for local, t in zip(symbolic.partials(node), tangents, strict=True):
        if t is not None and local != 0:
            terms.append(t if local == 1 else sp.Mul(local, t, evaluate=False))
    return _sum(terms)


def rule(node):
    """The node's tangent rule: its matrix record's `tangent`, the scalar records' partials for a scalar node."""
    if (found := matrix_rule(node, "tangent")) is not None:
        return found
    if node.is_Matrix or matrix_record(node) is not None:
        why = gap(node, "tangent") or "give its record (symgrad.matrix.records) a tangent rule"
        raise UnsupportedError(f"no matrix tangent rule for {type(node).__name__} (in {str(node)[:60]}): {why}")
    return _scalar


def jvp(exprs, seeds):
    """Tangents of `exprs` when each key of `seeds` (a MatrixSymbol or Symbol) moves along its value.

    Returns one expression per entry of `exprs`, of that entry's shape (zero where it does not
    depend on the seeded symbols).
    """
    tangent = {}
    for node in topological(list(exprs)):
        if node in seeds:
            tangent[node] = seeds[node]
            continue
        ops = operands(node)
        ts = [tangent.get(a) for a in ops]
        if any(t is not None for t in ts):
            out = rule(node)(node, ts)
            if out is not None:
                tangent[node] = out
    return [tangent.get(e, sp.ZeroMatrix(*e.shape) if e.is_Matrix else sp.S.Zero) for e in exprs]
