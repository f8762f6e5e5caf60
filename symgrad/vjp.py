"""The scalar numeric reverse mode: the sweep over a sympy expression DAG.

The engine under `symgrad.autodiff` (the public entry points, which hand matrix-level models to
`symgrad.matrix.autodiff`); the matrix engine uses this one for entrywise functions.

The forward pass evaluates each distinct subexpression once (`symgrad.numeric`); the backward pass
visits nodes in reverse topological order and *accumulates* each node's adjoint from all of its
consumers before pushing it on, so shared subexpressions get every contribution.

The vector-Jacobian products are the primitive records' `vjp` rules (`symgrad.primitives`),
written from the calculus and not taken from sympy's `fdiff`/`diff`: comparing this path with
symbolic differentiation really compares two derivations. A sympy `Function` with no record falls back on sympy's derivative and says so in
`Result.fallbacks`; any other node type without a rule raises `UnsupportedError`.
"""

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .dag import depends_on, free_symbols, topological
from .errors import ShapeError, UnsupportedError
from .numeric import check_supported, evaluate, evaluate_all
from .primitives import rule
from .rewrite import stabilize
from .values import as_expr, as_symbol_list, bind


def vjp_rule(node):
    """The VJP for `node`'s type, searching base classes; None for an unregistered Function."""
    if (found := rule(node, "vjp")) is not None:
        return found
    if isinstance(node, sp.Function):
        return None
    raise UnsupportedError(
        f"autodiff has no rule for {type(node).__name__} (in {str(node)[:60]}); "
        "rewrite it with supported functions or give its vjp to symgrad.register"
    )


def _sympy_fallback(node, g, values):
    """Differentiate an unregistered Function with sympy's fdiff, evaluated numerically."""
    out = []
    for i in range(len(node.args)):
        try:
            d = node.fdiff(i + 1)
        except Exception:  # noqa: BLE001 - sympy signals "no derivative" many ways
            raise UnsupportedError(
                f"{type(node).__name__} has no autodiff rule and sympy cannot differentiate it"
            ) from None
        (dv,) = evaluate([d], values)
        out.append(g * dv)
    return out


def unbroadcast(adjoint, shape):
    """Sum an adjoint down to a value's shape (the batch sum for parameters given as scalars)."""
    adjoint = np.asarray(adjoint, dtype=float)
    if adjoint.shape == tuple(shape):
        return adjoint
    extra = adjoint.ndim - len(shape)
    adjoint = adjoint.sum(axis=tuple(range(extra))) if extra > 0 else adjoint
    keep = tuple(i for i, n in enumerate(shape) if n == 1 and adjoint.shape[i] != 1)
    if keep:
        adjoint = adjoint.sum(axis=keep, keepdims=True)
    return np.broadcast_to(adjoint, shape).copy() if adjoint.shape != tuple(shape) else adjoint


@dataclass
class Result:
    """Value, gradients (in `wrt` order) and the functions differentiated by sympy's fallback."""

    value: object
    grads: list
    fallbacks: list = field(default_factory=list)


def _sweep(expr, wrt, table, seed, bound):
    """The reverse pass: adjoints accumulated from every consumer, in reverse topological order.

    Written against numpy operations only, so the same pass runs on `symgrad.dual.Dual` values
    (forward-over-reverse, see `hvp`). Returns (adjoint by node, functions sympy differentiated).
    """
    needed = depends_on([expr], wrt)
    adjoint = {expr: seed}
    fallbacks = []
    for node in reversed(topological([expr])):
        if node not in adjoint or not node.args or node in bound:
            continue
        g = adjoint.pop(node) if node not in wrt else adjoint[node]
        rule = vjp_rule(node)
        if rule is None:
            fallbacks.append(type(node).__name__)
            contributions = _sympy_fallback(node, g, bound)
        else:
            contributions = rule(g, table[node], *[table[a] for a in node.args])
        undefined = _undefined_where_used(table[node], g)
        for arg, c in zip(node.args, contributions):
            if c is None or arg not in needed:
                continue
            if undefined is not None:
                c = np.where(undefined, np.nan, c)
            adjoint[arg] = adjoint[arg] + c if arg in adjoint else c
    return adjoint, fallbacks


