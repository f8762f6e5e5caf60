"""`tf.math`: the elementwise functions, reductions and comparisons under their `tf.math` names.

Every primitive record's TF names are here too (`ops.entrywise_op`): exp, sigmoid, erf, ... and
whatever `symgrad.register(..., tf=(...))` adds later.
"""

from . import ops
from .ops import (
    add,
    argmax,
    argmin,
    divide,
    equal,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    pow,
    reciprocal,
    reduce_mean,
    reduce_sum,
    rsqrt,
    sqrt,
    square,
    squared_difference,
    subtract,
)


def __getattr__(name):
    found = ops.entrywise_op(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found


def __dir__():
    return sorted({*globals(), *ops.entrywise_names()})


__all__ = [
    "add", "argmax", "argmin", "divide", "equal", "greater", "greater_equal", "less", "less_equal",
    "logical_and", "logical_not", "logical_or", "maximum", "minimum", "multiply", "negative", "not_equal", "pow",
    "reciprocal", "reduce_mean", "reduce_sum", "rsqrt", "sqrt", "square", "squared_difference", "subtract",
]
__all__ += ops.entrywise_names()
