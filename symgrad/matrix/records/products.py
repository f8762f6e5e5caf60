"""Products and sums of matrices: MatMul, MatAdd, Transpose, HadamardProduct, HadamardPower, MatPow.

Each record's adjoint is the product rule written on matrices (C = A·B: Ā = G·Bᵀ, B̄ = Aᵀ·G),
its array VJP the same calculus written again on numpy arrays, its tangent the forward rule
(Ċ = Ȧ·B + A·Ḃ).
"""

import numpy as np
import sympy as sp

from ...primitives.arithmetic import exponent_partial, exponent_slope, product_vjp
from ...primitives.matrix_record import MatrixPrimitive
from ...primitives.registry import add_record
from ..algebra import add, emap, hadamard, matmul, transpose
from ..nodes import SumAll, power_exponent
from .linear_map import NotLinear, as_column, shape, times_scalar_matrix

_G, _T, _Y = sp.Symbol("_g", real=True), sp.Symbol("_t", real=True), sp.Symbol("_y", real=True)


def _sum(terms):
    terms = [t for t in terms if t is not None]
    return add(*terms) if terms else None


def _one_dependent(node, ks):
    dep = [i for i, k in enumerate(ks) if k is not None]
    if len(dep) != 1:
        raise NotLinear(f"{str(node)[:60]} multiplies {len(dep)} factors that depend on the direction (not linear in it)")
    return dep[0]


# MatMul: scalars and matrices multiplied, A·B·C
def _matmul_adjoint(node, G):
    args = node.args
    mats = [i for i, a in enumerate(args) if a.is_Matrix]
    scalars = [a for a in args if not a.is_Matrix]
    out = []
    for i, a in enumerate(args):
        if a.is_Matrix:
            k = mats.index(i)
            left = [transpose(args[j]) for j in reversed(mats[:k])]
            right = [transpose(args[j]) for j in reversed(mats[k + 1 :])]
            out.append(matmul(*scalars, *left, G, *right))
        else:
            rest = matmul(*[b for j, b in enumerate(args) if j != i])
            out.append(SumAll(hadamard(G, rest)))
    return out


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


def _matmul_forward(env, node, *vals):
    scalar, out = None, None
    for arg, v in zip(node.args, vals, strict=True):
        if arg.is_Matrix:
            out = v if out is None else out @ v
        else:
            scalar = v if scalar is None else scalar * v
    return out if scalar is None else scalar * out


def _matmul_tangent(node, tangents):
    args = node.args
    return _sum([matmul(*args[:i], t, *args[i + 1 :]) for i, t in enumerate(tangents) if t is not None])


def _matmul_linear(node, ks):
    i = _one_dependent(node, ks)
    args, k = node.args, ks[i]
    scalars = [a for j, a in enumerate(args) if not a.is_Matrix and j != i]
    if not args[i].is_Matrix:  # a scalar factor s = K·V times the matrix M of the rest
        rest = matmul(*[a for j, a in enumerate(args) if j != i])
        return matmul(as_column(rest), k) if rest.is_Matrix else matmul(rest, k)
    mats = [a for a in args if a.is_Matrix]
    at = [j for j, a in enumerate(args) if a.is_Matrix].index(i)
    left, right = mats[:at], mats[at + 1 :]
    rows, cols = shape(args[i])
    a_rows = left[0].shape[0] if left else rows
    b_cols = right[-1].shape[1] if right else cols
    L = matmul(*left) if left else None
    R = matmul(*right) if right else None
    if cols == 1:  # a column u = K·V: L·u·R
        if b_cols == 1:  # R is 1×1 (or absent): the result is the column L·u·r
            out = matmul(*scalars, *([L] if L is not None else []), k)
            return times_scalar_matrix(out, R) if R is not None else out
        if a_rows == 1:  # L·u is a scalar σ = L·K·V; the result is the row σ·R, its K is Rᵀ·L·K
            return matmul(*scalars, transpose(R), *([L] if L is not None else []), k)
    else:  # a row u, uᵀ = K·V: L·u·R
        if a_rows == 1:  # L is 1×1 (or absent): the result is the row l·u·R, (l·u·R)ᵀ = l·Rᵀ·K·V
            out = matmul(*scalars, *([transpose(R)] if R is not None else []), k)
            return times_scalar_matrix(out, L) if L is not None else out
        if b_cols == 1:  # u·R is a scalar σ = Rᵀ·K·V; the result is the column L·σ
            return matmul(*scalars, L, *([transpose(R)] if R is not None else []), k)
    raise NotLinear(f"{str(node)[:60]} is a {a_rows}×{b_cols} matrix built from the direction")


def _matmul_lower(low, node):
    if sum(a.is_Matrix for a in node.args) == 1:  # a matrix times scalars: entrywise
        low.entrywise(node, lambda *refs: sp.Mul(*refs))
    else:
        low.matmul(node)


add_record(MatrixPrimitive(
    sp.MatMul, adjoint=_matmul_adjoint, array_vjp=_matmul_vjp, forward=_matmul_forward, tangent=_matmul_tangent,
    linear=_matmul_linear, lower=_matmul_lower,
))


# MatAdd: A + B + ...
def _add_forward(env, node, *vals):
    out = vals[0]
    for v in vals[1:]:
        out = out + v
    return out


def _add_linear(node, ks):
    if any(k is None for k in ks):
        raise NotLinear(f"{str(node)[:60]} adds a term that does not depend on the direction")
    return add(*ks)


