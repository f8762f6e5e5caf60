"""Numeric evaluation of matrix expression DAGs on numpy (or torch, the PyTorch oracle).

Each matrix node evaluates by its record's `forward` (`symgrad.matrix.records`); scalar nodes by
`symgrad.numeric`'s (their scalar records), and entrywise functions evaluate their scalar body
with those same rules on whole arrays.
"""

import numpy as np

from .. import numeric
from ..errors import UnsupportedError
from ..primitives import matrix_rule
from ..values import shape_of
from .graph import operands, topological


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


class Env:
    """What evaluation rules see: the array operations and the sizes fixed by the values."""

    def __init__(self, sizes, ops):
        self.sizes, self.ops = sizes, ops

    def shape(self, node):
        return shape_of(node, self.sizes)


def forward_rule(node):
    """The node's evaluation: its matrix record's `forward`, or the scalar record's for a scalar node."""
    if (found := matrix_rule(node, "forward")) is not None:
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
