"""The matrix of a linear map, read off its expression: K with E(V) = K·V, one rule per node type.

A Hessian-vector product H·V is an expression linear in the direction V (n×1); its Hessian is the
n×n matrix K of that map. Rules carry, for every node that depends on V, the matrix K of that
node: a column u (m×1) or a scalar is u = K·V (K is m×n, 1×n); a row u (1×m) is uᵀ = K·V.
So (A·u) has K_A·u = A·K_u, the entrywise product d ⊙ u has d ⊙ K_u (d broadcast along the
directions: diag(d)·K_u without forming the diagonal), Σ u has 1ᵀ·K_u, and a column times a
scalar s has u·K_s (an outer product). Nodes that are neither rows nor columns have no such K;
for them use `hvp`.
"""

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from ..errors import UnsupportedError
from ..registry import lookup
from .algebra import add, emap, matmul, transpose
from .graph import operands, topological
from .nodes import Map, Ones, SumAll, Unit, canonical_lambda

_K = sp.Symbol("_k", real=True)


class NotLinear(UnsupportedError):
    """The expression is not linear in the direction (or not a row/column chain of it)."""


def _shape(x):
    return tuple(x.shape) if x.is_Matrix else (sp.S.One, sp.S.One)


def _column(x):
    """An independent operand as the column it contributes per direction (rows transposed)."""
    if not x.is_Matrix:
        return x
    rows, cols = x.shape
    if cols == 1:
        return x
    if rows == 1:
        return transpose(x)
    raise NotLinear(f"{str(x)[:60]} is a {rows}×{cols} matrix among row and column values")


def _check_vector(node):
    rows, cols = _shape(node)
    if rows != 1 and cols != 1:
        raise NotLinear(
            f"{str(node)[:60]} ({rows}×{cols}) depends on the direction but is neither a row nor a column; "
            "the Hessian needs an n×1 parameter whose gradient is built from rows and columns (use hvp otherwise)"
        )


def _times_scalar_matrix(k, s):
    """K times a 1×1 matrix (or scalar) s, as an entrywise product (a 1×1 does not multiply m×n)."""
    if not getattr(s, "is_Matrix", False):
        return matmul(s, k)
    return emap(_K * sp.Symbol("_s", real=True), (_K, sp.Symbol("_s", real=True)), k, s)


def _matmul(node, ks):
    dep = [i for i, k in enumerate(ks) if k is not None]
    if len(dep) != 1:
        raise NotLinear(f"{str(node)[:60]} multiplies {len(dep)} factors that depend on the direction (not linear in it)")
    (i,) = dep
    args, k = node.args, ks[i]
    scalars = [a for j, a in enumerate(args) if not a.is_Matrix and j != i]
    if not args[i].is_Matrix:  # a scalar factor s = K·V times the matrix M of the rest
        rest = matmul(*[a for j, a in enumerate(args) if j != i])
        return matmul(_column(rest), k) if rest.is_Matrix else matmul(rest, k)
    mats = [a for a in args if a.is_Matrix]
    at = [j for j, a in enumerate(args) if a.is_Matrix].index(i)
    left, right = mats[:at], mats[at + 1 :]
    rows, cols = _shape(args[i])
    a_rows = left[0].shape[0] if left else rows
    b_cols = right[-1].shape[1] if right else cols
    L = matmul(*left) if left else None
    R = matmul(*right) if right else None
    if cols == 1:  # a column u = K·V: L·u·R
        if b_cols == 1:  # R is 1×1 (or absent): the result is the column L·u·r
            out = matmul(*scalars, *([L] if L is not None else []), k)
            return _times_scalar_matrix(out, R) if R is not None else out
        if a_rows == 1:  # L·u is a scalar σ = L·K·V; the result is the row σ·R, its K is Rᵀ·L·K
            return matmul(*scalars, transpose(R), *([L] if L is not None else []), k)
    else:  # a row u, uᵀ = K·V: L·u·R
        if a_rows == 1:  # L is 1×1 (or absent): the result is the row l·u·R, (l·u·R)ᵀ = l·Rᵀ·K·V
            out = matmul(*scalars, *([transpose(R)] if R is not None else []), k)
            return _times_scalar_matrix(out, L) if L is not None else out
        if b_cols == 1:  # u·R is a scalar σ = Rᵀ·K·V; the result is the column L·σ
            return matmul(*scalars, L, *([transpose(R)] if R is not None else []), k)
    raise NotLinear(f"{str(node)[:60]} is a {a_rows}×{b_cols} matrix built from the direction")


