"""Numeric evaluation of matrix expression DAGs on numpy (or torch, the PyTorch oracle).

One rule per matrix node type; scalar nodes use `symgrad.numeric`'s rules, and entrywise
functions evaluate their scalar body with those same rules on whole arrays.
"""

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import numeric
from ..errors import UnsupportedError
from ..registry import lookup
from .graph import operands, topological
from .nodes import Map, RowLogSumExp, RowSoftmax, SumAll, Unit, check_closed, power_exponent
from .values import shape_of


class NumpyOps(numeric.NumpyBackend):
    """The array operations matrix rules need, on numpy."""

    def __init__(self, dtype=np.float64):
        self.dtype = np.dtype(dtype)

    def full(self, shape, value):
        return np.full(shape, value, dtype=self.dtype)

    def eye(self, n):
        return np.eye(n, dtype=self.dtype)

    @staticmethod
    def rowmax(x):
        return np.max(x, axis=1, keepdims=True)

    @staticmethod
    def rowsum(x):
        return np.sum(x, axis=1, keepdims=True)

    @staticmethod
    def total(x):
        return np.sum(x)

    def inv(self, x):
        """The inverse; NaN where there is none (a singular matrix), as for any undefined value."""
        try:
            return np.linalg.inv(x)
        except np.linalg.LinAlgError:
            return np.full(np.shape(x), np.nan, dtype=self.dtype)


class TorchOps(numeric.TorchBackend):
    """The same operations on float64 torch tensors."""

    def full(self, shape, value):
        return self.torch.full(shape, float(value), dtype=self.torch.float64)

    def eye(self, n):
        return self.torch.eye(n, dtype=self.torch.float64)

    def rowmax(self, x):
        return self.torch.amax(x, dim=1, keepdim=True)

    def rowsum(self, x):
        return self.torch.sum(x, dim=1, keepdim=True)

    def total(self, x):
        return self.torch.sum(x)

    def inv(self, x):
        return self.torch.linalg.inv(x)


def _matmul(env, node, *vals):
    scalar, out = None, None
    for arg, v in zip(node.args, vals, strict=True):
        if arg.is_Matrix:
            out = v if out is None else out @ v
        else:
            scalar = v if scalar is None else scalar * v
    return out if scalar is None else scalar * out


def _add(env, node, *vals):
    out = vals[0]
    for v in vals[1:]:
        out = out + v
    return out


def _hadamard(env, node, *vals):
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return out


def _apply(env, node, *vals):
    """A scalar Lambda on whole arrays, by the scalar evaluation rules (broadcast to the node's
    shape: a body that reads only scalar operands gives one number)."""
    function = node.function
    check_closed(function)
    bound = dict(zip(function.variables, vals, strict=True))
    (out,) = numeric.evaluate([function.expr], bound, env.ops)
    shape = env.shape(node)
    return out if tuple(np.shape(out)) == shape else out + env.ops.full(shape, 0.0)


def _matrix_power(env, node, x):
    out = x
    for _ in range(power_exponent(node) - 1):
        out = out @ x
    return out


def _lse(env, node, z):
    m = env.ops.rowmax(z)
    return m + env.ops.xp.log(env.ops.rowsum(env.ops.xp.exp(z - m)))


def _softmax(env, node, z):
    e = env.ops.xp.exp(z - env.ops.rowmax(z))
    return e / env.ops.rowsum(e)


def _unit(env, node):
    out = env.ops.full(env.shape(node), 0.0)
    out[int(node.index[0]), int(node.index[1])] = 1.0
    return out


# node type -> rule(env, node, *operand values)
MATRIX_FORWARD = {
    sp.MatMul: _matmul,
    sp.MatAdd: _add,
    sp.HadamardProduct: _hadamard,
    sp.HadamardPower: lambda env, node, x, p: x**p,
    sp.MatPow: _matrix_power,
    sp.Inverse: lambda env, node, x: env.ops.inv(x),
    sp.Transpose: lambda env, node, x: x.T,
    sp.Trace: lambda env, node, x: env.ops.xp.trace(x) if env.ops.xp is np else env.ops.torch.trace(x),
    SumAll: lambda env, node, x: env.ops.total(x),
    MatrixElement: lambda env, node, x: x[int(node.i), int(node.j)],
    ElementwiseApplyFunction: _apply,
    Map: _apply,
    RowLogSumExp: _lse,
    RowSoftmax: _softmax,
    sp.OneMatrix: lambda env, node: env.ops.full(env.shape(node), 1.0),
    sp.ZeroMatrix: lambda env, node: env.ops.full(env.shape(node), 0.0),
    sp.Identity: lambda env, node: env.ops.eye(env.shape(node)[0]),
    Unit: _unit,
}


class Env:
    """What evaluation rules see: the array operations and the sizes fixed by the values."""

    def __init__(self, sizes, ops):
        self.sizes, self.ops = sizes, ops

    def shape(self, node):
        return shape_of(node, self.sizes)


def forward_rule(node):
    if (found := lookup(MATRIX_FORWARD, node)) is not None:
        return found
    if node.is_Matrix:
        raise UnsupportedError(
            f"symgrad has no rule for the matrix node {type(node).__name__} (in {str(node)[:60]}); "
            "write it with MatMul, MatAdd, Transpose, HadamardProduct, entrywise functions or symgrad.matrix nodes"
        )
    scalar = numeric.forward_rule(node)
    return lambda env, node, *vals: scalar(env.ops, *vals)


def evaluate_all(roots, bound, sizes, ops=None):
    """Values of every node of the DAG of `roots` (a dict node -> array or 0-d value)."""
    env = Env(sizes, ops or NumpyOps())
    out = {}
    for node in topological(roots):
        if node in bound:
            out[node] = bound[node]
        elif not operands(node) and not node.is_Matrix:
            out[node] = numeric.leaf_value(node, bound, env.ops)
        else:
            out[node] = forward_rule(node)(env, node, *[out[a] for a in operands(node)])
    return out


def evaluate(exprs, bound, sizes, ops=None):
    table = evaluate_all(exprs, bound, sizes, ops)
    return [table[e] for e in exprs]
