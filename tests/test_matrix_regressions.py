"""The sympy 1.14 matrix-calculus failures named in issue 4 give correct answers in symgrad
(checked against scalar expansion), and bad matrix input gets our errors."""

import numpy as np
import pytest
import sympy as sp
from matrix_expansion import scalar_expansion_grad

import symgrad
from symgrad.matrix import SumAll

W = sp.MatrixSymbol("W", 2, 3)
x = sp.MatrixSymbol("x", 3, 1)
rng = np.random.default_rng(4)
VALUES = {W: rng.normal(size=(2, 3)), x: rng.normal(size=(3, 1))}


def test_element_of_product_has_the_nonzero_gradient_sympy_misses():
    loss = (W * x)[0, 0]  # sympy: diff(loss, W) == 0
    (g,) = symgrad.grad(loss, [W])
    assert g.shape == W.shape
    (auto,) = symgrad.autodiff.grad(loss, [W], VALUES)
    expected = np.zeros((2, 3))
    expected[0, :] = VALUES[x][:, 0]  # ∂(Σ_k W0k x_k)/∂W0k = x_k, written out by hand
    np.testing.assert_allclose(auto, expected)
    assert symgrad.check(loss, [W], VALUES).ok


def test_trace_of_ones_product_gradient_has_the_parameter_shape():
    W3 = sp.MatrixSymbol("W3", 3, 3)
    loss = sp.Trace(sp.OneMatrix(1, 3) * W3 * x)  # sympy's derivative has the wrong shape
    (g,) = symgrad.grad(loss, [W3])
    assert g.shape == (3, 3)
    values = {W3: rng.normal(size=(3, 3)), x: VALUES[x]}
    (auto,) = symgrad.autodiff.grad(loss, [W3], values)
    np.testing.assert_allclose(auto, np.ones((3, 1)) @ values[x].T)  # d(1ᵀ W x) = 1 xᵀ
    (expected,) = scalar_expansion_grad(loss, [W3], values)
    np.testing.assert_allclose(auto, expected)


def test_two_layer_tanh_mlp_squared_loss_with_concrete_sizes():
    X, Y = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("Y", 3, 2)
    W1, W2 = sp.MatrixSymbol("W1", 2, 3), sp.MatrixSymbol("W2", 3, 2)
    E = (X * W1).applyfunc(sp.tanh) * W2 - Y
    loss = SumAll(sp.HadamardProduct(E, E))  # sympy raises ShapeError differentiating this
    g1, g2 = symgrad.grad(loss, [W1, W2])
    assert (g1.shape, g2.shape) == ((2, 3), (3, 2))
    values = {X: rng.normal(size=(3, 2)), Y: rng.normal(size=(3, 2)), W1: rng.normal(size=(2, 3)),
              W2: rng.normal(size=(3, 2))}
    expected = scalar_expansion_grad(loss, [W1, W2], values)
    for a, e in zip(symgrad.autodiff.grad(loss, [W1, W2], values), expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-10)
    assert symgrad.check(loss, [W1, W2], values).ok


def test_elementwise_function_result_evaluates_where_lambdify_fails():
    F = (W * x).applyfunc(symgrad.sigmoid)  # sympy's lambdify of this is a SyntaxError
    report = symgrad.check(SumAll(F), [W, x], VALUES)
    assert report.ok, str(report)


def test_inconsistent_sizes_are_a_shape_error_naming_the_size():
    N = sp.Symbol("N", integer=True, positive=True)
    X, Y = sp.MatrixSymbol("X", N, 3), sp.MatrixSymbol("Y", N, 1)
    w = sp.MatrixSymbol("w", 3, 1)
    with pytest.raises(symgrad.ShapeError, match="size N"):
        symgrad.autodiff.grad(SumAll(X * w - Y), [w], {X: np.ones((4, 3)), Y: np.ones((5, 1)), w: np.ones((3, 1))})


def test_value_of_the_wrong_shape_is_a_shape_error():
    with pytest.raises(symgrad.ShapeError, match="W"):
        symgrad.autodiff.grad(SumAll(W * x), [W], {W: np.ones((3, 2)), x: np.ones((3, 1))})


