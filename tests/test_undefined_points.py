"""Where a function is undefined over the reals, every numeric path says so (NaN or our error).

Autodiff used to take a Piecewise's last branch where no condition held, and gave d(b**w)/dw = 0
for a negative base (torch and the symbolic path: NaN). The oracle here is sympy's exact value of
the function and of its derivative at the point: where it is a real number, autodiff and the
symbolic gradient must give it; where it is not (complex, nan, zoo), they must not give a finite
number, and `check` must refuse the point with NonFiniteError.
"""

import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.numeric import evaluate

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
x, w, b = sp.symbols("x w b", real=True)
POINTS = [-2.5, -1.0, -0.5, 0.5, 1.5, 3.0]
INNER = [x, x * w, x + b, w - x, b * w]
OUTER = {
    "log": sp.log,
    "sqrt": sp.sqrt,
    "asin": sp.asin,
    "acos": sp.acos,
    "power with exponent w": lambda u: u**w,
    "power with base b": lambda u: b**u,
    "Piecewise without default": lambda u: sp.Piecewise((u**2, u > 0)),
    "Piecewise with a gap": lambda u: sp.Piecewise((u, u < 1), (u**3, u > 2)),
    "Piecewise around an undefined branch": lambda u: sp.Piecewise((sp.log(u), u > 0), (u * w, True)),
    "reciprocal": lambda u: 1 / u,
}


def exact(expr, point):
    """sympy's value at `point`: a float where it is a real number, else None."""
    value = sp.N(expr.subs(point), 30)
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not value.is_real:
        return None
    return float(value)


@settings(max_examples=150, deadline=None)
@given(outer=st.sampled_from(sorted(OUTER)), inner=st.sampled_from(INNER),
       xv=st.sampled_from(POINTS), wv=st.sampled_from(POINTS), bv=st.sampled_from(POINTS))
def test_autodiff_and_symbolic_gradients_are_the_exact_value_or_not_a_number(outer, inner, xv, wv, bv):
    point = {x: sp.Rational(xv), w: sp.Rational(wv), b: sp.Rational(bv)}
    # at u = 0 the conventions differ from sympy's nan on purpose: d(u**w)/dw = 0 (as torch), and a
    # branch not taken whose slope is infinite there (log u) still gives 0·inf = NaN on every path
    assume(outer == "reciprocal" or inner.subs(point) != 0)
    expr = OUTER[outer](inner)
    values = {x: xv, w: wv, b: bv}
    wrt = [x, w, b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = symgrad.autodiff.backward(expr, wrt, values)
        symbolic = evaluate(symgrad.grad(expr, wrt), values)
    value = exact(expr, point)
    if value is None:
        assert not np.isfinite(result.value), (expr, values, result.value)
        with pytest.raises(symgrad.NonFiniteError, match="undefined"):
            symgrad.check(expr, wrt, values)
    else:
        assert result.value == pytest.approx(value, rel=1e-12)
    for s, auto, sym in zip(wrt, result.grads, symbolic, strict=True):
        slope = exact(sp.diff(expr, s), point) if value is not None else None
        if s not in expr.free_symbols:
            continue
        if slope is None:
            assert not np.isfinite(auto), (expr, s, values, auto)  # autodiff: never a number
            if value is not None:  # the symbolic gradient, where the function itself is defined
                assert not np.isfinite(sym), (expr, s, values, sym)
        else:
            assert auto == pytest.approx(slope, rel=1e-9, abs=1e-12), (expr, s, values)
            assert float(sym) == pytest.approx(slope, rel=1e-9, abs=1e-12), (expr, s, values)


def test_piecewise_without_default_is_nan_where_no_condition_holds_like_sympy():
    pw = sp.Piecewise((x**2, x > 0))
    assert pw.subs(x, -1) is sp.nan
    result = symgrad.autodiff.backward(pw, [x], {x: np.array([-1.0, 2.0])})
    np.testing.assert_equal(result.value, [np.nan, 4.0])
    np.testing.assert_equal(result.grads[0], [np.nan, 4.0])


def test_derivative_of_a_power_in_its_exponent_is_nan_for_a_negative_base_and_zero_at_zero():
    loss = b**w
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for d(b**w)/dw (not installed)")
    for base, exponent in [(-2.0, 2.0), (-2.0, 3.0), (0.0, 2.0), (2.0, 1.5)]:
        (dw,) = symgrad.autodiff.grad(loss, [w], {b: base, w: exponent})
        (sym,) = evaluate(symgrad.grad(loss, [w]), {b: base, w: exponent})
        tb = torch.tensor(base, dtype=torch.float64)
        tw = torch.tensor(exponent, dtype=torch.float64, requires_grad=True)
        (tg,) = torch.autograd.grad(tb**tw, [tw])
        np.testing.assert_equal([dw, float(sym)], [tg.item()] * 2)
        (hv,) = symgrad.autodiff.hvp(loss, [w], {b: base, w: exponent}, [1.0])
        assert np.isnan(hv) == (base < 0)


@pytest.mark.parametrize("n", [3, 40])  # the per-sample loop (n <= LOOP_MAX) and the vectorized path
def test_compiled_piecewise_without_default_is_nan_where_no_condition_holds(n):
    """Both batch paths give sympy's NaN where no branch holds (the loop printed Python's None and
    raised TypeError), and the nonfinite= policy then applies as for any NaN."""
    loss = sp.Piecewise((w * x, x > 0), (w**2 * x, x < -5))
    kernel = symgrad.compile(loss, wrt=[w], inputs=[x], cache=False)
    data = np.where(np.arange(n) % 3 == 0, -1.0, np.where(np.arange(n) % 3 == 1, 2.0, -7.0))
    value, (grad,) = kernel.loss_and_grad({x: data, w: 0.5}, nonfinite="propagate")
    assert np.isnan(value) and np.isnan(grad)
    defined = data != -1.0
    value, (grad,) = kernel.loss_and_grad({x: data[defined], w: 0.5})
    want = [float(sp.Add(*[loss.subs({x: v, w: 0.5}) for v in data[defined]])),
            float(sp.Add(*[sp.diff(loss, w).subs({x: v, w: 0.5}) for v in data[defined]]))]
    np.testing.assert_allclose([value, grad], want, rtol=1e-12)
    with pytest.raises(symgrad.NonFiniteError):
        kernel.loss_and_grad({x: data, w: 0.5})


def test_cuda_prints_piecewise_without_default_as_nan_where_no_condition_holds():
    from cuda_cases import emulate_expressions

    from symgrad.cuda_emu import compiler

    if compiler() is None:
        pytest.skip("the CUDA host emulation needs a host C++ compiler (symgrad.cuda_emu)")
    out, _ = emulate_expressions([sp.Piecewise((x**2, x > 0))], [x], [np.array([-1.0, 2.0])])
    np.testing.assert_equal(out[0], [np.nan, 4.0])
