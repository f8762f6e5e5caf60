"""Ops without gradients, computed in numpy on their inputs' values: comparisons, argmax, casts to
integers, one-hot codes. TensorFlow defines no gradient through them either, so a session runs them
between kernels: their inputs are evaluated first (a kernel of their own when they need one) and
their values enter the rest of the graph as data, like a fed placeholder.
"""

import numpy as np

from ..errors import InvalidArgumentError


def _argmax(node, x):
    (axis,) = node.attrs
    return np.argmax(x, axis=axis).astype(node.dtype.as_numpy_dtype)


def _argmin(node, x):
    (axis,) = node.attrs
    return np.argmin(x, axis=axis).astype(node.dtype.as_numpy_dtype)


def _one_hot(node, indices):
    depth, on, off = node.attrs
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        if not np.all(idx == np.round(idx)):
            raise InvalidArgumentError(f"one_hot {node.name}: indices must be integers, got {idx.dtype} values")
        idx = idx.astype(np.int64)
    out = np.full(idx.shape + (depth,), off, dtype=node.dtype.as_numpy_dtype)
    inside = (idx >= 0) & (idx < depth)  # as TensorFlow: an index outside [0, depth) gives a row of off_value
    out[inside, idx[inside]] = on
    return out


def _compare(fn):
    def rule(node, a, b):
        return fn(a, b)

    return rule


def _cast(node, x):
    return np.asarray(x).astype(node.dtype.as_numpy_dtype)


HOST = {
    "equal": _compare(np.equal),
    "not_equal": _compare(np.not_equal),
    "greater": _compare(np.greater),
    "greater_equal": _compare(np.greater_equal),
    "less": _compare(np.less),
    "less_equal": _compare(np.less_equal),
    "logical_and": _compare(np.logical_and),
    "logical_or": _compare(np.logical_or),
    "logical_not": lambda node, x: np.logical_not(x),
    "argmax": _argmax,
    "argmin": _argmin,
    "one_hot": _one_hot,
    "host_cast": _cast,
}
