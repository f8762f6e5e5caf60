"""Numeric reverse mode at the matrix level: the one numeric autodiff (`symgrad.vjp`) under its matrix name.

The walk and the rules are `vjp.backward`'s: each matrix node's record's `array_vjp`, the scalar
records' `vjp` for scalar nodes (entrywise maps run the scalar autodiff on whole arrays), written
from the calculus apart from the symbolic `adjoint`s, so comparing the two compares two derivations.
"""

from .. import vjp
from . import records  # noqa: F401 - enters the matrix-node records


def backward(expr, wrt, values, nonfinite="raise"):
    """Value and gradients (each in its symbol's shape) of the matrix-level `expr`; a `vjp.Result`."""
    return vjp.matrix_backward(expr, wrt, values, nonfinite)


def grad(expr, wrt, values, nonfinite="raise"):
    """Gradients of the matrix-level `expr` for each of `wrt`, numpy arrays of each one's shape."""
    return backward(expr, wrt, values, nonfinite).grads
