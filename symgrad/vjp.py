"""The numeric reverse mode: the one sweep (`symgrad.sweep`) over scalar and matrix DAGs with numbers.

The engine under `symgrad.autodiff` (and `symgrad.matrix.autodiff`, its matrix-level name). The
forward pass evaluates each distinct subexpression once (`symgrad.numeric` for scalar DAGs, whose
values have the batch shape; `symgrad.matrix.evaluate` for matrix ones); the backward pass is the
walk every reverse mode shares, which *accumulates* each node's adjoint from all of its consumers
before pushing it on, so shared subexpressions get every contribution.

The vector-Jacobian products are the records' numeric rules: a scalar node's `vjp`
(`symgrad.primitives`), a matrix node's `array_vjp` (`symgrad.matrix.records`), written from the
calculus apart from the symbolic partials and adjoints: comparing this path with symbolic
differentiation really compares two derivations. A sympy `Function` with no record falls back on
sympy's derivative and says so in `Result.fallbacks`; any other node type without a rule raises
`UnsupportedError`.
"""

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from . import sweep
from .dag import free_symbols, topological
from .errors import ShapeError, UnsupportedError
from .matrix import evaluate as matrix_evaluate
from .matrix.graph import class_rule, is_matrix_level, matrix_symbols, operands
from .matrix.prepare import as_scalar_loss
from .numeric import check_supported, evaluate, evaluate_all
from .primitives import rule
from .primitives.matrix_record import gap
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


def _sympy_fallback(node, g, args):
    """Differentiate an unregistered Function with sympy's fdiff, evaluated at its operands' values."""
    stand_ins = [sp.Dummy() for _ in node.args]
    at = dict(zip(stand_ins, args, strict=True))
    out = []
    for i in range(len(node.args)):
        try:
            d = node.func(*stand_ins).fdiff(i + 1)
        except Exception:  # noqa: BLE001 - sympy signals "no derivative" many ways
            raise UnsupportedError(
                f"{type(node).__name__} has no autodiff rule and sympy cannot differentiate it"
            ) from None
        (dv,) = evaluate([d], at)
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


def pullback(table, env, fallbacks):
    """The numeric pullback over the values `table` (node -> value): each node's record's VJP.

    Written against numpy operations only, so the same sweep runs on `symgrad.dual.Dual` values
    (forward-over-reverse, see `hvp`). `env` carries the matrix level's sizes and operations
    (None at the scalar level); `fallbacks` collects the functions sympy differentiated.
    """
    def pull(node, g):
        args = [table[a] for a in operands(node)]
        if (matrix_vjp := class_rule(type(node), "array_vjp")) is not None:
            return matrix_vjp(env, node, g, table[node], *args)
        if node.is_Matrix:
            why = gap(node, "array_vjp") or "give its record (symgrad.matrix.records) an array_vjp rule"
            raise UnsupportedError(f"autodiff has no rule for {type(node).__name__} (in {str(node)[:60]}): {why}")
        scalar_vjp = vjp_rule(node)
        if scalar_vjp is None:
            fallbacks.append(type(node).__name__)
            contributions = _sympy_fallback(node, g, args)
        else:
            contributions = scalar_vjp(g, table[node], *args)
        undefined = _undefined_where_used(table[node], g)
        if undefined is None:
            return contributions
        return [None if c is None else np.where(undefined, np.nan, c) for c in contributions]

    return pull


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
    """Reverse mode on `expr`, scalar or matrix level; see `symgrad.autodiff.grad`. A `Result`."""
    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    if is_matrix_level(expr, wrt):
        return matrix_backward(expr, wrt, values, nonfinite)
    (expr,) = stabilize([expr])  # the stable forms the kernels evaluate (softplus, expm1 ...)
    symbols = sorted(free_symbols([expr]) | set(wrt), key=str)
    check_supported(topological([expr]))
    bound, batch = bind(symbols, values, nonfinite=nonfinite)
    fallbacks = []
    with np.errstate(all="ignore"):
        table = evaluate_all([expr], bound)
        adjoint = sweep.reverse_sweep(expr, wrt, np.ones(batch), pullback(table, None, fallbacks), keep=False)
    grads = []
    for w in wrt:
        shape = np.shape(bound[w])
        g = adjoint.get(w)
        grads.append(unbroadcast(g, shape) if g is not None else np.zeros(shape))
    grads = [float(g) if np.ndim(g) == 0 else g for g in grads]
    return Result(table[expr], grads, sorted(set(fallbacks)))


def matrix_backward(expr, wrt, values, nonfinite="raise"):
    """`backward` at the matrix level: values of each symbol's shape, gradients of each parameter's."""
    expr = as_scalar_loss(expr)
    wrt = as_symbol_list(wrt)
    symbols = sorted(matrix_symbols([expr]) | set(wrt), key=str)
    bound, sizes = bind(symbols, values, nonfinite=nonfinite, sizes=True)
    env = matrix_evaluate.Env(sizes, matrix_evaluate.NumpyOps())
    env.fallbacks = []
    with np.errstate(all="ignore"):
        table = matrix_evaluate.evaluate_all([expr], bound, sizes, env.ops)
        adjoint = sweep.reverse_sweep(expr, wrt, np.float64(1.0), pullback(table, env, env.fallbacks), keep=False)
    grads = []
    for w in wrt:
        g = adjoint.get(w)
        shape = np.shape(bound[w])
        g = np.zeros(shape) if g is None else np.broadcast_to(np.asarray(g, dtype=float), shape)
        grads.append(float(g) if not shape else np.array(g))
    return Result(table[expr], grads, sorted(set(env.fallbacks)))


def hvp(expr, wrt, values, v, nonfinite="raise"):
    """Hessian-vector product H·v of Σ_batch expr, by forward-over-reverse.

    The reverse sweep above runs on dual numbers (`symgrad.dual`) whose tangents start at `v` on
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
        seed = Dual(np.ones(batch), np.zeros(batch))
        adjoint = sweep.reverse_sweep(expr, wrt, seed, pullback(table, None, []), keep=False)
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
