"""Numeric reverse mode over matrix expression DAGs: a VJP table on numpy arrays.

Written from the calculus, apart from `symgrad.matrix.rules`: comparing the two paths compares two
derivations. Entrywise functions are differentiated by the scalar autodiff engine
(`symgrad.vjp`, itself independent of sympy's derivatives) on whole arrays.
"""

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import vjp as scalar_autodiff
from ..errors import UnsupportedError
from ..primitives.arithmetic import exponent_slope, product_vjp
from ..registry import lookup
from ..values import as_symbol_list
from ..vjp import Result
from .evaluate import Env, NumpyOps, evaluate_all
from .graph import matrix_symbols, operands, topological
from .nodes import Map, RowLogSumExp, RowSoftmax, SumAll, power_exponent
from .rules import as_scalar_loss
from .values import bind


def _reduce_to(adjoint, value):
    """Sum a broadcast adjoint down to the shape of `value` (numpy broadcasting in reverse)."""
    shape = np.shape(value)
    if np.shape(adjoint) == shape:
        return adjoint
    if not shape:
        return np.sum(adjoint)
    axes = tuple(a for a, n in enumerate(shape) if n == 1 and np.shape(adjoint)[a] != 1)
    return np.sum(adjoint, axis=axes, keepdims=True)


def _matmul_vjp(env, node, g, ans, *vals):
    is_mat = [a.is_Matrix for a in node.args]
    mats = [v for v, m in zip(vals, is_mat, strict=True) if m]
    scalars = [v for v, m in zip(vals, is_mat, strict=True) if not m]
    scalar = np.prod(scalars) if scalars else 1.0
    prefix = [None] * (len(mats) + 1)  # prefix[k] = mats[0] @ ... @ mats[k-1]
    suffix = [None] * (len(mats) + 1)  # suffix[k] = mats[k] @ ... @ mats[-1]
    for k in range(len(mats)):
        prefix[k + 1] = mats[k] if prefix[k] is None else prefix[k] @ mats[k]
    for k in range(len(mats) - 1, -1, -1):
        suffix[k] = mats[k] if suffix[k + 1] is None else mats[k] @ suffix[k + 1]
    out, k, s = [], 0, 0
    for m in is_mat:
        if m:
            d = scalar * g
            if prefix[k] is not None:
                d = prefix[k].T @ d
            if suffix[k + 1] is not None:
                d = d @ suffix[k + 1].T
            out.append(d)
            k += 1
        else:
            others = np.prod(scalars[:s] + scalars[s + 1 :]) if len(scalars) > 1 else 1.0
            out.append(np.sum(g * prefix[-1]) * others)
            s += 1
    return out


def _entrywise_vjp(env, function, g, ans, *vals):
    """∂ f(x1, x2, ...)/∂xk at every entry, by the scalar autodiff on whole arrays, times g."""
    shape = np.shape(ans)
    full = {v: np.broadcast_to(np.asarray(x, dtype=float), shape) for v, x in zip(function.variables, vals, strict=True)}
    result = scalar_autodiff.backward(function.expr, list(function.variables), full, nonfinite="propagate")
    if result.fallbacks:
        env.fallbacks.extend(result.fallbacks)
    return [_reduce_to(g * np.asarray(d), x) for d, x in zip(result.grads, vals, strict=True)]


def _hadamard_vjp(env, node, g, ans, *vals):
    return product_vjp(g, ans, *vals)


def _hadamard_power_vjp(env, node, g, ans, x, p):
    return [g * p * x ** (p - 1), np.sum(g * exponent_slope(ans, x, p))]


def _matrix_power_vjp(env, node, g, ans, x):
    """Xⁿ: the product rule over its n factors, Σₖ (Xᵏ)ᵀ g (Xⁿ⁻¹⁻ᵏ)ᵀ, with the powers computed once."""
    n = power_exponent(node)
    powers = [np.eye(x.shape[0])]
    for _ in range(n - 1):
        powers.append(powers[-1] @ x)
    return [sum(powers[k].T @ g @ powers[n - 1 - k].T for k in range(n))]


