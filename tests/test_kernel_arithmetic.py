"""Generated kernels do IEEE arithmetic on every batch path, then apply the nonfinite= policy.

Python floats raise where numpy returns inf or NaN (1/0.0, 10.0**400, math.log(0)) and return a
complex number for a negative base to a fractional power; `oo` and `nan` once printed as the bare
names `inf`/`nan`. Whatever the model does at whatever values, a kernel returns the IEEE results
(nonfinite="propagate") or our NonFiniteError ("raise"), the same on the per-sample loop (batches of
at most LOOP_MAX) and the vectorized path, and a non-real constant is our error at compile time.
"""

import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.errors import DTypeError, NonFiniteError
from symgrad.matrix import SumAll
from symgrad.targets.numpy.scalar import LOOP_MAX

w, x = sp.symbols("w x")

UNARY = [
    lambda u: 1 / u, lambda u: u**-2, lambda u: u**sp.Rational(1, 2), lambda u: u**sp.Rational(1, 3),
    lambda u: u**sp.Float(1.5), lambda u: sp.log(u), lambda u: sp.exp(u), lambda u: sp.exp(sp.exp(u)),
    lambda u: u**w, lambda u: sp.asin(u), lambda u: sp.tan(u), lambda u: u**2,
]
LEAVES = [w, x, w * x, x - w, 1 / w, w**sp.Rational(1, 2)]  # parameter-only terms are computed once


def expressions():
    leaf = st.sampled_from(LEAVES)
    unary = st.tuples(st.sampled_from(UNARY), leaf).map(lambda t: t[0](t[1]))
    term = st.one_of(leaf, unary)
    combined = st.tuples(term, term, st.sampled_from([sp.Add, sp.Mul])).map(lambda t: t[2](t[0], t[1]))
    constant = st.sampled_from([0, sp.oo, -sp.oo, sp.nan])
    return st.tuples(st.one_of(term, combined), constant).map(lambda t: t[0] + t[1] * x if t[1] else t[0])


def _calls(kernel, values, policy):
    return {
        "loss": lambda: kernel.loss(values, nonfinite=policy),
        "loss_and_grad": lambda: kernel.loss_and_grad(values, nonfinite=policy),
        "predict": lambda: kernel.predict(values, nonfinite=policy),
        "per_sample_grad": lambda: kernel.per_sample_grad(values, nonfinite=policy),
    }


def _flat(result):
    if isinstance(result, tuple):
        return np.concatenate([np.ravel(np.asarray(r, dtype=float)) for r in (result[0], *result[1])])
    if isinstance(result, list):
        return np.concatenate([np.ravel(r) for r in result])
    return np.ravel(np.asarray(result, dtype=float))


@settings(max_examples=60, deadline=None)
@given(expressions(), st.sampled_from([0.0, -1.0, 0.5, 1e3, -1e3]),
       st.lists(st.sampled_from([0.0, -1.0, 2.0, 800.0, 1e-300]), min_size=1, max_size=3),
       st.sampled_from([3, LOOP_MAX + 14]))
def test_kernels_follow_the_policy_and_agree_across_batch_paths(expr, w_value, pattern, n):
    kernel = symgrad.compile(expr, wrt=[w], inputs=[x], outputs=[expr], cache=False)
    values = {w: w_value, x: np.resize(np.array(pattern), n)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own notes on inf/NaN
        for name, call in _calls(kernel, values, "propagate").items():
            result = _flat(call())
            raising = _calls(kernel, values, "raise")[name]
            if np.all(np.isfinite(result)):
                np.testing.assert_array_equal(_flat(raising()), result)
            else:
                with pytest.raises(NonFiniteError):
                    raising()
        args = kernel.arguments(values, "propagate")
        loop = _flat(kernel.module.loss_and_grad(*args))  # the loop when n <= LOOP_MAX
        vectorized = _flat(kernel.module.loss_and_grad_vectorized(*args))
    np.testing.assert_allclose(loop, vectorized, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("constant", [sp.oo, -sp.oo, sp.nan])
@pytest.mark.parametrize("n", [3, LOOP_MAX + 14])
def test_infinite_and_nan_constants_print_as_numbers(constant, n):
    kernel = symgrad.compile(w * x + constant, wrt=[w], inputs=[x], cache=False)
    value, (grad,) = kernel.loss_and_grad({w: 1.0, x: np.ones(n)}, nonfinite="propagate")
    np.testing.assert_equal(value, float(constant))
    assert grad == (n if constant is not sp.nan else 0)  # sympy: w*x + nan is nan, a constant
    with pytest.raises(NonFiniteError, match="for loss from"):
        kernel.loss({w: 1.0, x: np.ones(n)})


@pytest.mark.parametrize("n", [3, LOOP_MAX + 14])
@pytest.mark.parametrize(("expr", "w_value"), [(x / w, 0.0), (w ** sp.Rational(1, 2) * x, -1.0), (x * 10 ** (w * 400), 1.0)])
def test_parameter_only_arithmetic_is_ieee_on_every_entry_point(expr, w_value, n):
    """ZeroDivisionError, a complex number and OverflowError on Python floats, once."""
    kernel = symgrad.compile(expr, wrt=[w], inputs=[x], outputs=[expr], cache=False)
    values = {w: w_value, x: np.ones(n)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for call in _calls(kernel, values, "propagate").values():
            assert not np.all(np.isfinite(_flat(call())))
        for call in _calls(kernel, values, "raise").values():
            with pytest.raises(NonFiniteError):
                call()


@pytest.mark.parametrize("expr", [w * x * sp.I, w * x + sp.zoo, sp.sqrt(-2) * w * x, sp.log(-2) * w * x])
def test_a_non_real_constant_is_our_error_at_compile_time(expr):
    with pytest.raises(DTypeError, match="non-real number"):
        symgrad.compile(expr, wrt=[w], inputs=[x], cache=False)


def test_a_non_real_constant_in_a_matrix_model_is_our_error_at_compile_time():
    X, W = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("W", 2, 1)
    with pytest.raises(DTypeError, match="non-real number I"):
        symgrad.compile(SumAll((X * W).applyfunc(lambda t: sp.I * t)), wrt=[W], inputs=[X], cache=False)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cube_root_of_a_negative_base_is_nan_on_every_target(dtype):
    """x**(1/3) is the principal (complex) root for x < 0: NaN in numpy and the loop, and C's cbrt
    (real there) must not give a number the other paths do not."""
    cuda_cases = pytest.importorskip("cuda_cases")
    expr = (w * x) ** sp.Rational(1, 3)
    values = {w: 1.0, x: np.array([-8.0, 8.0, 0.0], dtype=dtype)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (numpy_out,) = symgrad.compile(expr, wrt=[w], inputs=[x], outputs=[expr], dtype=dtype, cache=False).predict(
            values, nonfinite="propagate")
        np.testing.assert_allclose(numpy_out, [np.nan, 2.0, 0.0], rtol=1e-6, equal_nan=True)
        if not cuda_cases.HAVE_CXX:
            pytest.skip("no host C++20 compiler for the CUDA emulation")
        from symgrad.cuda_emu import Backend

        kernel = symgrad.compile(expr, wrt=[w], inputs=[x], outputs=[expr], target="cuda", dtype=dtype, cache=False)
        (cuda_out,) = kernel.on(Backend()).predict(values, nonfinite="propagate")
    np.testing.assert_allclose(cuda_out, numpy_out, rtol=1e-6, equal_nan=True)
