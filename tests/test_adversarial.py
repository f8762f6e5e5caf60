"""Hypothesis builds random expressions and every derivative and evaluation path must agree.

The builder draws a sequence of operations over a growing pool of subexpressions, so later
operations reuse earlier ones (shared subexpressions, a DAG rather than a tree) up to a depth.
Checked per example:
- symbolic reverse mode == sympy.diff == numeric autodiff == central finite differences;
- the generated numpy kernel (vectorized and per-sample loop) == sympy evaluated with mpmath at
  50 digits, for the loss and its gradient;
- CSE and no CSE agree: the kernel (our sharing) == sympy's lambdify of the same gradient with
  `cse=True` and with `cse=False` (the sympy#24673 failure mode).
The default run draws DEFAULT examples per test; `-m slow` draws SLOW.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import autodiff
from symgrad import functions as F
from symgrad.check import finite_difference
from symgrad.numeric import evaluate

DEFAULT, SLOW = 150, 2000
x = sp.Symbol("x", real=True)  # data
p, q = sp.symbols("p q", real=True)  # parameters
WRT = [p, q]

# smooth, total operations (no kinks: finite differences must be meaningful); bounded inputs
UNARY = {
    "sin": sp.sin, "cos": sp.cos, "tanh": sp.tanh, "atan": sp.atan,
    "sigmoid": F.sigmoid, "softplus": F.softplus, "logsigmoid": F.logsigmoid,
    "exp_tanh": lambda a: sp.exp(sp.tanh(a)),
    "log1p_sq": lambda a: sp.log(1 + a**2),
    "naive_sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
    "naive_softplus": lambda a: sp.log(1 + sp.exp(sp.tanh(a))),
    "square": lambda a: a**2,
    "neg": lambda a: -a,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "ratio": lambda a, b: a / (1 + b**2),
    "logsumexp": lambda a, b: F.logsumexp(a, b),
    "naive_lse": lambda a, b: sp.log(sp.exp(sp.tanh(a)) + sp.exp(sp.tanh(b))),
}


@st.composite
def expressions(draw, max_ops=7):
    pool = [x, p, q, x * p + q, sp.Rational(draw(st.integers(1, 5)), 2)]
    for _ in range(draw(st.integers(1, max_ops))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(UNARY)))
            a = draw(st.sampled_from(pool))
            node = UNARY[name](a)
        else:
            name = draw(st.sampled_from(sorted(BINARY)))
            a, b = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
            node = BINARY[name](a, b)
        if not node.is_number:
            pool.append(node)
    expr = pool[-1] + sp.Add(*draw(st.lists(st.sampled_from(pool[5:] or [x]), max_size=2)))
    if not expr.free_symbols & set(WRT):
        expr = expr + p * q
    if x not in expr.free_symbols:  # the batch is defined by the data in the expression
        expr = expr + x * p
    return expr


values_st = st.fixed_dictionaries({
    x: st.lists(st.floats(-2, 2), min_size=3, max_size=3).map(np.array),
    p: st.floats(-2, 2),
    q: st.floats(-2, 2),
})


def _close(a, b, rtol, atol):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


def _scale(expr, values):
    return 1.0 + float(np.max(np.abs(evaluate([expr], values)[0])))


def derivative_paths_agree(expr, values):
    bound = {k: np.asarray(v, float) for k, v in values.items()}
    ad = autodiff.backward(expr, WRT, values)
    for method in ("reverse", "diff"):
        sym = evaluate(symgrad.grad(expr, WRT, method=method), bound)
        for s, a in zip(sym, ad.grads, strict=True):
            _close(np.sum(np.broadcast_to(s, bound[x].shape)), a, 1e-9, 1e-9 * _scale(expr, bound))
    fd = finite_difference(expr, WRT, values)
    for f, a in zip(fd, ad.grads, strict=True):
        _close(f, a, 1e-5, 1e-6 * _scale(expr, bound))


def _mpmath_truth(expr, values):
    """Σ_batch expr and its gradient (sympy.diff) from mpmath at 50 digits, our functions by definition."""
    f = sp.lambdify([x, p, q], [expr] + [sp.diff(expr, w) for w in WRT], modules=[MPMATH_FUNCS, "mpmath"])
    with mpmath.workdps(50):
        rows = [f(mpmath.mpf(float(xi)), mpmath.mpf(values[p]), mpmath.mpf(values[q])) for xi in values[x]]
        return [float(sum(r[k] for r in rows)) for k in range(1 + len(WRT))]


MPMATH_FUNCS = {
    "sigmoid": lambda a: 1 / (1 + mpmath.exp(-a)), "softplus": lambda a: mpmath.log(1 + mpmath.exp(a)),
    "logsigmoid": lambda a: -mpmath.log(1 + mpmath.exp(-a)),
    "logsumexp": lambda *a: mpmath.log(sum(mpmath.exp(v) for v in a)),
}
NUMPY_FUNCS = {
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "softplus": lambda a: np.logaddexp(0, a),
    "logsigmoid": lambda a: -np.logaddexp(0, -a), "logsumexp": lambda *a: np.logaddexp(*a),
}


def kernel_matches_mpmath_and_lambdify(expr, values):
    kernel = symgrad.compile(expr, wrt=WRT, inputs=[x], cache=False)
    truth = _mpmath_truth(expr, values)
    scale = 1.0 + max(abs(t) for t in truth)
    big = {x: np.tile(values[x], 7), p: values[p], q: values[q]}  # 21 samples: the vectorized path
    for vals, factor in ((values, 1), (big, 7)):  # 3 samples: the per-sample loop
        loss, grads = kernel.loss_and_grad(vals)
        _close([loss, *grads], [factor * t for t in truth], 1e-9, 1e-10 * factor * scale)
    grads = symgrad.grad(expr, WRT)
    ours = kernel.per_sample_grad(values)
    for cse in (True, False):
        fn = sp.lambdify([x, p, q], grads, modules=[NUMPY_FUNCS, "numpy"], cse=cse)
        theirs = np.stack([np.broadcast_to(g, values[x].shape) for g in fn(values[x], values[p], values[q])], axis=1)
        _close(ours, theirs, 1e-9, 1e-10 * scale)


settings_default = settings(max_examples=DEFAULT, deadline=None, suppress_health_check=list(HealthCheck))
settings_slow = settings(max_examples=SLOW, deadline=None, suppress_health_check=list(HealthCheck))


@settings_default
@given(expressions(), values_st)
def test_derivative_paths_agree(expr, values):
    derivative_paths_agree(expr, values)


@settings_default
@given(expressions(max_ops=5), values_st)
def test_generated_kernel_matches_mpmath_and_sympy_with_and_without_cse(expr, values):
    kernel_matches_mpmath_and_lambdify(expr, values)


@pytest.mark.slow
@settings_slow
@given(expressions(max_ops=10), values_st)
def test_derivative_paths_agree_slow(expr, values):
    derivative_paths_agree(expr, values)


@pytest.mark.slow
@settings_slow
@given(expressions(max_ops=8), values_st)
def test_generated_kernel_matches_mpmath_and_sympy_slow(expr, values):
    kernel_matches_mpmath_and_lambdify(expr, values)
