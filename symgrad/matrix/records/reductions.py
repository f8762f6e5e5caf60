"""Reductions and rows: SumAll, Trace, an element M[i, j], row log-sum-exp, row softmax, index sums.

Each turns a matrix into fewer numbers; each adjoint spreads the upstream value back over the
entries it read (Σ: ones, tr: the identity, M[i, j]: the unit matrix at (i, j)).
"""

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from ...errors import UnsupportedError
from ...primitives.matrix_record import MatrixPrimitive
from ...primitives.registry import add_record
from ..algebra import emap, hadamard, matmul, scale
from ..nodes import Ones, RowLogSumExp, RowSoftmax, SumAll, Unit
from .linear_map import NotLinear, shape

_T = sp.Symbol("_t", real=True)


def _sum_all_linear(node, ks):
    rows, cols = shape(node.arg)
    return matmul(Ones(1, rows if cols == 1 else cols), ks[0])


add_record(MatrixPrimitive(
    SumAll,
    adjoint=lambda node, G: [scale(G, Ones(*node.arg.shape))],
    array_vjp=lambda env, node, g, ans, x: [np.full(x.shape, g, dtype=float)],
    forward=lambda env, node, x: env.ops.total(x),
    tangent=lambda node, ts: SumAll(ts[0]),
    linear=_sum_all_linear,
    lower=lambda low, node: low.reduce(node, "sum", None),
))


def _trace_linear(node, ks):
    if shape(node.arg) != (1, 1):
        raise NotLinear(f"trace of the {node.arg.shape} matrix {str(node.arg)[:60]} built from the direction")
    return ks[0]


add_record(MatrixPrimitive(
    sp.Trace,
    adjoint=lambda node, G: [scale(G, sp.Identity(node.arg.shape[0]))],
    array_vjp=lambda env, node, g, ans, x: [g * np.eye(x.shape[0])],
    forward=lambda env, node, x: env.ops.xp.trace(x),
    tangent=lambda node, ts: sp.Trace(ts[0]),
    linear=_trace_linear,
    lower=lambda low, node: low.reduce(node, "trace", None),
))


def _element_vjp(env, node, g, ans, x):
    d = np.zeros_like(x, dtype=float)
    d[int(node.i), int(node.j)] = g
    return [d]


def _element_linear(node, ks):
    rows, cols = shape(node.parent)
    at, length = (node.i, rows) if cols == 1 else (node.j, cols)
    return matmul(Unit(1, length, 0, at), ks[0])


add_record(MatrixPrimitive(
    MatrixElement,
    operands=lambda n: (n.parent,),
    adjoint=lambda node, G: [scale(G, Unit(*node.parent.shape, node.i, node.j))],
    array_vjp=_element_vjp,
    forward=lambda env, node, x: x[int(node.i), int(node.j)],
    tangent=lambda node, ts: MatrixElement(ts[0], node.i, node.j),
    linear=_element_linear,
    lower=lambda low, node: low.element(node),
))


# RowLogSumExp: log Σ_k exp(Z_ik), evaluated with the row maximum shifted out
_G, _Z, _L = (sp.Symbol(n, real=True) for n in ("_g", "_z", "_l"))
_S, _R = sp.Symbol("_s", real=True), sp.Symbol("_r", real=True)


def _lse_forward(env, node, z):
    m = env.ops.rowmax(z)
    return m + env.ops.xp.log(env.ops.rowsum(env.ops.xp.exp(z - m)))


def _lse_tangent(node, tangents):
    (z,), (t,) = node.args, tangents
    return matmul(emap(_T * sp.exp(_Z - _L), (_T, _Z, _L), t, z, node), Ones(z.shape[1], 1))


def _lse_lower(low, node):
    m, _, s = low.row_max_shifted_exp(node.arg)
    low.set_expr(node, m + sp.log(s), 1)


def _lse_adjoint(node, G):
    """∂ logsumexp(z)/∂z = softmax(z): the lowering reuses the forward pass's shifted exponentials
    and their row sums for it (one exp of the logits, not two)."""
    return [emap(_G * _S, (_G, _S), G, RowSoftmax(node.arg))]


add_record(MatrixPrimitive(
    RowLogSumExp,
    adjoint=_lse_adjoint,
    array_vjp=lambda env, node, g, ans, z: [g * np.exp(z - ans)],
    forward=_lse_forward,
    tangent=_lse_tangent,
    lower=_lse_lower,
    gaps={"linear": "log-sum-exp is not linear"},
))


# RowSoftmax: exp(Z_ij) / Σ_k exp(Z_ik)


def _softmax_adjoint(node, G):
    row_dot = matmul(hadamard(G, node), Ones(node.arg.shape[1], 1))
    return [emap(_S * (_G - _R), (_S, _G, _R), node, G, row_dot)]


def _softmax_forward(env, node, z):
    e = env.ops.xp.exp(z - env.ops.rowmax(z))
    return e / env.ops.rowsum(e)


def _softmax_tangent(node, tangents):
    (t,) = tangents
    row_dot = matmul(hadamard(t, node), Ones(node.arg.shape[1], 1))
    return emap(_S * (_T - _R), (_S, _T, _R), node, t, row_dot)


def _softmax_lower(low, node):
    _, e, s = low.row_max_shifted_exp(node.arg)
    low.set_expr(node, e / s, 1)


add_record(MatrixPrimitive(
    RowSoftmax,
    adjoint=_softmax_adjoint,
    array_vjp=lambda env, node, g, ans, z: [ans * (g - np.sum(g * ans, axis=1, keepdims=True))],
    forward=_softmax_forward,
    tangent=_softmax_tangent,
    lower=_softmax_lower,
    gaps={"linear": "softmax is not linear"},
))


def _indexed_sum(node, G):
    raise UnsupportedError(
        f"cannot differentiate the index sum {str(node)[:60]}: indexing a matrix product with symbolic sizes "
        "expands it into a Sum; index with concrete sizes, or use symgrad.matrix.SumAll / MatrixElement(expr, i, j)"
    )


# Sum: what sympy makes of M[i, j] at symbolic sizes; evaluated as a scalar, never differentiated
_INDEX_SUM = ("an index sum (M[i, j] of a product over a symbolic size): refused by name when differentiated; "
              "index with concrete sizes, or use SumAll / MatrixElement")
add_record(MatrixPrimitive(sp.Sum, adjoint=_indexed_sum, gaps=dict.fromkeys(
    ("adjoint", "array_vjp", "forward", "tangent", "linear", "lower", "cuda"), _INDEX_SUM)))
