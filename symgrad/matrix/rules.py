"""Symbolic reverse mode over matrix expressions: one adjoint rule per node type.

A rule takes a node and its adjoint G (a matrix expression of the node's shape, or a scalar for
scalar nodes) and returns one adjoint contribution per operand, of that operand's shape:
for C = A·B it returns (G·Bᵀ, Aᵀ·G). Entrywise functions are differentiated by the scalar rule
records (`symgrad.primitives`, sympy's `fdiff` for other functions), with the derivative
written in terms of the function's output where the calculus allows (σ' = y(1 − y)), so the
gradient reuses the forward pass like a textbook backprop does.
"""

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import symbolic
from ..errors import UnsupportedError
from ..primitives.arithmetic import exponent_partial
from ..registry import lookup
from .algebra import add, emap, hadamard, matmul, scale, sum_rows_to, transpose
from .graph import operands, topological
from .nodes import Map, Ones, RowLogSumExp, RowSoftmax, SumAll, Unit, canonical_lambda, power_exponent
from .prepare import prepare

_G, _Y = sp.Symbol("_g", real=True), sp.Symbol("_y", real=True)


def _shape(x):
    return x.shape if x.is_Matrix else ()


def entrywise_adjoints(function, node, ops, G):
    """Adjoints of `ops` for node = function(*ops) entry by entry, broadcast sums included."""
    function = canonical_lambda(function)
    body, variables = function.expr, function.variables
    out = []
    for k, var in enumerate(variables):
        (d,) = symbolic.reverse(body, [var])
        if not body.is_Symbol:
            d = d.xreplace({body: _Y})
        adj = emap(_G * d, (_G, *variables, _Y), G, *ops, node)
        out.append(sum_rows_to(adj, _shape(ops[k])) if _shape(ops[k]) != node.shape else adj)
    return out


def _matmul(node, G):
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


def _matrix_power(node, G):
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


def _hadamard_power(node, G):
    base, p = node.args
    a, q = sp.Symbol("_a", real=True), sp.Symbol("_p", real=True)
    d_base = emap(_G * q * a ** (q - 1), (_G, a, q), G, base, p)
    d_p = SumAll(emap(_G * exponent_partial(_Y, a, q), (_G, _Y, a, q), G, node, base, p))
    return [d_base, d_p]


def _row_softmax(node, G):
    (z,) = node.args
    s, g, r = (sp.Symbol(n, real=True) for n in ("_s", "_g", "_r"))
    row_dot = matmul(hadamard(G, node), Ones(z.shape[1], 1))
    return [emap(s * (g - r), (s, g, r), node, G, row_dot)]


def _row_lse(node, G):
    """∂ logsumexp(z)/∂z = softmax(z): the lowering reuses the forward pass's shifted exponentials
    and their row sums for it (one exp of the logits, not two)."""
    (z,) = node.args
    g, s = (sp.Symbol(n, real=True) for n in ("_g", "_s"))
    return [emap(g * s, (g, s), G, RowSoftmax(z))]


def _indexed_sum(node, G):
    raise UnsupportedError(
        f"cannot differentiate the index sum {str(node)[:60]}: indexing a matrix product with symbolic sizes "
        "expands it into a Sum; index with concrete sizes, or use symgrad.matrix.SumAll / MatrixElement(expr, i, j)"
    )


# node type -> rule(node, adjoint) -> one contribution per operand (`graph.operands` order)
RULES = {
    sp.MatMul: _matmul,
    sp.MatAdd: lambda node, G: [G] * len(node.args),
    sp.Transpose: lambda node, G: [transpose(G)],
    sp.HadamardProduct: lambda node, G: [hadamard(G, *(node.args[:i] + node.args[i + 1 :])) for i in range(len(node.args))],
    sp.HadamardPower: _hadamard_power,
    sp.MatPow: _matrix_power,
    sp.Inverse: lambda node, G: [scale(-1, matmul(transpose(node), G, transpose(node)))],  # d(A⁻¹) = −A⁻¹ dA A⁻¹
    sp.Trace: lambda node, G: [scale(G, sp.Identity(node.arg.shape[0]))],
    SumAll: lambda node, G: [scale(G, Ones(*node.arg.shape))],
    MatrixElement: lambda node, G: [scale(G, Unit(*node.parent.shape, node.i, node.j))],
    ElementwiseApplyFunction: lambda node, G: entrywise_adjoints(node.function, node, [node.expr], G),
    Map: lambda node, G: entrywise_adjoints(node.function, node, list(node.operands), G),
    RowLogSumExp: _row_lse,
    RowSoftmax: _row_softmax,
    sp.Sum: _indexed_sum,
}


def rule(node):
    if (found := lookup(RULES, node)) is not None:
        return found
    if node.is_Matrix:
        raise UnsupportedError(
            f"no matrix derivative rule for {type(node).__name__} (in {str(node)[:60]}); "
            "register one in symgrad.matrix.rules.RULES"
        )
    return _scalar_rule


def _scalar_rule(node, g):
    out = []
    for local in symbolic.partials(node):
        out.append(g if local == 1 else local if g == 1 else sp.Mul(g, local, evaluate=False))
    return out


def as_scalar_loss(expr):
    """The loss every matrix path takes: prepared (`prepare.prepare`), a matrix meaning the sum of its entries."""
    expr = prepare(expr)
    return SumAll(expr) if expr.is_Matrix else expr


def reverse(expr, wrt, adjoints=None):
    """Adjoints of `wrt` (MatrixSymbols: matrices of their shape; Symbols: scalars) for `expr`.

    `adjoints`, a dict, receives every node's adjoint (lowering names them d_<node>).
    """
    expr = as_scalar_loss(expr)
    order = topological([expr])
    targets = set(wrt)
    needed = set()
    for node in order:
        if node in targets or any(c in needed for c in operands(node)):
            needed.add(node)
    contributions = {expr: [sp.S.One]}
    adjoint = {} if adjoints is None else adjoints
    for node in reversed(order):
        terms = contributions.pop(node, None)
        if terms is None:
            continue
        adjoint[node] = adj = add(*terms)
        ops = operands(node)
        if node in targets or not ops:
            continue
        for arg, contribution in zip(ops, rule(node)(node, adj), strict=True):
            if arg in needed and contribution is not None:
                contributions.setdefault(arg, []).append(contribution)
    return [adjoint.get(w, sp.ZeroMatrix(*w.shape) if w.is_Matrix else sp.S.Zero) for w in wrt]