def _entrywise(function, node, ops, ks):
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
        others = [_column(o) for o in ops]
        terms.append(emap(_K * d, (_K, *variables), k, *others))
    return add(*terms)


def _hadamard(node, ks):
    dep = [i for i, k in enumerate(ks) if k is not None]
    if len(dep) != 1:
        raise NotLinear(f"{str(node)[:60]} multiplies {len(dep)} factors that depend on the direction (not linear in it)")
    (i,) = dep
    names = [sp.Symbol(f"_h{j}", real=True) for j in range(len(node.args))]
    body = sp.Mul(*names).xreplace({names[i]: _K})
    others = [_column(a) for j, a in enumerate(node.args) if j != i]
    return emap(body, (_K, *[n for j, n in enumerate(names) if j != i]), ks[i], *others)


def _sum_all(node, ks):
    rows, cols = _shape(node.arg)
    return matmul(Ones(1, rows if cols == 1 else cols), ks[0])


def _trace(node, ks):
    if _shape(node.arg) != (1, 1):
        raise NotLinear(f"trace of the {node.arg.shape} matrix {str(node.arg)[:60]} built from the direction")
    return ks[0]


def _element(node, ks):
    rows, cols = _shape(node.parent)
    at, length = (node.i, rows) if cols == 1 else (node.j, cols)
    return matmul(Unit(1, length, 0, at), ks[0])


def _affine_scalar(node, ks):
    if isinstance(node, sp.Add):
        if any(k is None and a != 0 for a, k in zip(node.args, ks, strict=True)):
            raise NotLinear(f"{str(node)[:60]} adds a term that does not depend on the direction")
        return add(*[k for k in ks if k is not None])
    if isinstance(node, sp.Mul):
        dep = [i for i, k in enumerate(ks) if k is not None]
        if len(dep) == 1:
            rest = sp.Mul(*[a for j, a in enumerate(node.args) if j != dep[0]])
            return matmul(rest, ks[dep[0]])
    raise NotLinear(f"{type(node).__name__} ({str(node)[:60]}) is not linear in the direction")


def _mat_add(node, ks):
    if any(k is None for k in ks):
        raise NotLinear(f"{str(node)[:60]} adds a term that does not depend on the direction")
    return add(*ks)


# node type -> rule(node, K of each operand or None) -> K of the node
RULES = {
    sp.MatMul: _matmul,
    sp.MatAdd: _mat_add,
    sp.Transpose: lambda node, ks: ks[0],
    sp.HadamardProduct: _hadamard,
    SumAll: _sum_all,
    sp.Trace: _trace,
    MatrixElement: _element,
    ElementwiseApplyFunction: lambda node, ks: _entrywise(node.function, node, [node.expr], ks),
    Map: lambda node, ks: _entrywise(node.function, node, list(node.operands), ks),
    sp.Add: _affine_scalar,
    sp.Mul: _affine_scalar,
}


def rule(node):
    if (found := lookup(RULES, node)) is not None:
        return found
    raise NotLinear(f"{type(node).__name__} ({str(node)[:60]}) of the direction is not linear in it")


def coefficient(expr, direction):
    """K with expr = K·direction (expr a column or scalar; a row: exprᵀ = K·direction).

    `direction` is an n×1 MatrixSymbol that `expr` depends on linearly; K is m×n.
    """
    coef = {}
    for node in topological([expr]):
        if node == direction:
            coef[node] = sp.Identity(direction.shape[0])
            continue
        ks = [coef.get(a) for a in operands(node)]
        if any(k is not None for k in ks):
            _check_vector(node)
            coef[node] = rule(node)(node, ks)
    if expr not in coef:
        rows = _shape(expr)[0] if _shape(expr)[1] == 1 else _shape(expr)[1]
        return sp.ZeroMatrix(rows, direction.shape[0])
    return coef[expr]