def test_entrywise_function_closing_over_a_symbol_differentiates_that_symbol_too():
    a = sp.Symbol("a")
    loss = SumAll((W * x).applyfunc(sp.Lambda(sp.Symbol("t"), sp.tanh(a * sp.Symbol("t")))))
    values = {**VALUES, a: 0.8}
    report = symgrad.check(loss, [W, a], values)
    assert report.ok, report
    expected = scalar_expansion_grad(loss, [W, a], values)
    np.testing.assert_allclose(report.rows[1].autodiff, expected[1], rtol=1e-12)
    assert abs(expected[1]) > 0.1


def test_index_with_symbolic_sizes_is_unsupported_with_advice():
    n = sp.Symbol("n", integer=True, positive=True)
    A, v = sp.MatrixSymbol("A", 2, n), sp.MatrixSymbol("v", n, 1)
    with pytest.raises(symgrad.UnsupportedError, match="concrete sizes"):
        symgrad.grad((A * v)[0, 0], [A])


@pytest.mark.parametrize("exponent", [-2, sp.Symbol("k", integer=True), sp.Rational(1, 2)])
def test_matrix_power_other_than_a_positive_integer_is_our_error(exponent):
    S = sp.MatrixSymbol("S", 3, 3)
    loss = SumAll(sp.MatPow(S, exponent) * x)
    values = {S: np.eye(3) + rng.normal(size=(3, 3)) / 4, x: VALUES[x]}
    for attempt in (lambda: symgrad.grad(loss, [S]), lambda: symgrad.autodiff.grad(loss, [S], values),
                    lambda: symgrad.compile(loss, wrt=[S], inputs=[x], cache=False)):
        with pytest.raises(symgrad.UnsupportedError, match=r"A\*\*n for integers n >= 1"):
            attempt()


def test_backward_pass_reuses_entrywise_maps_instead_of_recomputing_them_transposed():
    """A transposed `Map` stays a transpose of the forward node: pushing the transpose into the
    operands made a new node, so the backward pass recomputed the layer (one extra product)."""
    from symgrad.matrix.kernel import compile_matrix
    from symgrad.matrix.nodes import Map

    n = sp.Symbol("n", integer=True, positive=True)
    X, W1, W2 = sp.MatrixSymbol("X", n, 4), sp.MatrixSymbol("W1", 4, 5), sp.MatrixSymbol("W2", 5, 2)
    b1 = sp.MatrixSymbol("b1", 1, 5)
    u, v = sp.symbols("_u _v", real=True)
    h = Map(sp.Lambda((u, v), sp.tanh(u + v)), X * W1, b1)
    kernel = compile_matrix(SumAll(sp.HadamardPower(h * W2, 2)), [W1, b1, W2], [X])
    backward = kernel.source.split("def loss_and_grad")[1].split("\ndef ")[0]
    assert backward.count("@") + backward.count("np.matmul") == 5  # X W1, h W2, δ2 W2ᵀ, Xᵀ δ1, hᵀ δ2


def test_one_pass_step_returns_what_the_separate_entry_points_return():
    """`loss_grad_and_outputs` (a training step that also reports outputs, e.g. for Keras metrics)
    gives the loss, gradients and outputs of `loss_and_grad` and `predict` bit for bit, in one
    forward pass: it has as many products as `loss_and_grad` (the outputs reuse its forward nodes)."""
    from symgrad.matrix import RowSoftmax
    from symgrad.matrix.kernel import compile_matrix

    n = sp.Symbol("n", integer=True, positive=True)
    X, W1, W2 = sp.MatrixSymbol("X", n, 4), sp.MatrixSymbol("W1", 4, 5), sp.MatrixSymbol("W2", 5, 3)
    probs = RowSoftmax(X * W1 * W2)
    kernel = compile_matrix(SumAll(sp.HadamardPower(probs, 2)), [W1, W2], [X], outputs=[probs])
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(7, 4)), rng.normal(size=(4, 5)), rng.normal(size=(5, 3))]
    loss, grads, outputs = kernel.module.loss_grad_and_outputs(*args)
    loss_alone, grads_alone = kernel.module.loss_and_grad(*args)
    assert loss == loss_alone
    for got, want in zip([*grads, *outputs], [*grads_alone, *kernel.module.predict(*args)], strict=True):
        np.testing.assert_array_equal(got, want)
    step = kernel.source.split("def loss_grad_and_outputs")[1].split("\ndef ")[0]
    backward = kernel.source.split("def loss_and_grad")[1].split("\ndef ")[0]
    assert step.count("@") + step.count("np.matmul") == backward.count("@") + backward.count("np.matmul")