add_record(MatrixPrimitive(
    sp.MatAdd,
    adjoint=lambda node, G: [G] * len(node.args),
    array_vjp=lambda env, node, g, ans, *xs: [g] * len(xs),
    forward=_add_forward,
    tangent=lambda node, ts: _sum(ts),
    linear=_add_linear,
    lower=lambda low, node: low.entrywise(node, lambda *refs: sp.Add(*refs)),
))


# Transpose: Aᵀ (a view in kernels, never a copy)
add_record(MatrixPrimitive(
    sp.Transpose,
    adjoint=lambda node, G: [transpose(G)],
    array_vjp=lambda env, node, g, ans, x: [g.T],
    forward=lambda env, node, x: x.T,
    tangent=lambda node, ts: transpose(ts[0]),
    linear=lambda node, ks: ks[0],
    lower=lambda low, node: low.transpose(node),
))


# HadamardProduct: A ⊙ B ⊙ ...
def _hadamard_forward(env, node, *vals):
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return out


def _hadamard_tangent(node, tangents):
    args = node.args
    return _sum([hadamard(t, *args[:i], *args[i + 1 :]) for i, t in enumerate(tangents) if t is not None])


def _hadamard_linear(node, ks):
    i = _one_dependent(node, ks)
    names = [sp.Symbol(f"_h{j}", real=True) for j in range(len(node.args))]
    k_symbol = sp.Symbol("_k", real=True)
    body = sp.Mul(*names).xreplace({names[i]: k_symbol})
    others = [as_column(a) for j, a in enumerate(node.args) if j != i]
    return emap(body, (k_symbol, *[n for j, n in enumerate(names) if j != i]), ks[i], *others)


add_record(MatrixPrimitive(
    sp.HadamardProduct,
    adjoint=lambda node, G: [hadamard(G, *(node.args[:i] + node.args[i + 1 :])) for i in range(len(node.args))],
    array_vjp=lambda env, node, g, ans, *xs: product_vjp(g, ans, *xs),
    forward=_hadamard_forward,
    tangent=_hadamard_tangent,
    linear=_hadamard_linear,
    lower=lambda low, node: low.entrywise(node, lambda *refs: sp.Mul(*refs)),
))


# HadamardPower: A∘ᵖ entry by entry, p a scalar
_A, _P = sp.Symbol("_a", real=True), sp.Symbol("_p", real=True)


def _hadamard_power_adjoint(node, G):
    base, p = node.args
    d_base = emap(_G * _P * _A ** (_P - 1), (_G, _A, _P), G, base, p)
    d_p = SumAll(emap(_G * exponent_partial(_Y, _A, _P), (_G, _Y, _A, _P), G, node, base, p))
    return [d_base, d_p]


def _hadamard_power_tangent(node, tangents):
    base, p = node.args
    t_base, t_p = tangents
    terms = []
    if t_base is not None:
        terms.append(emap(_T * _P * _A ** (_P - 1), (_T, _A, _P), t_base, base, p))
    if t_p is not None:
        terms.append(emap(_T * exponent_partial(_Y, _A, _P), (_T, _Y, _A, _P), t_p, node, base, p))
    return _sum(terms)


add_record(MatrixPrimitive(
    sp.HadamardPower,
    adjoint=_hadamard_power_adjoint,
    array_vjp=lambda env, node, g, ans, x, p: [g * p * x ** (p - 1), np.sum(g * exponent_slope(ans, x, p))],
    forward=lambda env, node, x, p: x**p,
    tangent=_hadamard_power_tangent,
    lower=lambda low, node: low.entrywise(node, lambda base, p: sp.Pow(base, p)),
    gaps={"linear": "a power of the direction is not linear in it"},
))


# MatPow: Aⁿ for an integer n ≥ 1 (`nodes.power_exponent`); the exponent is no operand
def _power_adjoint(node, G):
    """Aⁿ = A·A·…·A, so by the product rule ∂/∂A = Σₖ (Aᵀ)ᵏ G (Aᵀ)ⁿ⁻¹⁻ᵏ.

    The powers (Aᵀ)ᵏ = (Aᵀ)ᵏ⁻¹·Aᵀ and G stay nested product nodes (not flattened into each term),
    so the lowering computes each once: n − 2 products for the powers and two per term.
    """
    n, base_t = power_exponent(node), transpose(node.base)
    powers = [None, base_t]
    for _ in range(2, n):
        powers.append(sp.MatMul(powers[-1], base_t))
    terms = []
    for k in range(n):
        factors = [f for f in (powers[k], G, powers[n - 1 - k]) if f is not None]
        terms.append(sp.MatMul(*factors) if len(factors) > 1 else G)
    return [add(*terms)]


def _power_vjp(env, node, g, ans, x):
    """Xⁿ: the product rule over its n factors, Σₖ (Xᵏ)ᵀ g (Xⁿ⁻¹⁻ᵏ)ᵀ, with the powers computed once."""
    n = power_exponent(node)
    powers = [np.eye(x.shape[0])]
    for _ in range(n - 1):
        powers.append(powers[-1] @ x)
    return [sum(powers[k].T @ g @ powers[n - 1 - k].T for k in range(n))]


def _power_forward(env, node, x):
    out = x
    for _ in range(power_exponent(node) - 1):
        out = out @ x
    return out


add_record(MatrixPrimitive(
    sp.MatPow,
    operands=lambda n: (n.base,),
    adjoint=_power_adjoint,
    array_vjp=_power_vjp,
    forward=_power_forward,
    lower=lambda low, node: low.power(node),
    gaps={"tangent": "no forward rule for matrix powers; Hessians of Aⁿ are not derived",
          "linear": "a power of the direction is not linear in it"},
))
