"""Records of the arithmetic and structural nodes: +, ×, powers, extrema, steps, Piecewise, logic.

Their spellings are the targets' own operators (`PRINTER`); what is recorded here is how each
differentiates and evaluates.
"""

import mpmath
import numpy as np
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from .build import add, call, mul, power
from .record import PRINTER, Primitive, tf_missing
from .registry import add_record

OPERATOR = {"numpy": PRINTER, "loop": PRINTER, "cuda": PRINTER}
STRUCTURE = {"mpmath": "sympy's lambdify prints the operator itself"}


def _choice(x, y):
    """A Piecewise over both branches and its default (the sample the coverage check runs on)."""
    return sp.Piecewise((x * y, x > y), (x + y, True))


def _choose_by(condition):
    """The sample of a condition: a Piecewise choosing by it (a condition alone is no real value)."""
    return lambda x, y: sp.Piecewise((x * y, condition(x, y)), (x + y, True))


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


def product_vjp(g, ans, *xs):
    """g times the product of the other factors, for each factor (entrywise for arrays)."""
    out = []
    for i in range(len(xs)):
        prod = g
        for j, x in enumerate(xs):
            if j != i:
                prod = prod * x
        out.append(prod)
    return out


def exponent_slope(ans, x, e):
    """∂(x^e)/∂e = x^e·log x: NaN for a negative base (x^e is not real near there), 0 at x = 0.

    torch's convention (for e ≥ 0; for e < 0 the value is infinite already); `exponent_partial`
    writes the same as a Piecewise.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, ans * np.log(x))


def _pow_vjp(g, ans, x, e):
    return [g * e * x ** (e - 1), g * exponent_slope(ans, x, e)]


def _extremum_vjp(g, ans, *xs):
    """Subgradient convention: the whole adjoint goes to the first argument attaining the extremum."""
    taken = np.zeros(np.shape(ans), dtype=bool)
    out = []
    for x in xs:
        hit = (x == ans) & ~taken
        taken = taken | hit
        out.append(g * hit)
    return out


def _piecewise_vjp(g, ans, *pairs):
    """The adjoint flows to the first branch whose condition holds; conditions get none.

    Where no condition holds the function is undefined, and so is every branch's adjoint (NaN).
    """
    taken = np.zeros(np.shape(ans), dtype=bool)
    picks = []
    for _, cond in pairs:
        pick = np.asarray(cond, dtype=bool) & ~taken
        taken = taken | pick
        picks.append(pick)
    undefined = np.where(taken, 0.0, np.nan)
    return [g * pick + undefined for pick in picks]


def _zero(g, ans, *xs):
    return [g * 0.0 for _ in xs]


def _fold(op, items):
    out = items[0]
    for item in items[1:]:
        out = op(out, item)
    return out


def maximum(b, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = b.where(x > out, x, out)
    return out


def _min(b, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = b.where(x < out, x, out)
    return out


def _piecewise(b, *pairs):
    """Piecewise((expr_i, cond_i), ...): the first branch whose condition holds; NaN where none does.

    A Piecewise without a default branch is undefined there (sympy says nan), never its last branch.
    """
    value, cond = pairs[-1]
    out = value if cond is True else b.where(cond, value, b.const(np.nan) + 0.0 * value)
    for value, cond in reversed(pairs[:-1]):
        out = b.where(cond, value, out)
    return out


def _step_mpmath(x, h0=0):
    return mpmath.mpf(1) if x > 0 else (mpmath.mpf(h0) if x == 0 else mpmath.mpf(0))


for record in (
    Primitive(sp.Add, partials=lambda n: [sp.S.One] * len(n.args), vjp=lambda g, ans, *xs: [g] * len(xs),
              evaluate=lambda b, *xs: _fold(lambda x, y: x + y, xs), tf=("add", "add_n"), gaps=STRUCTURE | tf_missing("add_n"), **OPERATOR),
    Primitive(sp.Mul, partials=_mul_partials, vjp=product_vjp, evaluate=lambda b, *xs: _fold(lambda x, y: x * y, xs),
              tf=("multiply",), gaps=STRUCTURE, **OPERATOR),
    Primitive(sp.Pow, partials=_pow_partials, vjp=_pow_vjp, evaluate=lambda b, x, e: x**e, tf=("pow",),
              gaps=STRUCTURE, domain=((0.2, 2.0), (-2.0, 2.0)), **OPERATOR),
    Primitive(sp.Max, partials=lambda n: _extremum_partials(n, above=True), vjp=_extremum_vjp, evaluate=maximum,
              mpmath=lambda *xs: max(xs), tf=("maximum",), **OPERATOR),
    Primitive(sp.Min, partials=lambda n: _extremum_partials(n, above=False), vjp=_extremum_vjp, evaluate=_min,
              mpmath=lambda *xs: min(xs), tf=("minimum",), **OPERATOR),
    # subgradient convention at the kink, shared by every path: d|x| = sign(x) (0 at 0); steps are
    # flat (the Dirac delta at the jump is dropped)
    Primitive(sp.Abs, partials=lambda n: [call(sp.sign, n.args[0])], vjp=lambda g, ans, x: [g * np.sign(x)],
              evaluate=lambda b, x: b.xp.abs(x), mpmath=lambda x: abs(x), tf=("abs",), **OPERATOR),
    Primitive(sp.sign, partials=lambda n: [sp.S.Zero], vjp=_zero, evaluate=lambda b, x: b.xp.sign(x),
              mpmath=lambda x: mpmath.sign(x), tf=("sign",), **OPERATOR),
    Primitive(sp.Heaviside, partials=lambda n: [sp.S.Zero] * len(n.args), vjp=_zero,
              evaluate=lambda b, x, h0=0.5: b.heaviside(x, float(h0)), mpmath=_step_mpmath,
              gaps={"tf": "TensorFlow has no step function"}, **OPERATOR),
    Primitive(sp.Piecewise, partials=_piecewise_partials, vjp=_piecewise_vjp, evaluate=_piecewise, tf=("where",),
              gaps=STRUCTURE | tf_missing("where"), sample=_choice, **OPERATOR),
    Primitive(ExprCondPair, partials=lambda n: [sp.S.One, sp.S.Zero], vjp=lambda g, ans, value, cond: [g, None],
              evaluate=lambda b, value, cond: (value, cond), sample=_choice,
              gaps=STRUCTURE | {"tf": "a branch of a Piecewise (tf.where), not an op of its own"}, **OPERATOR),
):
    add_record(record)

# comparisons and logic: values only (conditions of a Piecewise; no derivative flows through them)
_NO_DERIVATIVE = {"symbolic": "a condition: no derivative flows through it", "vjp": "a condition", **STRUCTURE,
                  "tf": "symgrad.tf computes comparisons and logic on the host (numpy), outside the traced kernel"}
for cls, rule, condition in (
    (sp.StrictGreaterThan, lambda b, x, y: x > y, lambda x, y: x > y),
    (sp.GreaterThan, lambda b, x, y: x >= y, lambda x, y: x >= y),
    (sp.StrictLessThan, lambda b, x, y: x < y, lambda x, y: x < y),
    (sp.LessThan, lambda b, x, y: x <= y, lambda x, y: x <= y),
    (sp.Equality, lambda b, x, y: x == y, lambda x, y: sp.Eq(x, -x)),  # true at x = 0 only: no sample point
    (sp.Unequality, lambda b, x, y: x != y, lambda x, y: sp.Ne(x, -x)),
    (sp.And, lambda b, *cs: _fold(b.xp.logical_and, cs), lambda x, y: sp.And(x > 0, y > 0)),
    (sp.Or, lambda b, *cs: _fold(b.xp.logical_or, cs), lambda x, y: sp.Or(x > 0, y > 0)),
    (sp.Not, lambda b, c: b.xp.logical_not(b.xp.as_tensor(c) if b.xp is not np else c),
     lambda x, y: sp.Not(sp.And(x > 0, y > 0))),
):
    add_record(Primitive(cls, evaluate=rule, gaps=_NO_DERIVATIVE, sample=_choose_by(condition), **OPERATOR))
