"""Linear algebra of square matrices: the inverse X⁻¹, the determinant det X, and log |det X|.

The Matrix Cookbook's rules: d X⁻¹ = −X⁻¹ dX X⁻¹, d det X = det X · tr(X⁻¹ dX) (gradient
det X · X⁻ᵀ), d log|det X| = tr(X⁻¹ dX) (gradient X⁻ᵀ). A singular X has no inverse: evaluation
and kernels give NaN there (as for any undefined value; `check` and the kernels' non-finite
policy report it), never a LinAlgError. Kernels call numpy's `linalg`; the CUDA target has no
spelling for them and refuses them by name.
"""

import numpy as np
import sympy as sp

from ...errors import ShapeError
from ...primitives import Helper
from ...primitives.matrix_record import MatrixPrimitive
from ...primitives.registry import add_record
from ..algebra import matmul, scale, transpose
from ..nodes import LogDet, square

NO_CUDA = "no device spelling (cuSOLVER is not bound); compile with target='numpy' or pass the value as an input"
NOT_LINEAR = "not linear in the direction (use hvp)"


def _square_value(node, x):
    """`x` if it is a square array; else our ShapeError naming the node and the shape it got."""
    shape = tuple(x.shape)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(f"{type(node).__name__} needs a square matrix; {str(node.args[0])[:60]} has the value shape {shape}")
    return x


def _inverse_or_nan(x):
    """X⁻¹ on numpy, NaN everywhere when X is singular."""
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError:
        return np.full(np.shape(x), np.nan)


def _lower(low, node):
    square(node.args[0], type(node).__name__)  # a symbolic n×m is refused before any code is written
    low.call(node)


def _call(name, body):
    """A kernel helper `sg_<name>(x)` (the sg_ prefix no user name takes)."""
    return Helper(f"sg_{name}", numpy=f"def sg_{name}(x):\n" + body)


# Inverse: Y = X⁻¹ (sympy's Inverse, which is also what X**-1 builds)
add_record(MatrixPrimitive(
    sp.Inverse,
    operands=lambda n: (n.arg,),
    adjoint=lambda node, G: [scale(-1, matmul(transpose(node), G, transpose(node)))],
    array_vjp=lambda env, node, g, ans, x: [-(ans.T @ g @ ans.T)],
    forward=lambda env, node, x: env.ops.inv(_square_value(node, x)),
    tangent=lambda node, ts: scale(-1, matmul(node, ts[0], node)),
    lower=_lower,
    numpy_call=_call("inv", (
        '    """X⁻¹; NaN where X is singular (symgrad\'s policy for undefined values)."""\n'
        "    try:\n"
        "        return np.linalg.inv(x)\n"
        "    except np.linalg.LinAlgError:\n"
        "        return np.full(x.shape, np.nan, dtype=x.dtype)")),
    gaps={"linear": NOT_LINEAR, "cuda": NO_CUDA},
))


# Determinant: det X, a scalar
def _det_tangent(node, ts):
    return sp.Mul(node, sp.Trace(matmul(sp.Inverse(node.arg), ts[0])))


add_record(MatrixPrimitive(
    sp.Determinant,
    adjoint=lambda node, G: [scale(sp.Mul(G, node), transpose(sp.Inverse(node.arg)))],
    array_vjp=lambda env, node, g, ans, x: [g * ans * _inverse_or_nan(x).T],
    forward=lambda env, node, x: env.ops.xp.linalg.det(_square_value(node, x)),
    tangent=_det_tangent,
    lower=_lower,
    numpy_call=_call("det", '    """det X."""\n    return np.linalg.det(x)'),
    gaps={"linear": NOT_LINEAR, "cuda": NO_CUDA},
))


# LogDet: log |det X| by slogdet (symgrad.matrix.logdet)
add_record(MatrixPrimitive(
    LogDet,
    adjoint=lambda node, G: [scale(G, transpose(sp.Inverse(node.arg)))],
    array_vjp=lambda env, node, g, ans, x: [g * _inverse_or_nan(x).T],
    forward=lambda env, node, x: env.ops.xp.linalg.slogdet(_square_value(node, x))[1],
    tangent=lambda node, ts: sp.Trace(matmul(sp.Inverse(node.arg), ts[0])),
    lower=_lower,
    numpy_call=_call("logdet", '    """log |det X| by slogdet (no overflow where det X would)."""\n'
                               "    return np.linalg.slogdet(x)[1]"),
    gaps={"linear": NOT_LINEAR, "cuda": NO_CUDA},
))
