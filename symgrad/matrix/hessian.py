"""Hessians and Hessian-vector products of matrix-level expressions, in closed form.

`hvp` is forward over reverse: the reverse-mode gradient (`rules`) differentiated along a
direction V by the tangent rules (`forward`): H·V as a matrix expression (2·Aᵀ·A·V for least
squares, Xᵀ·(σ'(z) ⊙ X·V) for logistic regression) for parameters of any shape. `hessian` reads
the matrix of that linear map off its expression (`linear`), for an n×1 parameter: A + Aᵀ,
2·Aᵀ·A, Xᵀ·(D ⊙ X) with D = σ(z) ⊙ (1 − σ(z)) broadcast along the columns of X.

Scalar-level `symgrad.hessian`/`symgrad.hvp` hand matrix-level expressions to these functions
(`graph.is_matrix_level` says which).
"""

import sympy as sp

from ..errors import InvalidArgumentError
from ..values import as_symbol_list
from .forward import jvp
from .linear import coefficient
from .rules import as_scalar_loss, reverse


def direction_for(w):
    """The default direction symbol of parameter `w`: a MatrixSymbol `v_<name>` of its shape."""
    return sp.MatrixSymbol(f"v_{w.name}", *w.shape) if isinstance(w, sp.MatrixSymbol) else sp.Symbol(f"v_{w.name}", real=True)


def _directions(wrt, directions):
    if directions is None:
        return [direction_for(w) for w in wrt]
    directions = list(directions)
    if len(directions) != len(wrt):
        raise InvalidArgumentError(f"hvp needs one direction per parameter: {len(wrt)} parameters, {len(directions)} directions")
    for w, v in zip(wrt, directions, strict=True):
        shape_w = tuple(w.shape) if isinstance(w, sp.MatrixSymbol) else ()
        shape_v = tuple(v.shape) if getattr(v, "is_Matrix", False) else ()
        if shape_w != shape_v:
            raise InvalidArgumentError(f"the direction {v} for {w} has shape {shape_v}, not {w}'s {shape_w}")
    return directions


def hvp(expr, wrt, directions=None):
    """(products, directions): H·V for each parameter (its block row of the Hessian times V).

    products[k] = Σ_j ∂²expr/∂wrt_k∂wrt_j · directions[j], a matrix expression of wrt[k]'s shape.
    `directions` default to MatrixSymbols `v_<name>` (see `direction_for`).
    """
    expr = as_scalar_loss(expr)
    wrt = as_symbol_list(wrt)
    directions = _directions(wrt, directions)
    grads = reverse(expr, wrt)
    return jvp(grads, dict(zip(wrt, directions, strict=True))), directions


def hessian(expr, x):
    """∂²expr/∂x², an n×n matrix expression, for an n×1 MatrixSymbol `x`.

    Derived from `hvp`: the Hessian is the matrix of the linear map V ↦ H·V.
    """
    (x,) = as_symbol_list([x] if not isinstance(x, (list, tuple)) else x)
    if not isinstance(x, sp.MatrixSymbol) or x.shape[1] != 1:
        raise InvalidArgumentError(
            f"hessian needs an n×1 MatrixSymbol parameter, got {x}"
            + (f" of shape {x.shape}" if isinstance(x, sp.MatrixSymbol) else "")
            + "; for other shapes use symgrad.matrix.hvp (Hessian-vector products)"
        )
    (product,), (v,) = hvp(expr, [x])
    return coefficient(product, v)
