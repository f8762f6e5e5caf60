"""Closed-form Hessians and Hessian-vector products of matrix expressions, checked four ways:
scalar expansion (`sympy.hessian` of the explicit matrix), finite differences of the numeric
reverse-mode gradient, `torch.autograd.functional.hessian`/`hvp`, and the generated numpy."""

import numpy as np
import pytest
import sympy as sp
from matrix_expansion import scalar_expansion_hessian

import symgrad
from symgrad.errors import InvalidArgumentError, UnsupportedError
from symgrad.hessian_check import fd_hessian, fd_hvp, torch_hessian, torch_hvp
from symgrad.matrix import Map, RowSoftmax, SumAll, layers
from symgrad.matrix.evaluate import evaluate
from symgrad.matrix.hessian import hessian, hvp
from symgrad.matrix.hessian_kernel import compile_hessian
from symgrad.matrix.linear import NotLinear, coefficient
from symgrad.values import bind

n, N = layers.size("n"), layers.size("N")
x = sp.MatrixSymbol("x", n, 1)
A = sp.MatrixSymbol("A", n, n)
M = sp.MatrixSymbol("M", N, n)
X = sp.MatrixSymbol("X", N, n)
b, y = sp.MatrixSymbol("b", N, 1), sp.MatrixSymbol("y", N, 1)
W, c = sp.MatrixSymbol("W", n, 3), sp.MatrixSymbol("c", 3, 1)
Y = sp.MatrixSymbol("Y", N, 3)
_z, _y = sp.symbols("z y", real=True)

QUADRATIC = x.T * A * x  # a 1×1 matrix: its entry
LEAST_SQUARES = SumAll(sp.HadamardPower(M * x - b, 2))
LOGISTIC = layers.binary_cross_entropy_logits(X * x, y)
LOGISTIC_PROBABILITIES = layers.binary_cross_entropy((X * x).applyfunc(symgrad.sigmoid), y)

CASES = {
    "quadratic-form": (QUADRATIC, [A]),
    "least-squares": (LEAST_SQUARES, [M, b]),
    "logistic-regression": (LOGISTIC, [X, y]),
    "logistic-regression-probabilities": (LOGISTIC_PROBABILITIES, [X, y]),
    "squared-norm-squared": (SumAll(x.T * x) ** 2, []),
    "tanh-regression": (SumAll(sp.HadamardPower((M * x).applyfunc(sp.tanh) - b, 2)), [M, b]),
    "element-times-sum": (x[0, 0] * SumAll(sp.HadamardProduct(x, x)) + sp.Trace(x.T * A * x), [A]),
    "logsumexp-row": (SumAll(layers.logsumexp((M * x).T)), [M]),
}


def _values(n_=4, rows=6, seed=0):
    rng = np.random.default_rng(seed)
    return {x: rng.normal(size=(n_, 1)) * 0.5, A: rng.normal(size=(n_, n_)), M: rng.normal(size=(rows, n_)),
            X: rng.normal(size=(rows, n_)), b: rng.normal(size=(rows, 1)),
            y: rng.integers(0, 2, size=(rows, 1)).astype(float), W: rng.normal(size=(n_, 3)) * 0.5,
            Y: rng.normal(size=(rows, 3)), c: rng.normal(size=(3, 1))}


def _eval(expr, values):
    bound, sizes = bind(sorted({*values}, key=str), values)
    (out,) = evaluate([expr], bound, sizes)
    return np.asarray(out, dtype=float)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_matches_scalar_expansion_finite_differences_torch_and_generated_code(name):
    loss, data = CASES[name]
    values = _values()
    H = hessian(loss, x)
    assert H.shape == (n, n)
    got = np.broadcast_to(_eval(H, values), (4, 4))
    expected = scalar_expansion_hessian(loss, [x], {k: values[k] for k in [x, *data]})
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fd_hessian(loss, x, values), expected, rtol=1e-6, atol=1e-6)
    th = torch_hessian(loss, x, values)
    if th is not None:
        np.testing.assert_allclose(th, expected, rtol=1e-9, atol=1e-10)
    kernel = compile_hessian(loss, [x], data)
    np.testing.assert_allclose(kernel.hessian(values), expected, rtol=1e-9, atol=1e-10)
    v = np.random.default_rng(1).normal(size=(4, 1))
    (product,) = kernel.hvp(values, [v])
    np.testing.assert_allclose(product, expected @ v, rtol=1e-9, atol=1e-10)


