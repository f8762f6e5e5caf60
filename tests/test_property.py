"""Property test: on random expressions built from the supported functions, the symbolic
gradient (reverse mode and sympy.diff), numeric autodiff, the generated kernel and central
finite differences all agree."""

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import autodiff
from symgrad import functions as F
from symgrad.check import batch_total, finite_difference
from symgrad.numeric import evaluate

X = sp.Symbol("x", real=True)
P = sp.symbols("p0 p1 p2", real=True)
LEAVES = [X, *P]

# functions kept to well-conditioned domains so finite differences are a fair reference
UNARY = [
    sp.sin, sp.cos, sp.tanh, sp.atan, F.sigmoid, F.softplus, F.logsigmoid,
    lambda e: sp.exp(sp.tanh(e)),
    lambda e: sp.log(1 + e**2),
    lambda e: sp.sqrt(1 + e**2),
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a * b,
    lambda a, b: a - 2 * b,
    lambda a, b: a / (2 + sp.sin(b)),
    lambda a, b: F.logsumexp(a, b),
]


def expressions():
    leaf = st.sampled_from(LEAVES) | st.sampled_from([sp.Rational(1, 2), sp.Integer(3)])
    return st.recursive(
        leaf,
        lambda sub: st.one_of(
            st.tuples(st.sampled_from(UNARY), sub).map(lambda t: t[0](t[1])),
            st.tuples(st.sampled_from(BINARY), sub, sub).map(lambda t: t[0](t[1], t[2])),
            # shared subexpression: the same subtree used twice
            st.tuples(st.sampled_from(BINARY), sub).map(lambda t: t[0](t[1], F.sigmoid(t[1]))),
        ),
        max_leaves=6,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=expressions(), p=st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_all_derivative_paths_agree(expr, p):
    wrt = list(P)
    values = {X: np.array([-0.7, 0.2, 1.1]), **dict(zip(P, p))}
    ad = autodiff.grad(expr, wrt, values)
    fd = finite_difference(expr, wrt, values)
    batch = (3,) if expr.has(X) else ()  # autodiff sums over the batch the data makes
    for method in ("reverse", "diff"):
        sym = evaluate(symgrad.grad(expr, wrt, method=method), values)
        for s, a in zip(sym, ad):
            np.testing.assert_allclose(batch_total(s, batch, ()), a, rtol=1e-9, atol=1e-9)
    for f, a in zip(fd, ad):
        np.testing.assert_allclose(f, a, rtol=1e-5, atol=1e-6)
    # the kernel always sums the per-sample loss over its 3 samples, data-dependent or not
    kernel = symgrad.compile(expr, wrt=wrt, inputs=[X])
    scale = 1 if batch else 3
    np.testing.assert_allclose(kernel.grad(values), np.multiply(ad, scale), rtol=1e-9, atol=1e-9)