def _undefined_where_used(value, g):
    """Where a node's value is NaN (log of a negative, no Piecewise branch) and its adjoint is not
    zero, the derivative is undefined too: d log(x) at x = -1 is NaN, not 1/x = -1. None if nowhere.
    A zero adjoint (a Piecewise branch not taken) keeps the operands' gradient defined."""
    if isinstance(value, tuple) or np.asarray(getattr(value, "value", value)).dtype.kind != "f":
        return None  # a Piecewise pair or a condition: no value to be undefined
    with np.errstate(invalid="ignore"):
        undefined = np.isnan(value) & (g != 0)
    return undefined if np.any(undefined) else None


def backward(expr, wrt, values, nonfinite="raise"):
    """Reverse mode on the scalar-level `expr`; see `symgrad.autodiff.grad`. Returns a `Result`."""
    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    (expr,) = stabilize([expr])  # the stable forms the kernels evaluate (softplus, expm1 ...)
    symbols = sorted(free_symbols([expr]) | set(wrt), key=str)
    check_supported(topological([expr]))
    bound, batch = bind(symbols, values, nonfinite=nonfinite)
    with np.errstate(all="ignore"):
        table = evaluate_all([expr], bound)
        adjoint, fallbacks = _sweep(expr, wrt, table, np.ones(batch), bound)
    grads = []
    for w in wrt:
        shape = np.shape(bound[w])
        g = adjoint.get(w)
        grads.append(unbroadcast(g, shape) if g is not None else np.zeros(shape))
    grads = [float(g) if np.ndim(g) == 0 else g for g in grads]
    return Result(table[expr], grads, sorted(set(fallbacks)))


def hvp(expr, wrt, values, v, nonfinite="raise"):
    """Hessian-vector product H·v of Σ_batch expr, by forward-over-reverse.

    The reverse pass above runs on dual numbers (`symgrad.dual`) whose tangents start at `v` on
    the parameters: the tangent of each adjoint is the directional derivative of the gradient,
    i.e. (H·v)_i. `wrt` are scalar parameters, `v` one number per parameter. A list of floats.
    """
    from .dual import Dual

    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    v = [float(x) for x in v]
    if len(v) != len(wrt):
        raise ShapeError(f"v has {len(v)} entries but there are {len(wrt)} parameters in wrt")
    (expr,) = stabilize([expr])
    symbols = sorted(free_symbols([expr]) | set(wrt), key=str)
    check_supported(topological([expr]))
    bound, batch = bind(symbols, values, nonfinite=nonfinite)
    for w in wrt:
        if np.ndim(bound[w]) != 0:
            raise ShapeError(f"hvp needs scalar parameters; {w} is bound to an array of shape {np.shape(bound[w])}")
    direction = dict(zip(wrt, v, strict=True))
    duals = {s: Dual(x, direction.get(s, 0.0)) for s, x in bound.items()}
    with np.errstate(all="ignore"):
        table = evaluate_all([expr], duals)
        adjoint, _ = _sweep(expr, wrt, table, Dual(np.ones(batch), np.zeros(batch)), duals)
    out = []
    for w in wrt:
        tangent = adjoint[w].tangent if isinstance(adjoint.get(w), Dual) else 0.0
        out.append(float(np.sum(tangent)))
    return out


def hessian(expr, wrt, values, nonfinite="raise"):
    """The Hessian of Σ_batch expr (a P×P numpy array), one forward-over-reverse pass per column."""
    wrt = as_symbol_list(wrt)
    eye = np.eye(len(wrt))
    return np.array([hvp(expr, wrt, values, eye[i], nonfinite) for i in range(len(wrt))]).T
