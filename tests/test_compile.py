"""Generated numpy kernels: agreement with autodiff, both code paths, dtypes, and bad input."""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import autodiff

x, y, w, b, c = sp.symbols("x y w b c", real=True)
LOSS = (symgrad.sigmoid(w * x + b) - y) ** 2 + symgrad.softplus(c * x) + w**2  # w**2: batch-independent


def _values(rng, n):
    return {x: rng.normal(size=n), y: rng.uniform(size=n), w: 0.4, b: -0.2, c: 1.3}


@pytest.mark.parametrize("n", [1, 5, 16, 17, 500])
def test_kernel_matches_autodiff(n, rng):
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y])
    values = _values(rng, n)
    np.testing.assert_allclose(kernel.grad(values), autodiff.grad(LOSS, [w, b, c], values), rtol=1e-12)
    from symgrad.numeric import evaluate

    want_loss = np.sum(np.broadcast_to(evaluate([LOSS], values)[0], (n,)))
    np.testing.assert_allclose(kernel.loss(values), want_loss, rtol=1e-12)


def test_loop_and_vectorized_paths_agree(rng):
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y])
    args = kernel.arguments(_values(rng, 9))
    la, ga = kernel.module.loss_and_grad_loop(*[a.tolist() for a in args[:2]], *args[2:])  # the loop reads data lists
    lb, gb = kernel.module.loss_and_grad_vectorized(*args)
    np.testing.assert_allclose(la, lb, rtol=1e-13)
    np.testing.assert_allclose(ga, gb, rtol=1e-13)


def test_per_sample_gradients_sum_to_batch_gradient(rng):
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y])
    values = _values(rng, 30)
    rows = kernel.per_sample_grad(values)
    assert rows.shape == (30, 3)
    np.testing.assert_allclose(rows.sum(0), kernel.grad(values), rtol=1e-12)
    one = {**values, x: values[x][7], y: values[y][7]}
    np.testing.assert_allclose(rows[7], autodiff.grad(LOSS, [w, b, c], one), rtol=1e-12)


def test_float32_kernel(rng):
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], dtype="float32")
    values = _values(rng, 64)
    args = kernel.arguments(values)
    assert args[0].dtype == np.float32
    _, grads = kernel.module.loss_and_grad(*args)
    assert all(np.asarray(g).dtype == np.float32 for g in grads)
    np.testing.assert_allclose(kernel.grad(values), autodiff.grad(LOSS, [w, b, c], values), rtol=1e-4)


def test_predict_returns_outputs(rng):
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], outputs=[symgrad.sigmoid(w * x + b)])
    values = _values(rng, 6)
    (pred,) = kernel.predict({k: v for k, v in values.items() if k is not y})
    np.testing.assert_allclose(pred, 1 / (1 + np.exp(-(0.4 * values[x] - 0.2))), rtol=1e-12)


def test_diff_method_gives_same_kernel_results(rng):
    values = _values(rng, 20)
    a = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], method="reverse").grad(values)
    d = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], method="diff").grad(values)
    np.testing.assert_allclose(a, d, rtol=1e-12)


def test_generated_source_is_deterministic_and_stamped():
    one = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], name="k").source
    two = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], name="k").source
    assert one == two
    assert f"symgrad {symgrad.__version__}" in one and "sha256" in one


def test_names_never_land_unescaped():
    evil = sp.Symbol("a'); __import__('os').system('echo PWNED'); ('")
    kw = sp.Symbol("lambda")
    kernel = symgrad.compile((evil * x - kw) ** 2, wrt=[evil, kw], inputs=[x])
    import ast

    called = {n.func.id for n in ast.walk(ast.parse(kernel.source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "__import__" not in called and kernel.ir.params[1].ident != "lambda"
    values = {x: np.array([1.0, 2.0]), evil: 0.5, kw: 0.25}
    np.testing.assert_allclose(kernel.grad(values), autodiff.grad((evil * x - kw) ** 2, [evil, kw], values))


# --- bad input ------------------------------------------------------------------------------


def test_unbound_symbol_is_named():
    with pytest.raises(symgrad.UnboundSymbolError, match="c is neither an input nor a parameter"):
        symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y])
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y])
    with pytest.raises(symgrad.UnboundSymbolError, match="no value given for y"):
        kernel.grad({x: [1.0], w: 1.0, b: 0.0, c: 1.0})
    with pytest.raises(symgrad.UnboundSymbolError, match="no value given for c"):
        autodiff.grad(LOSS, [w], {x: 1.0, y: 1.0, w: 1.0, b: 0.0})