def _element_vjp(env, node, g, ans, x):
    d = np.zeros_like(x, dtype=float)
    d[int(node.i), int(node.j)] = g
    return [d]


def _lse_vjp(env, node, g, ans, z):
    return [g * np.exp(z - ans)]


def _softmax_vjp(env, node, g, ans, z):
    return [ans * (g - np.sum(g * ans, axis=1, keepdims=True))]


# node type -> vjp(env, node, adjoint, value, *operand values) -> one contribution per operand
MATRIX_VJP = {
    sp.MatMul: _matmul_vjp,
    sp.MatAdd: lambda env, node, g, ans, *xs: [g] * len(xs),
    sp.Transpose: lambda env, node, g, ans, x: [g.T],
    sp.HadamardProduct: _hadamard_vjp,
    sp.HadamardPower: _hadamard_power_vjp,
    sp.MatPow: _matrix_power_vjp,
    sp.Inverse: lambda env, node, g, ans, x: [-(ans.T @ g @ ans.T)],
    sp.Trace: lambda env, node, g, ans, x: [g * np.eye(x.shape[0])],
    SumAll: lambda env, node, g, ans, x: [np.full(x.shape, g, dtype=float)],
    MatrixElement: _element_vjp,
    ElementwiseApplyFunction: lambda env, node, g, ans, x: _entrywise_vjp(env, node.function, g, ans, x),
    Map: lambda env, node, g, ans, *xs: _entrywise_vjp(env, node.function, g, ans, *xs),
    RowLogSumExp: _lse_vjp,
    RowSoftmax: _softmax_vjp,
}


def vjp_rule(node):
    if (found := lookup(MATRIX_VJP, node)) is not None:
        return found
    if node.is_Matrix:
        raise UnsupportedError(
            f"matrix autodiff has no rule for {type(node).__name__} (in {str(node)[:60]}); "
            "register one in symgrad.matrix.autodiff.MATRIX_VJP"
        )
    scalar_rule = scalar_autodiff.vjp_rule(node)
    if scalar_rule is None:
        raise UnsupportedError(f"matrix autodiff has no rule for the scalar function {type(node).__name__}")
    return lambda env, node, g, ans, *xs: scalar_rule(g, ans, *xs)


def backward(expr, wrt, values, nonfinite="raise"):
    """Value and gradients (each in its symbol's shape) of the matrix-level `expr`; a `Result`."""
    expr = as_scalar_loss(expr)
    wrt = as_symbol_list(wrt)
    symbols = sorted(matrix_symbols([expr]) | set(wrt), key=str)
    bound, sizes = bind(symbols, values, nonfinite=nonfinite)
    env = Env(sizes, NumpyOps())
    env.fallbacks = []
    targets = set(wrt)
    with np.errstate(all="ignore"):
        table = evaluate_all([expr], bound, sizes, env.ops)
        order = topological([expr])
        needed = set()
        for node in order:
            if node in targets or any(c in needed for c in operands(node)):
                needed.add(node)
        adjoint = {expr: np.float64(1.0)}
        for node in reversed(order):
            if node not in adjoint or node in targets or not operands(node):
                continue
            g = adjoint.pop(node)
            ops = operands(node)
            contributions = vjp_rule(node)(env, node, g, table[node], *[table[a] for a in ops])
            for arg, c in zip(ops, contributions, strict=True):
                if c is None or arg not in needed:
                    continue
                adjoint[arg] = adjoint[arg] + c if arg in adjoint else c
    grads = []
    for w in wrt:
        g = adjoint.get(w)
        shape = np.shape(bound[w])
        g = np.zeros(shape) if g is None else np.broadcast_to(np.asarray(g, dtype=float), shape)
        grads.append(float(g) if not shape else np.array(g))
    return Result(table[expr], grads, sorted(set(env.fallbacks)))


def grad(expr, wrt, values, nonfinite="raise"):
    """Gradients of the matrix-level `expr` for each of `wrt`, numpy arrays of each one's shape."""
    return backward(expr, wrt, values, nonfinite).grads
