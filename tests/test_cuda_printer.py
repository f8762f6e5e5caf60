"""The CUDA expression printer: C semantics that match sympy's, stable forms, one precision per kernel."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from cuda_cases import emulate_expressions, needs_cxx

import symgrad
from symgrad.errors import UnsupportedError
from symgrad.targets.cuda.printer import CudaExprPrinter

x, y = sp.symbols("x y", real=True)

EXPRESSIONS = {
    "rational": sp.Rational(1, 3) * x + sp.Rational(-7, 2),
    "squared denominator": 1 / (1 + x**2),
    "quotient by a square": x / y**2 + (x + y) ** 3,
    "negative powers": (x**2 + 1) ** -3 + 1 / (y**2 + 2),
    "pi and e": sp.pi * x + sp.E * y,
    "piecewise": sp.Piecewise((x * y, x > 0), (x**2, y > 0), (-y, True)),
    "heaviside": sp.Heaviside(x, 0) + sp.Heaviside(x) * 2 + sp.Heaviside(y, 1) * 4,
    "max and min": sp.Max(x, y, 0) - sp.Min(x, 2 * y),
    "abs and sign": sp.Abs(x) * sp.sign(y),
    "roots and real powers": sp.sqrt(x**2 + 1) + (y**2 + 1) ** sp.Rational(3, 2),
    "sigmoid": symgrad.sigmoid(x),
    "softplus": symgrad.softplus(x),
    "logsigmoid": symgrad.logsigmoid(x),
    "relu": symgrad.relu(x) + symgrad.relu(-y),
    "logsumexp": symgrad.logsumexp(x, y, 2 * x),
    "tanh, cosh, log1p, expm1": sp.tanh(x) + 1 / sp.cosh(y) ** 2 + sp.log(1 + x**2) + sp.exp(y / 10) - 1,
}


def _reference(expr, xs, ys, digits=50):
    """Values at `digits` significant digits (sympy's evalf, i.e. mpmath), as floats."""
    out = []
    for xv, yv in zip(xs, ys, strict=True):
        with mpmath.workdps(digits):
            out.append(float(expr.evalf(digits, subs={x: sp.Float(float(xv), digits), y: sp.Float(float(yv), digits)})))
    return np.array(out)


@needs_cxx
def test_printed_expressions_evaluate_like_sympy():
    rng = np.random.default_rng(1)
    xs, ys = rng.normal(scale=3.0, size=40), rng.normal(scale=3.0, size=40)
    xs[:2] = 0.0  # the kinks and branch points
    got, _ = emulate_expressions(list(EXPRESSIONS.values()), [x, y], [xs, ys])
    for row, (name, expr) in zip(got, EXPRESSIONS.items(), strict=True):
        np.testing.assert_allclose(row, _reference(expr, xs, ys), rtol=1e-13, atol=1e-14, err_msg=name)


@needs_cxx
@pytest.mark.parametrize("dtype, extreme", [("float64", 1000.0), ("float32", 100.0)])
def test_stable_functions_are_finite_and_accurate_at_extreme_inputs(dtype, extreme):
    xs = np.array([-extreme, -extreme / 2, -1e-30, 0.0, 1e-30, extreme / 2, extreme])
    ys = -xs[::-1]
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    names = ("sigmoid", "softplus", "logsigmoid", "logsumexp")
    got, _ = emulate_expressions([EXPRESSIONS[nm] for nm in names], [x, y], [xs, ys], dtype)
    for row, name in zip(got, names, strict=True):
        want = _reference(EXPRESSIONS[name], xs, ys, digits=1000)  # 1 + e^-1000 needs the digits
        assert np.all(np.isfinite(row)), (name, row)
        np.testing.assert_allclose(row, want.astype(dtype), rtol=8 * eps, atol=tiny, err_msg=name)


def test_float32_kernels_print_no_double_literals_or_functions():
    printer = CudaExprPrinter("float32")
    text = printer.doprint(sp.exp(x) / 3 + sp.Rational(1, 7) * sp.log(1 + y**2) + sp.pi + sp.Max(x, 0) + x**2.5)
    helpers = "\n".join(printer.helpers.values()) + printer.doprint(symgrad.logsumexp(x, y) + symgrad.softplus(x))
    for part in (text, helpers):
        for literal in __import__("re").findall(r"\d+\.\d+(?:e[-+]?\d+)?F?", part):
            assert literal.endswith("F"), (literal, part)
        assert "exp(" not in part.replace("expf(", "") and "log(" not in part.replace("logf(", "")


def test_integers_print_as_real_literals_so_nothing_divides_as_integers():
    text = CudaExprPrinter().doprint(sp.Mul(2, sp.Pow(3, -1, evaluate=False), x, evaluate=False))
    assert "2/3" not in text and "2.0" in text


def test_unsupported_function_names_itself_and_the_target():
    with pytest.raises(UnsupportedError, match=r"cuda target cannot print besselj"):
        CudaExprPrinter().doprint(sp.besselj(0, x))


def test_piecewise_without_a_default_branch_is_nan_where_no_condition_holds():
    """As sympy and the numpy target: undefined there (values checked in test_undefined_points)."""
    assert CudaExprPrinter().doprint(sp.Piecewise((x, x > 0))) == "((x > 0.0) ? (x) : (NAN))"