def test_closed_forms_read_like_the_textbook():
    H = hessian(QUADRATIC, x)
    assert isinstance(H, sp.MatAdd) and set(H.args) == {A, A.T}
    H = hessian(LEAST_SQUARES, x)  # 2·Mᵀ·M: one product (numpy's syrk for M.T @ M)
    assert H == sp.MatMul(2, M.T, M)
    H = hessian(LOGISTIC, x)  # Xᵀ·(D ⊙ X), D = σ(z)(1 − σ(z)) broadcast along the columns of X
    assert isinstance(H, sp.MatMul) and H.args[0] == X.T
    (D,) = H.args[1:]
    assert isinstance(D, Map) and set(D.operands) == {X, X * x}
    assert not any(isinstance(a, sp.Identity) for a in sp.preorder_traversal(H))


def test_generated_logistic_hessian_is_one_product_without_n_by_n_temporaries():
    kernel = compile_hessian(LOGISTIC, [x], [X, y])
    body = kernel.source.split("def hessian(")[1].split("def hvp(")[0]
    assert body.count("@") == 2  # z = X @ x, then hessian = X.T @ (...)
    assert "hessian = X.T @ " in body and "np.eye" not in body and "np.diag" not in body


HVP_CASES = {
    "matrix-least-squares": (SumAll(sp.HadamardPower(M * W - Y, 2)), [W], [M, Y]),
    "softmax-cross-entropy": (layers.softmax_cross_entropy(M * W, Y), [W], [M, Y]),
    "softmax-times-targets": (SumAll(sp.HadamardProduct(Y, RowSoftmax(M * W))), [W], [M, Y]),
    "two-parameters": (SumAll(sp.HadamardPower((M * W).applyfunc(sp.tanh) * c - b, 2)), [W, c], [M, b]),
    "logistic-vector": (LOGISTIC, [x], [X, y]),
}


def _flat_hvp(loss, wrt, values, directions):
    H = scalar_expansion_hessian(loss, wrt, values)
    v = np.concatenate([np.asarray(d).reshape(-1) for d in directions])
    flat = H @ v
    out, k = [], 0
    for w in wrt:
        size = np.size(values[w])
        out.append(flat[k : k + size].reshape(np.shape(values[w])))
        k += size
    return out


@pytest.mark.parametrize("name", sorted(HVP_CASES))
def test_hvp_matches_scalar_expansion_finite_differences_torch_and_generated_code(name):
    loss, wrt, data = HVP_CASES[name]
    values = _values(n_=2, rows=3)
    rng = np.random.default_rng(2)
    directions = [rng.normal(size=np.shape(values[w])) for w in wrt]
    products, dirs = hvp(loss, wrt)
    for p, w in zip(products, wrt, strict=True):
        assert p.shape == w.shape
    symbolic = [np.broadcast_to(_eval(p, {**values, **dict(zip(dirs, directions, strict=True))}), np.shape(values[w]))
                for p, w in zip(products, wrt, strict=True)]
    used = {k: values[k] for k in [*wrt, *data]}
    expected = _flat_hvp(loss, wrt, used, directions)
    numeric = fd_hvp(loss, wrt, values, directions)
    generated = compile_hessian(loss, wrt, data).hvp(values, directions)
    for w, e, s, f, g in zip(wrt, expected, symbolic, numeric, generated, strict=True):
        np.testing.assert_allclose(s, e, rtol=1e-9, atol=1e-10, err_msg=f"symbolic H·V for {w}")
        np.testing.assert_allclose(f, e, rtol=1e-6, atol=1e-6, err_msg=f"finite differences for {w}")
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-10, err_msg=f"generated H·V for {w}")
    if len(wrt) == 1:
        th = torch_hvp(loss, wrt[0], values, directions[0])
        if th is not None:
            np.testing.assert_allclose(th, expected[0], rtol=1e-9, atol=1e-10)


