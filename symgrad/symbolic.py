"""Symbolic gradients: reverse mode over the expression DAG (default) or sympy's `diff`.

Reverse mode builds each node's adjoint as a sympy expression from its consumers' adjoints and a
table of local partial derivatives. The partials reuse the node itself where the calculus allows
(d exp(x) = exp(x), dσ = σ(1 − σ), d tanh = 1 − tanh²), so the gradient shares the forward pass's
subexpressions and its DAG stays within a small constant of the forward cost. Per-parameter
`sympy.diff` is kept for printing derivations and as an independent comparison path.
"""

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from . import functions as F
from .dag import depends_on, gc_paused, topological
from .errors import InvalidArgumentError, UnsupportedError
from .matrix.graph import is_matrix
from .registry import lookup
from .values import as_expr, as_symbol_list

METHODS = ("reverse", "diff")


def built(node):
    """`node` with its hash cached now, while its operands' hashes are (O(1), no deep recursion)."""
    hash(node)
    return node


def mul(*factors):
    """An unevaluated product: no flattening into shared operands, no assumption queries."""
    factors = [f for f in factors if f is not sp.S.One]
    if any(f is sp.S.Zero for f in factors):
        return sp.S.Zero
    if not factors:
        return sp.S.One
    # _from_args: sympy's constructor for already-canonical operands (skips its cache and checks)
    return factors[0] if len(factors) == 1 else built(sp.Mul._from_args(factors))


def add(*terms):
    """An unevaluated sum (zero terms dropped)."""
    terms = [t for t in terms if t is not sp.S.Zero]
    if not terms:
        return sp.S.Zero
    return terms[0] if len(terms) == 1 else built(sp.Add._from_args(terms))


def neg(x):
    return mul(sp.S.NegativeOne, x)


def power(base, exponent):
    if exponent is sp.S.One:
        return base
    if exponent is sp.S.Zero:
        return sp.S.One
    return built(sp.Pow(base, exponent, evaluate=False))


def call(func, *args):
    """`func(*args)` unevaluated: sympy's `eval` would query assumptions down the whole depth."""
    return built(func(*args, evaluate=False))


def _mul_partials(node):
    args = node.args
    return [mul(*(args[:i] + args[i + 1 :])) for i in range(len(args))]


def exponent_partial(node, base, exponent):
    """∂(b^e)/∂e = b^e·log b: NaN for b < 0 (log b), 0 at b = 0 (as autodiff and torch for e ≥ 0).

    At b = 0 with e < 0 the value b^e is infinite already, which the non-finite policy reports.
    """
    return sp.Piecewise((0, sp.Eq(base, 0)), (mul(node, call(sp.log, base)), True))


def _pow_partials(node):
    base, exponent = node.args
    if exponent.is_Number:
        return [mul(exponent, power(base, exponent - 1)), sp.S.Zero]
    return [mul(exponent, power(base, add(exponent, sp.S.NegativeOne))), exponent_partial(node, base, exponent)]


def _extremum_partials(node, above):
    """Subgradient convention shared with autodiff: the first argument attaining the extremum."""
    args, out = node.args, []
    for i, ai in enumerate(args):
        term = sp.S.One
        for j, aj in enumerate(args):
            if j != i:
                gap = ai - aj if above else aj - ai
                term *= sp.Heaviside(gap, 0 if j < i else 1)
        out.append(term)
    return out


def _piecewise_partials(node):
    """∂/∂(branch i) is the indicator that branch i is the first whose condition holds.

    Without a default branch the indicator is itself undefined (NaN) where no condition holds.
    """
    conds = [cond for _, cond in node.args]
    otherwise = sp.true if conds[-1] == sp.true else sp.Or(*conds)
    out, earlier = [], []
    for cond in conds:
        chosen = sp.And(cond, *[sp.Not(c) for c in earlier])
        out.append(sp.Piecewise((1, chosen), (0, otherwise)))
        earlier.append(cond)
    return out


