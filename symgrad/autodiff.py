"""Numeric reverse-mode automatic differentiation: the public entry points.

`grad` and `backward` take scalar and matrix-level models alike: one engine, `symgrad.vjp` (the
records' `vjp`/`array_vjp` rules on the one reverse sweep, `symgrad.sweep`). `hvp`/`hessian` are its
forward-over-reverse second derivatives of scalar-level models.
"""

from . import vjp
from .matrix import records  # noqa: F401 - enters the matrix-node records the sweep reads
from .numeric import NumpyBackend, leaf_value
from .vjp import Result, hessian, hvp, unbroadcast


def backward(expr, wrt, values, nonfinite="raise"):
    """Reverse mode on `expr`, scalar or matrix level (`symgrad.vjp`); see `grad`. Returns a `Result`."""
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
