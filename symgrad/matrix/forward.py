"""Symbolic forward mode over matrix expressions: one tangent rule per node type.

A rule takes a node and the tangents of its operands (matrix expressions of each operand's shape,
or None where an operand does not depend on the seeds) and returns the node's tangent: for
C = A·B it returns Ȧ·B + A·Ḃ. Applied to a reverse-mode gradient with the parameter's tangent
seeded to a direction V, it gives the Hessian-vector product in closed form (forward over
reverse), as matrix expressions that reuse the forward pass and the gradient.
"""

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import symbolic
from ..errors import UnsupportedError
from ..primitives.arithmetic import exponent_partial
from ..registry import lookup
from .algebra import add, emap, hadamard, matmul, scale, transpose
from .graph import operands, topological
from .nodes import Map, Ones, RowLogSumExp, RowSoftmax, SumAll, canonical_lambda

_T, _Y = sp.Symbol("_t", real=True), sp.Symbol("_y", real=True)


def _sum(terms):
    terms = [t for t in terms if t is not None]
    return add(*terms) if terms else None


def _matmul(node, tangents):
    args = node.args
    return _sum([matmul(*args[:i], t, *args[i + 1 :]) for i, t in enumerate(tangents) if t is not None])


def _hadamard(node, tangents):
    args = node.args
    return _sum([hadamard(t, *args[:i], *args[i + 1 :]) for i, t in enumerate(tangents) if t is not None])


def entrywise_tangent(function, node, ops, tangents):
    """Σ_k ∂f/∂x_k · ẋ_k entry by entry, with f' written through the output where it can be."""
    function = canonical_lambda(function)
    body, variables = function.expr, function.variables
    terms = []
    for var, t in zip(variables, tangents, strict=True):
        if t is None:
            continue
        (d,) = symbolic.reverse(body, [var])
        if not body.is_Symbol:
            d = d.xreplace({body: _Y})
        terms.append(emap(_T * d, (_T, *variables, _Y), t, *ops, node))
    return _sum(terms)


def _hadamard_power(node, tangents):
    base, p = node.args
    a, q = sp.Symbol("_a", real=True), sp.Symbol("_p", real=True)
    t_base, t_p = tangents
    terms = []
    if t_base is not None:
        terms.append(emap(_T * q * a ** (q - 1), (_T, a, q), t_base, base, p))
    if t_p is not None:
        terms.append(emap(_T * exponent_partial(_Y, a, q), (_T, _Y, a, q), t_p, node, base, p))
    return _sum(terms)


def _row_lse(node, tangents):
    (z,), (t,) = node.args, tangents
    x, lse = sp.Symbol("_z", real=True), sp.Symbol("_l", real=True)
    return matmul(emap(_T * sp.exp(x - lse), (_T, x, lse), t, z, node), Ones(z.shape[1], 1))


def _row_softmax(node, tangents):
    (z,), (t,) = node.args, tangents
    s, r = sp.Symbol("_s", real=True), sp.Symbol("_r", real=True)
    row_dot = matmul(hadamard(t, node), Ones(z.shape[1], 1))
    return emap(s * (_T - r), (s, _T, r), node, t, row_dot)


def _scalar(node, tangents):
    terms = []
    for local, t in zip(symbolic.partials(node), tangents, strict=True):
        if t is not None and local != 0:
            terms.append(t if local == 1 else sp.Mul(local, t, evaluate=False))
    return _sum(terms)


# node type -> rule(node, operand tangents or None) -> the node's tangent (None: zero)
RULES = {
    sp.MatMul: _matmul,
    sp.MatAdd: lambda node, ts: _sum(ts),
    sp.Transpose: lambda node, ts: transpose(ts[0]),
    sp.HadamardProduct: _hadamard,
    sp.HadamardPower: _hadamard_power,
    sp.Trace: lambda node, ts: sp.Trace(ts[0]),
    sp.Inverse: lambda node, ts: scale(-1, matmul(node, ts[0], node)),
    SumAll: lambda node, ts: SumAll(ts[0]),
    MatrixElement: lambda node, ts: MatrixElement(ts[0], node.i, node.j),
    ElementwiseApplyFunction: lambda node, ts: entrywise_tangent(node.function, node, [node.expr], ts),
    Map: lambda node, ts: entrywise_tangent(node.function, node, list(node.operands), ts),
    RowLogSumExp: _row_lse,
    RowSoftmax: _row_softmax,
}


def rule(node):
    if (found := lookup(RULES, node)) is not None:
        return found
    if node.is_Matrix:
        raise UnsupportedError(
            f"no matrix tangent rule for {type(node).__name__} (in {str(node)[:60]}); "
            "register one in symgrad.matrix.forward.RULES"
        )
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
