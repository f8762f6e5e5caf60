"""Numeric reverse-mode automatic differentiation: the public entry points.

`grad` and `backward` take scalar and matrix-level models alike and hand each to its engine below:
`symgrad.vjp` (scalar DAGs: the records' VJP rules and the reverse sweep) or `symgrad.matrix.autodiff`
(matrix DAGs, which uses the scalar engine for entrywise functions). `hvp`/`hessian` are the scalar
engine's forward-over-reverse second derivatives.
"""

from . import vjp
from .matrix import autodiff as matrix_autodiff
from .matrix.graph import is_matrix_level
from .numeric import NumpyBackend, leaf_value
from .values import as_expr, as_symbol_list
from .vjp import Result, hessian, hvp, unbroadcast


def backward(expr, wrt, values, nonfinite="raise"):
    """Reverse mode on `expr`; see `grad`. Returns a `Result`."""
    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    if is_matrix_level(expr, wrt):
        return matrix_autodiff.backward(expr, wrt, values, nonfinite)
    return vjp.backward(expr, wrt, values, nonfinite)


def grad(expr, wrt, values, nonfinite="raise"):
    """Gradient of `expr` with respect to each symbol in `wrt`, by numeric reverse mode.

    `values` maps every free symbol to a float or a numpy array. When arrays make the expression a
    batch, the result is the gradient of the *sum over the batch*: a symbol given as a float gets
    the summed gradient (a float), a symbol given as an array gets one entry per element.
    Returns a list in `wrt` order. For a matrix-level expression (MatrixSymbols, keyed by
    numpy arrays of their shape) each gradient has its parameter's shape.
    """
    return backward(expr, wrt, values, nonfinite).grads


__all__ = ["grad", "backward", "hvp", "hessian", "unbroadcast", "Result", "leaf_value", "NumpyBackend"]
