"""One test per derivative rule: symbolic (reverse and diff), autodiff and finite differences agree.

Each function is composed with an affine inner map so the chain rule is exercised, and evaluated
at points chosen inside its domain.
"""

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1, hypot, log1p

import symgrad
from symgrad import autodiff
from symgrad import functions as F
from symgrad.check import batch_total, finite_difference
from symgrad.numeric import evaluate
from symgrad.primitives import RECORDS

x, a, b = sp.symbols("x a b", real=True)
u = a * x + b  # inner map

UNARY = {
    "exp": sp.exp(u),
    "log": sp.log(u),
    "sin": sp.sin(u),
    "cos": sp.cos(u),
    "tan": sp.tan(u),
    "asin": sp.asin(u / 4),
    "acos": sp.acos(u / 4),
    "atan": sp.atan(u),
    "sinh": sp.sinh(u),
    "cosh": sp.cosh(u),
    "tanh": sp.tanh(u),
    "erf": sp.erf(u),
    "erfc": sp.erfc(u),
    "atan2": sp.atan2(u, x - 1),  # both signs of x - 1
    "asinh": sp.asinh(u),
    "acosh": sp.acosh(u + 1),
    "atanh": sp.atanh(u / 4),
    "hypot": hypot(u, x - 1),
    "sinc": sp.sinc(u * 3 - 2),  # both sides of the series' range
    "dsinc": F.dsinc(u * 3 - 2),
    "d2sinc": F.d2sinc(u * 3 - 2),
    "abs": sp.Abs(u),
    "sigmoid": F.sigmoid(u),
    "relu": F.relu(u),
    "softplus": F.softplus(u),
    "logsigmoid": F.logsigmoid(u),
    "gelu": F.gelu(1 - 2 * u),
    "silu": F.silu(1 - 2 * u),
    "elu": F.elu(1 - u, a),  # both sides of the kink; the parameter's derivative too
    "leaky_relu": F.leaky_relu(1 - u, a / 10),
    "softsign": F.softsign(1 - 2 * u),
    "mish": F.mish(1 - 2 * u),
    "sqrt": sp.sqrt(u),
    "pow_int": u**3,
    "pow_neg": u ** (-2),
    "pow_sym": u**a,
    "mul": u * sp.sin(x) * a,
    "add": u + x**2 + 3,
    "logsumexp": F.logsumexp(u, 2 * x, -x),
    "log1p": log1p(u),
    "expm1": expm1(u),
    "max": sp.Max(u, x**2),
    "min": sp.Min(u, x**2),
}

VALUES = {x: np.array([0.3, 0.7, 1.1, 1.6]), a: 0.9, b: 0.25}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_rule_three_way(name):
    expr = UNARY[name]
    wrt = [a, b, x]
    ad = autodiff.grad(expr, wrt, VALUES)
    fd = finite_difference(expr, wrt, VALUES)
    for method in ("reverse", "diff"):
        sym = symgrad.grad(expr, wrt, method=method)
        vals = evaluate(sym, {k: np.asarray(v, float) for k, v in VALUES.items()})
        for w, s, d in zip(wrt, vals, ad):
            s = batch_total(s, (4,), np.shape(VALUES[w]))
            np.testing.assert_allclose(s, d, rtol=1e-12, atol=1e-12, err_msg=f"{name} {method} d/d{w}")
    for w, f, d in zip(wrt, fd, ad):
        np.testing.assert_allclose(f, d, rtol=1e-6, atol=1e-7, err_msg=f"{name} finite differences d/d{w}")


def test_every_registered_rule_is_covered():
    covered = {type(n) for e in UNARY.values() for n in sp.preorder_traversal(e)}
    missing = {cls.__name__ for cls, r in RECORDS.items() if r.vjp} - {c.__name__ for c in covered}
    # Heaviside, sign and Piecewise have their own tests (zero derivative / branch routing)
    assert missing <= {"Heaviside", "sign", "Piecewise", "ExprCondPair"}, missing


def test_zero_derivative_functions():
    expr = sp.Heaviside(u, 0) * x + sp.sign(u)
    ad = autodiff.grad(expr, [a, x], VALUES)
    # d/da: the step has zero derivative away from the kink; d/dx: Heaviside(u)
    assert ad[0] == 0.0
    np.testing.assert_allclose(ad[1], (0.9 * VALUES[x] + 0.25 > 0).astype(float))


def test_piecewise_routes_adjoint_to_selected_branch():
    expr = sp.Piecewise((x**2, x < 1), (3 * x, True))
    ad = autodiff.grad(expr, [x], VALUES)[0]
    want = np.where(VALUES[x] < 1, 2 * VALUES[x], 3.0)
    np.testing.assert_allclose(ad, want)


def test_shared_subexpression_gets_every_contribution():
    """The classic tutorial-engine bug: a node used twice must receive both adjoints."""
    s = sp.exp(a * x)
    expr = s * s + s  # d/da = (2 e^{2ax} + e^{ax}) x
    xv = VALUES[x]
    (g,) = autodiff.grad(expr, [a], {x: xv, a: 0.9})
    np.testing.assert_allclose(g, np.sum((2 * np.exp(1.8 * xv) + np.exp(0.9 * xv)) * xv))


def test_unregistered_function_falls_back_and_says_so():
    class cube(sp.Function):
        def fdiff(self, argindex=1):
            return 3 * self.args[0] ** 2

    symgrad.register(cube, evaluate=lambda b, v: v**3)
    try:
        result = autodiff.backward(cube(u), [a], VALUES)
        assert result.fallbacks == ["cube"]
        want = np.sum(3 * (0.9 * VALUES[x] + 0.25) ** 2 * VALUES[x])
        np.testing.assert_allclose(result.grads[0], want)
    finally:
        del RECORDS[cube]


def test_unknown_node_type_is_our_error():
    expr = sp.Integral(x * a, (x, 0, 1))
    with pytest.raises(symgrad.UnsupportedError, match="Integral"):
        autodiff.grad(expr, [a], {a: 1.0})


def test_plain_sympy_sigmoid_matches_ours():
    z = a * x + b
    hand = 1 / (1 + sp.exp(-z))
    g_hand = autodiff.grad(hand, [a, b], VALUES)
    g_ours = autodiff.grad(F.sigmoid(z), [a, b], VALUES)
    np.testing.assert_allclose(g_hand, g_ours, rtol=1e-13)
