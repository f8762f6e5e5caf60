"""The stable form belongs to the primitive: every path (kernel, autodiff, check) uses it.

Found by an outside audit: `3*(exp(u) - 1)` escaped the expm1 rewrite (sympy spells it
3*exp(u) - 3) and gave 0 at u = 1e-20; autodiff and `check` evaluated σ(1 − σ) and 1 − tanh² as
written, so σ'(40) came out 0 (true 4.2e-18) where the kernel was right. References are mpmath at
50 digits, never the code under test.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import autodiff
from symgrad import functions as F
from symgrad.check import check
from symgrad.rewrite import stabilize

mpmath.mp.dps = 50
w, x = sp.symbols("w x")


coefficients = st.one_of(
    st.integers(-50, 50).filter(bool).map(sp.Integer),
    st.fractions(min_value=-20, max_value=20, max_denominator=9).filter(bool).map(lambda q: sp.Rational(q.numerator, q.denominator)),
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).filter(lambda v: abs(v) > 1e-3).map(sp.Float),
)


@settings(max_examples=30, deadline=None)
@given(coefficients, st.sampled_from([1e-20, -3e-17, 1e-9]), st.booleans())
def test_scaled_exp_minus_one_is_accurate_at_tiny_arguments(c, u, with_other_term):
    other = 5 * (sp.exp(2 * w * x) - 1) if with_other_term else 0
    loss = c * (sp.exp(w * x) - 1) + other
    assert "expm1" in str(stabilize([loss])[0])
    kernel = symgrad.compile(loss, wrt=[w], inputs=[x], cache=False)
    for n in (3, 30):  # the per-sample loop and the vectorized path
        value, (grad,) = kernel.loss_and_grad({w: 1.0, x: np.full(n, u)})
        cf = float(c)
        true_value = n * (cf * float(mpmath.expm1(u)) + (5 * float(mpmath.expm1(2 * u)) if with_other_term else 0))
        true_grad = n * u * (cf * float(mpmath.exp(u)) + (10 * float(mpmath.exp(2 * u)) if with_other_term else 0))
        assert value == pytest.approx(true_value, rel=1e-12)
        assert grad == pytest.approx(true_grad, rel=1e-12)
        assert kernel.loss({w: 1.0, x: np.full(n, u)}) == pytest.approx(true_value, rel=1e-12)


SIGMOID = (lambda t: 1 / (1 + mpmath.exp(-t)), lambda t: mpmath.exp(-t) / (1 + mpmath.exp(-t)) ** 2)
TAILS = [  # (name, expression, mpmath value, mpmath derivative written without cancellation, points)
    ("sigmoid", F.sigmoid(w), *SIGMOID, [40.0, -40.0, 700.0]),
    ("sigmoid from exp", 1 / (1 + sp.exp(-w)), *SIGMOID, [40.0, 300.0]),
    ("tanh", sp.tanh(w), mpmath.tanh, lambda t: 1 / mpmath.cosh(t) ** 2, [20.0, -40.0, 300.0]),
    ("softplus from log", sp.log(1 + sp.exp(w)), lambda t: mpmath.log(1 + mpmath.exp(t)), SIGMOID[0], [800.0, -40.0]),
]


@pytest.mark.parametrize(("name", "expr", "reference", "derivative", "points"), TAILS, ids=[t[0] for t in TAILS])
def test_every_path_is_accurate_in_the_tails(name, expr, reference, derivative, points):
    kernel = symgrad.compile(expr, wrt=[w], inputs=[], cache=False)
    for at in points:
        true_value, true_grad = float(reference(mpmath.mpf(at))), float(derivative(mpmath.mpf(at)))
        result = autodiff.backward(expr, [w], {w: at})
        assert float(result.value) == pytest.approx(true_value, rel=1e-13), f"autodiff value at {at}"
        assert result.grads[0] == pytest.approx(true_grad, rel=1e-13, abs=1e-300), f"autodiff at {at}"
        value, (grad,) = kernel.loss_and_grad({w: at}, nonfinite="propagate")
        assert value == pytest.approx(true_value, rel=1e-13) and grad == pytest.approx(true_grad, rel=1e-13, abs=1e-300)
        report = check(expr, [w], {w: at})
        (row,) = report.rows
        assert row.symbolic == pytest.approx(true_grad, rel=1e-13, abs=1e-300), f"check's symbolic column at {at}"
        assert row.autodiff == pytest.approx(true_grad, rel=1e-13, abs=1e-300), f"check's autodiff column at {at}"
        assert report.ok  # torch's own tanh backward is 1 − tanh² (0 here): within check's atol


SINC_POINTS = [0.0, -0.0, 5e-324, -1e-300, 1e-20, 1e-9, -1e-4, 0.3, 1.5, 1.99999, 2.0, -2.5, 7.0, 100.0, 1e6]


def _sinc_truth(points):
    """sinc and sinc' at each point by mpmath at 1000 digits (enough for the cancellation at 5e-324)."""
    values, derivatives = [], []
    with mpmath.workdps(1000):
        for p in points:
            m = mpmath.mpf(p)
            if m == 0:
                values.append(1.0), derivatives.append(0.0)
                continue
            values.append(float(mpmath.sin(m) / m))
            derivatives.append(float((m * mpmath.cos(m) - mpmath.sin(m)) / m**2))
    return np.array(values), np.array(derivatives)