def test_float32_hessian_kernel():
    values = _values()
    kernel = compile_hessian(LOGISTIC, [x], [X, y], dtype="float32")
    H = kernel.hessian(values)
    assert H.dtype == np.float32
    np.testing.assert_allclose(H, compile_hessian(LOGISTIC, [x], [X, y]).hessian(values), rtol=1e-4, atol=1e-5)


def test_hessian_of_a_matrix_parameter_is_refused_with_the_hvp_named():
    with pytest.raises(InvalidArgumentError, match="hvp"):
        hessian(SumAll(sp.HadamardPower(M * W - Y, 2)), W)
    kernel = compile_hessian(SumAll(sp.HadamardPower(M * W - Y, 2)), [W], [M, Y])
    with pytest.raises(InvalidArgumentError, match="hvp"):
        kernel.hessian(_values())


def test_nonlinear_or_non_vector_maps_are_refused():
    v = sp.MatrixSymbol("v", n, 1)
    with pytest.raises(NotLinear, match="not linear"):
        coefficient(sp.HadamardProduct(v, v), v)
    with pytest.raises(NotLinear, match="neither a row nor a column"):
        coefficient(SumAll(v * x.T), v)
    assert issubclass(NotLinear, UnsupportedError)


def test_hvp_direction_of_the_wrong_shape_is_our_error():
    with pytest.raises(InvalidArgumentError, match="shape"):
        hvp(LOGISTIC, [x], [sp.MatrixSymbol("v", 1, n)])
    kernel = compile_hessian(LOGISTIC, [x], [X, y])
    with pytest.raises(InvalidArgumentError, match="shape"):
        kernel.hvp(_values(), [np.ones((3, 1))])


def test_direction_names_do_not_collide_with_model_symbols():
    v_x = sp.MatrixSymbol("v_x", n, 1)
    loss = SumAll(sp.HadamardProduct(v_x, x)) ** 2
    kernel = compile_hessian(loss, [x], [v_x])
    values = {x: np.ones((3, 1)), v_x: np.arange(3.0).reshape(3, 1)}
    u = values[v_x]
    np.testing.assert_allclose(kernel.hessian(values), 2 * u @ u.T)


def test_top_level_hessian_hvp_and_compile_hessian_dispatch_matrix_expressions():
    values = _values()
    assert symgrad.hessian(LOGISTIC, [x]) == hessian(LOGISTIC, x)
    v = sp.MatrixSymbol("v", n, 1)
    assert symgrad.hvp(LOGISTIC, [x], [v]) == hvp(LOGISTIC, [x], [v])[0]
    kernel = symgrad.compile_hessian(LOGISTIC, [x], [X, y])
    expected = scalar_expansion_hessian(LOGISTIC, [x], {k: values[k] for k in (x, X, y)})
    np.testing.assert_allclose(kernel.hessian(values), expected, rtol=1e-9, atol=1e-10)


def test_generated_hvp_stays_matrix_vector():
    """2·Mᵀ·M·v is lowered as Mᵀ·(M·v): no n×n product in the H·V function."""
    body = compile_hessian(LEAST_SQUARES, [x], [M, b]).source.split("def hvp(")[1]
    assert "M.T @ M" not in body and "M @ v_x" in body
    assert "M.T @ M" in compile_hessian(LEAST_SQUARES, [x], [M, b]).source.split("def hessian(")[1].split("def hvp(")[0]
