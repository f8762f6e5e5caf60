"""Entrywise maps (sympy's ElementwiseApplyFunction, symgrad's n-ary `Map`): a scalar function
lifted to matrices entry by entry, every rule read from the scalar records of its body.

The adjoint and the tangent differentiate the body with the scalar symbolic sweep
(`symbolic.reverse`, the records' `partials`), written through the output where the calculus
allows (σ' = y(1 − y)); the numeric VJP runs the scalar autodiff (`vjp`, the records' `vjp`) on
whole arrays; evaluation runs the records' `evaluate`. No entrywise derivative is written here.
"""

import functools

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ... import numeric, symbolic
from ... import vjp as scalar_autodiff
from ...primitives.matrix_record import MatrixPrimitive
from ...primitives.registry import RECORDS, add_record
from ..algebra import add, emap, matmul, sum_rows_to
from ..nodes import Map, canonical_lambda, check_closed
from .linear_map import K, NotLinear, as_column

_G, _T, _Y = sp.Symbol("_g", real=True), sp.Symbol("_t", real=True), sp.Symbol("_y", real=True)


def _shape(x):
    return x.shape if x.is_Matrix else ()


def _derivatives(function):
    """(body, variables, [∂body/∂var written through the output _y]) of a canonical Lambda, derived
    once per Lambda while the registry is unchanged (a sweep meets the same function at every layer)."""
    return _derived(function, len(RECORDS))


@functools.lru_cache(maxsize=4096)
def _derived(function, _records):
    function = canonical_lambda(function)
    body, variables = function.expr, function.variables
    out = []
    for var in variables:
        (d,) = symbolic.reverse(body, [var])
        out.append(d if body.is_Symbol else d.xreplace({body: _Y}))
    return body, variables, tuple(out)


def adjoints(function, node, ops, G):
    """Adjoints of `ops` for node = function(*ops) entry by entry, broadcast sums included."""
    _, variables, ds = _derivatives(function)
    out = []
    for k, d in enumerate(ds):
        adj = emap(_G * d, (_G, *variables, _Y), G, *ops, node)
        out.append(sum_rows_to(adj, _shape(ops[k])) if _shape(ops[k]) != node.shape else adj)
    return out


def tangent(function, node, ops, tangents):
    """Σ_k ∂f/∂x_k · ẋ_k entry by entry, with f' written through the output where it can be."""
    _, variables, ds = _derivatives(function)
    terms = [emap(_T * d, (_T, *variables, _Y), t, *ops, node) for d, t in zip(ds, tangents, strict=True) if t is not None]
    return add(*terms) if terms else None


def _reduce_to(adjoint, value):
    """Sum a broadcast adjoint down to the shape of `value` (numpy broadcasting in reverse)."""
    shape = np.shape(value)
    if np.shape(adjoint) == shape:
        return adjoint
    if not shape:
        return np.sum(adjoint)
    axes = tuple(a for a, n in enumerate(shape) if n == 1 and np.shape(adjoint)[a] != 1)
    return np.sum(adjoint, axis=axes, keepdims=True)


def array_vjp(env, function, g, ans, *vals):
    """∂ f(x1, x2, ...)/∂xk at every entry, by the scalar autodiff on whole arrays, times g."""
    shape = np.shape(ans)
    full = {v: np.broadcast_to(np.asarray(x, dtype=float), shape) for v, x in zip(function.variables, vals, strict=True)}
    result = scalar_autodiff.backward(function.expr, list(function.variables), full, nonfinite="propagate")
    if result.fallbacks:
        env.fallbacks.extend(result.fallbacks)
    return [_reduce_to(g * np.asarray(d), x) for d, x in zip(result.grads, vals, strict=True)]


def forward(env, node, *vals):
    """A scalar Lambda on whole arrays, by the scalar evaluation rules (broadcast to the node's
    shape: a body that reads only scalar operands gives one number)."""
    function = node.function
    check_closed(function)
    bound = dict(zip(function.variables, vals, strict=True))
    (out,) = numeric.evaluate([function.expr], bound, env.ops)
    shape = env.shape(node)
    return out if tuple(np.shape(out)) == shape else out + env.ops.full(shape, 0.0)


def linear(function, node, ops, ks):
    """Σ_k ∂f/∂x_k ⊙ K_k, for f linear in the operands that depend on the direction."""
    function = canonical_lambda(function)
    body, variables = function.expr, function.variables
    dep = [v for v, k in zip(variables, ks, strict=True) if k is not None]
    if body.xreplace(dict.fromkeys(dep, sp.S.Zero)) != 0:
        raise NotLinear(f"{str(node)[:60]} is not zero at a zero direction (affine, not linear)")
    terms = []
    for var, k in zip(variables, ks, strict=True):
        if k is None:
            continue
        d = sp.diff(body, var)
        if d.free_symbols & set(dep):
            raise NotLinear(f"{str(node)[:60]} is not linear in the direction ({body} in {var})")
        if d.is_number:  # c·K: a scaled matrix (2·Mᵀ·M, one syrk, not Mᵀ·(2 ⊙ M))
            terms.append(matmul(d, k))
            continue
        others = [as_column(o) for o in ops]
        terms.append(emap(K * d, (K, *variables), k, *others))
    return add(*terms)


def _record(cls, ops):
    """The record of an entrywise class whose operands `ops(node)` are the Lambda's arguments."""
    return add_record(MatrixPrimitive(
        cls,
        operands=ops,
        adjoint=lambda node, G: adjoints(node.function, node, list(ops(node)), G),
        array_vjp=lambda env, node, g, ans, *xs: array_vjp(env, node.function, g, ans, *xs),
        forward=forward,
        tangent=lambda node, ts: tangent(node.function, node, list(ops(node)), ts),
        linear=lambda node, ks: linear(node.function, node, list(ops(node)), ks),
        lower=lambda low, node: low.entrywise(node, lambda *refs: node.function(*refs)),
    ))


_record(ElementwiseApplyFunction, lambda n: (n.expr,))
_record(Map, lambda n: n.operands)