def test_sinc_is_finite_and_accurate_at_and_near_zero_on_every_path():
    pts = np.array(SINC_POINTS)
    true_value, true_deriv = _sinc_truth(pts)
    expr = sp.sinc(x + w)  # d/dw = sinc'(x)
    kernel = symgrad.compile(expr, wrt=[w], inputs=[x], outputs=[expr], cache=False)
    vectorized = kernel.per_sample_grad({x: pts, w: 0.0})[:, 0]
    np.testing.assert_allclose(kernel.predict({x: pts, w: 0.0})[0], true_value, rtol=4e-16, atol=0)
    np.testing.assert_allclose(vectorized, true_deriv, rtol=4e-16, atol=1e-300)
    for start in range(len(pts)):  # one sample at a time through the loop: loss and gradient exactly
        value, (grad,) = kernel.loss_and_grad({x: pts[start : start + 1], w: 0.0})
        assert value == pytest.approx(true_value[start], rel=4e-16)
        assert grad == pytest.approx(true_deriv[start], rel=4e-16, abs=1e-300), f"loop at {pts[start]!r}"
    result = autodiff.backward(expr, [w], {x: pts, w: np.zeros_like(pts)})
    np.testing.assert_allclose(result.value, true_value, rtol=4e-16, atol=0)
    np.testing.assert_allclose(result.grads[0], true_deriv, rtol=4e-16, atol=1e-300)
    for p, d in zip(pts, true_deriv, strict=True):
        (row,) = check(sp.sinc(w), [w], {w: float(p)}).rows
        assert row.symbolic == pytest.approx(d, rel=4e-16, abs=1e-300) and row.autodiff == pytest.approx(d, rel=4e-16, abs=1e-300)
        if row.torch is not None:
            assert row.torch == pytest.approx(d, rel=1e-14, abs=1e-300), f"torch column at {p!r}"


def test_sinc_through_the_emulated_cuda_target_is_accurate_near_zero():
    cuda_cases = pytest.importorskip("cuda_cases")
    if not cuda_cases.HAVE_CXX:
        pytest.skip("no host C++20 compiler for the CUDA emulation")
    from symgrad.cuda_emu import Backend

    pts = np.array(SINC_POINTS)
    true_value, true_deriv = _sinc_truth(pts)
    expr = sp.sinc(x + w)
    kernel = symgrad.compile(expr, wrt=[w], inputs=[x], outputs=[expr], target="cuda", cache=False).on(Backend())
    np.testing.assert_allclose(kernel.predict({x: pts, w: 0.0})[0], true_value, rtol=1e-15, atol=0)
    np.testing.assert_allclose(np.asarray(kernel.per_sample_grad({x: pts, w: 0.0}))[:, 0], true_deriv, rtol=1e-15, atol=1e-300)