# node type -> partials(node) -> list of ∂node/∂arg_i (sympy expressions)
PARTIALS = {
    sp.Add: lambda n: [sp.S.One] * len(n.args),
    sp.Mul: _mul_partials,
    sp.Pow: _pow_partials,
    sp.exp: lambda n: [n],
    sp.log: lambda n: [power(n.args[0], sp.S.NegativeOne)],
    sp.tanh: lambda n: [add(sp.S.One, neg(power(n, 2)))],
    # subgradient convention at the kink, shared with autodiff and generated code: d|x| = sign(x)
    # (0 at 0); steps are flat (the Dirac delta at the jump is dropped)
    sp.Abs: lambda n: [call(sp.sign, n.args[0])],
    sp.Heaviside: lambda n: [sp.S.Zero] * len(n.args),
    sp.sign: lambda n: [sp.S.Zero],
    F.sigmoid: lambda n: [mul(n, add(sp.S.One, neg(n)))],
    F.softplus: lambda n: [call(F.sigmoid, n.args[0])],
    F.logsigmoid: lambda n: [call(F.sigmoid, neg(n.args[0]))],
    F.relu: lambda n: [call(sp.Heaviside, n.args[0], sp.S.Zero)],
    sp.sinc: lambda n: [call(F.dsinc, n.args[0])],  # sympy's (x cos x − sin x)/x² is 0/0 at 0
    F.logsumexp: lambda n: [call(sp.exp, add(a, neg(n))) for a in n.args],
    sp.Max: lambda n: _extremum_partials(n, above=True),
    sp.Min: lambda n: _extremum_partials(n, above=False),
    sp.Piecewise: _piecewise_partials,
    ExprCondPair: lambda n: [sp.S.One, sp.S.Zero],
}


def partials(node):
    """Local partial derivatives of `node` with respect to each of its arguments."""
    if (found := lookup(PARTIALS, node)) is not None:
        return found(node)
    if isinstance(node, sp.Function):
        try:
            out = [node.fdiff(i + 1) for i in range(len(node.args))]
        except Exception:  # noqa: BLE001 - sympy signals "no derivative" many ways
            out = None
        if out is not None and not any(d.has(sp.Derivative, sp.Subs) for d in out):
            return out
    raise UnsupportedError(
        f"cannot differentiate {type(node).__name__} (in {str(node)[:60]}) symbolically; "
        "register its partials in symgrad.symbolic.PARTIALS"
    )


@gc_paused()
def adjoints(expr, wrt, seed=sp.S.One):
    """∂expr/∂node for every node between `expr` and `wrt` (a dict), by symbolic reverse mode.

    The derivation documents read the adjoints of inner nodes (the δ terms) from here.
    """
    needed = depends_on([expr], wrt)
    targets = set(wrt)
    contributions = {expr: [seed]}
    adjoint = {}
    for node in reversed(topological([expr])):
        terms = contributions.pop(node, None)
        if terms is None:
            continue
        adj = add(*terms)
        adjoint[node] = adj
        if node in targets or not node.args or adj is sp.S.Zero:
            continue
        for arg, local in zip(node.args, partials(node), strict=True):
            if arg in needed:
                # unevaluated, so sympy does not flatten the shared adjoint into each product
                term = mul(adj, local)
                if term is not sp.S.Zero:
                    contributions.setdefault(arg, []).append(term)
    return adjoint


def reverse(expr, wrt, seed=sp.S.One):
    """Adjoints of `wrt` for `expr` by symbolic reverse mode (a list of sympy expressions)."""
    adjoint = adjoints(expr, wrt, seed)
    return [adjoint.get(w, sp.S.Zero) for w in wrt]


def grad(expr, wrt, method="reverse", simplify=False):
    """Symbolic gradient of `expr` with respect to each symbol in `wrt` (a list, `wrt` order).

    method="reverse" (default) shares subexpressions between the forward pass and all gradient
    entries; method="diff" differentiates each entry separately with `sympy.diff`, which reads
    better for small models and swells for large ones. `simplify=True` applies sympy's cheap
    `factor_terms` to each entry (for printing). The scalar engine: `symgrad.grad` also takes
    matrix-level expressions.
    """
    expr = as_expr(expr)
    wrt = as_symbol_list(wrt)
    if is_matrix(expr) or any(isinstance(w, sp.MatrixSymbol) for w in wrt):  # no DAG walk: symgrad.grad did one
        raise InvalidArgumentError(
            f"symgrad.symbolic.grad differentiates scalar expressions; {str(expr)[:60]} involves "
            "MatrixSymbols: call symgrad.grad, which hands matrix-level models to symgrad.matrix"
        )
    if method == "reverse":
        out = reverse(expr, wrt)
    elif method == "diff":
        # the Dirac delta of a step's derivative is dropped, as in the reverse-mode table
        out = [sp.diff(expr, w).replace(sp.DiracDelta, lambda *args: sp.S.Zero) for w in wrt]
    else:
        raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
    return [sp.factor_terms(g) for g in out] if simplify else out