def test_wrt_must_be_symbols():
    with pytest.raises(symgrad.InvalidArgumentError, match=r"w\*x.*not a sympy Symbol"):
        symgrad.grad(LOSS, [w * x])
    with pytest.raises(symgrad.InvalidArgumentError, match="not a sympy Symbol"):
        autodiff.grad(LOSS, ["w"], {})


def test_mismatched_lengths_are_named():
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y])
    with pytest.raises(symgrad.ShapeError, match=r"x: \(3,\), y: \(4,\)"):
        kernel.grad({x: np.ones(3), y: np.ones(4), w: 1.0, b: 0.0, c: 1.0})


def test_nonfinite_data_raises_or_propagates():
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y])
    values = {x: np.array([1.0, np.nan]), y: np.ones(2), w: 1.0, b: 0.0, c: 1.0}
    with pytest.raises(symgrad.NonFiniteError, match="value of x contains NaN"):
        kernel.grad(values)
    assert np.isnan(kernel.grad(values, nonfinite="propagate")[0])
    with pytest.raises(symgrad.NonFiniteError):
        autodiff.grad(LOSS, [w], values)


def test_parameter_given_as_array_is_rejected():
    kernel = symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y])
    with pytest.raises(symgrad.ShapeError, match="parameter w must be a single number"):
        kernel.grad({x: np.ones(3), y: np.ones(3), w: np.ones(3), b: 0.0, c: 1.0})


def test_unsupported_function_is_named():
    f = sp.Function("mystery")
    with pytest.raises(symgrad.UnsupportedError, match="mystery"):
        symgrad.compile(f(w * x), wrt=[w], inputs=[x])


def test_complex_values_rejected():
    with pytest.raises(symgrad.DTypeError, match="complex"):
        autodiff.grad(LOSS, [w], {x: 1j, y: 1.0, w: 1.0, b: 0.0, c: 1.0})


def test_unknown_target_and_dtype():
    with pytest.raises(symgrad.UnsupportedError, match="target"):
        symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], target="fortran")
    with pytest.raises(symgrad.InvalidArgumentError, match="dtype"):
        symgrad.compile(LOSS, wrt=[w, b, c], inputs=[x, y], dtype="float16")


def test_squared_denominator_prints_with_parentheses(rng):
    """Regression (found by the property test): t**-2 inside a product printed as 1/t*t."""
    p0 = sp.Symbol("p0", real=True)
    expr = p0 / (sp.sin(symgrad.sigmoid(p0)) + 2)
    kernel = symgrad.compile(expr * x, wrt=[p0], inputs=[x])
    values = {x: np.ones(2), p0: 1.0}
    np.testing.assert_allclose(kernel.grad(values), autodiff.grad(expr * x, [p0], values), rtol=1e-13)


@pytest.mark.parametrize("n", [4, 40])  # per-sample loop and vectorized paths
def test_piecewise_max_abs_kernels_match_autodiff(n):
    """Branch pairs and conditions stay inline in the generated code (they are not values)."""
    expr = sp.Piecewise((w * x**2, x < 1), (3 * w * x, True)) + sp.Max(w * x, 0.5) + sp.Abs(w - x)
    values = {x: np.linspace(0.05, 3, n), w: 0.7}
    kernel = symgrad.compile(expr, wrt=[w], inputs=[x])
    np.testing.assert_allclose(kernel.grad(values), autodiff.grad(expr, [w], values), rtol=1e-12)
    np.testing.assert_allclose(kernel.loss(values), autodiff.backward(expr, [w], values).value.sum(), rtol=1e-12)
