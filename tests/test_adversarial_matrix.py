"""Hypothesis at the matrix level: random matrix expressions over parameters A, B and data X.

The builder draws operations over growing pools of 3×3 and N×3 subexpressions (products,
matrix powers, sums, transposes, Hadamard products, entrywise functions, ones matrices inside
products, shared subexpressions), then a loss: the sum of squares of a product, the bare sum of
a product (whose gradient has a ones matrix inside a product), or a trace. Checked per example:
`symgrad.check` (symbolic matrix rules == matrix autodiff == finite differences == torch) and the
generated numpy kernel == matrix autodiff. DEFAULT examples by default, SLOW under `-m slow`.
Bugs this found: no rule for `MatPow` (sympy turns `X*A*A` into `X*A**2`), and a ones matrix
inside a product could not be lowered (`sum(X*A*B)`).
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import autodiff
from symgrad.matrix import SumAll

DEFAULT, SLOW = 300, 2000
N = sp.Symbol("N", integer=True, positive=True)
A, B = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("B", 3, 3)
X = sp.MatrixSymbol("X", N, 3)
WRT = [A, B]
FUNCS = {"tanh": sp.tanh, "sigmoid": symgrad.sigmoid, "softplus": symgrad.softplus, "sin": sp.sin}
MAX_POWER = 6  # sympy merges powers ((B**4)**4 is B**16); beyond this, central differences lose 1e-5


def _modest(expr):
    """Matrix powers small enough for finite differences to be an oracle (the exact paths agreed
    on B**16 to 1e-15; only the difference quotient's truncation error failed its tolerance)."""
    return all(p.exp <= MAX_POWER for p in expr.atoms(sp.MatPow))


SQUARE_OPS = ["matmul", "power", "add", "transpose", "hadamard", "func", "ones_inside"]
BATCH_OPS = ["batch_matmul", "batch_func"]


@st.composite
def matrix_expressions(draw, max_ops=5):
    square = [A, B]  # 3×3 operands
    batch = [X * A]  # N×3 operands
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(SQUARE_OPS + BATCH_OPS))
        a, b = draw(st.sampled_from(square)), draw(st.sampled_from(square))
        if op == "matmul":
            square.append(a * b if _modest(a * b) else a)  # a MatPow when a is b
        elif op == "power":
            power = a ** draw(st.integers(2, 4))
            square.append(power if _modest(power) else a)
        elif op == "add":
            square.append(a + b)
        elif op == "transpose":
            square.append(a.T)
        elif op == "hadamard":
            square.append(sp.HadamardProduct(a, b))
        elif op == "func":
            square.append(a.applyfunc(FUNCS[draw(st.sampled_from(sorted(FUNCS)))]))
        elif op == "ones_inside":
            square.append(sp.MatMul(sp.Rational(1, 3), a, sp.OneMatrix(3, 3), b))
        elif op == "batch_matmul":
            batch.append(draw(st.sampled_from(batch)) * a)
        else:
            batch.append(draw(st.sampled_from(batch)).applyfunc(FUNCS[draw(st.sampled_from(sorted(FUNCS)))]))
    product = draw(st.sampled_from(batch)) * square[-1]
    kind = draw(st.sampled_from(["squares", "bare_sum", "trace"]))
    if kind == "squares":
        return SumAll(sp.HadamardPower(product, 2))
    if kind == "bare_sum":
        return SumAll(product)
    return sp.Trace(square[-1] * draw(st.sampled_from(square))) + SumAll(product) / 4


def _values(seed):
    rng = np.random.default_rng(seed)
    return {A: rng.normal(size=(3, 3)) / 2, B: rng.normal(size=(3, 3)) / 2, X: rng.normal(size=(5, 3))}


def _agree(loss, seed):
    values = _values(seed)
    report = symgrad.check(loss, WRT, values)
    assert report.ok, str(report)
    kernel = symgrad.compile(loss, wrt=WRT, inputs=[X], cache=False)
    value, grads = kernel.loss_and_grad(values)
    expected = autodiff.backward(loss, WRT, values)
    assert value == pytest.approx(float(expected.value), rel=1e-9, abs=1e-9)
    for g, e in zip(grads, expected.grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-9 * (1 + np.max(np.abs(e))))


@settings(max_examples=DEFAULT, deadline=None, suppress_health_check=list(HealthCheck))
@given(matrix_expressions(), st.integers(0, 2**16))
def test_matrix_paths_and_kernel_agree(loss, seed):
    _agree(loss, seed)


@pytest.mark.slow
@settings(max_examples=SLOW, deadline=None, suppress_health_check=list(HealthCheck))
@given(matrix_expressions(max_ops=8), st.integers(0, 2**16))
def test_matrix_paths_and_kernel_agree_slow(loss, seed):
    _agree(loss, seed)


def _expansion_agrees(loss, seed):
    """The generated kernel (shared subexpressions, float64) against the scalar expansion: the loss
    written out entry by entry, differentiated by sympy.diff as trees (no sharing) and evaluated by
    mpmath at 50 digits."""
    import mpmath
    from matrix_expansion import _at, _flat, scalar_expansion_grad

    values = _values(seed)
    kernel = symgrad.compile(loss, wrt=WRT, inputs=[X], cache=False)
    value, grads = kernel.loss_and_grad(values)
    with mpmath.workdps(50):
        flat, _, _, numbers = _flat(loss, WRT, values)
        (ref_value,) = _at([flat], numbers)
        ref_grads = scalar_expansion_grad(loss, WRT, values)
    assert value == pytest.approx(ref_value, rel=1e-9, abs=1e-9)
    for g, e in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-9 * (1 + np.max(np.abs(e))))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(matrix_expressions(max_ops=5), st.integers(0, 2**16))
def test_matrix_kernel_matches_high_precision_expansion_slow(loss, seed):
    _expansion_agrees(loss, seed)
