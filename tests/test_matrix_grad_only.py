"""The matrix module's `grad`: the gradients without the loss (what hand-written backprop computes and
an SGD step needs), from the same IR as `loss_and_grad` with the statements only the loss reads left
out; it must give `loss_and_grad`'s gradients, and those agree with central differences."""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.matrix import SumAll
from symgrad.matrix.kernel import compile_matrix


def _function(source, name):
    return source[source.index(f"def {name}("):].split("\n\n\n")[0]


MODELS = {
    "sigmoid softmax": lambda: symgrad.nn.matrix_mlp([5, 6, 3], activation="sigmoid"),
    "tanh softmax": lambda: symgrad.nn.matrix_mlp([5, 6, 6, 3], activation="tanh"),
    "relu mse": lambda: symgrad.nn.matrix_mlp([5, 6, 2], activation="relu", loss="mse"),
}


def _data(kernel, rng, rows=9):
    shapes = {"X": (rows, 5)}
    values = {}
    for sym in kernel.inputs + kernel.wrt:
        shape = shapes.get(str(sym)) or tuple(int(d) if d.is_number else rows for d in sym.shape)
        values[sym] = rng.normal(size=shape)
    return values


@pytest.mark.parametrize("name", MODELS)
def test_grad_equals_loss_and_grad_without_the_loss(name):
    kernel = symgrad.compile(MODELS[name](), cache=False)
    rng = np.random.default_rng(0)
    values = _data(kernel, rng)
    args = kernel.arguments(values)
    _, want = kernel.module.loss_and_grad(*args)
    got = kernel.module.grad(*args)
    assert len(got) == len(want) == len(kernel.wrt)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
    body = _function(kernel.source, "grad")
    assert "loss_value" not in body and ".sum()" not in body, body  # no statement for the loss alone


def test_grad_of_a_hand_built_matrix_loss_matches_central_differences():
    n = sp.Symbol("n", integer=True, positive=True)
    X, W1, W2 = sp.MatrixSymbol("X", n, 4), sp.MatrixSymbol("W1", 4, 5), sp.MatrixSymbol("W2", 5, 3)
    kernel = compile_matrix(SumAll(sp.HadamardPower((X * W1).applyfunc(sp.tanh) * W2, 2)), [W1, W2], [X])
    rng = np.random.default_rng(1)
    Xv, W1v, W2v = rng.normal(size=(7, 4)), rng.normal(size=(4, 5)), rng.normal(size=(5, 3))
    dW1, dW2 = kernel.module.grad(Xv, W1v, W2v)
    h = 1e-6
    for k, (grad, base) in enumerate([(dW1, W1v), (dW2, W2v)]):
        for index in np.ndindex(base.shape):
            step = np.zeros_like(base)
            step[index] = h
            plus = [W1v + step, W2v] if k == 0 else [W1v, W2v + step]
            minus = [W1v - step, W2v] if k == 0 else [W1v, W2v - step]
            fd = (kernel.module.loss(Xv, *plus) - kernel.module.loss(Xv, *minus)) / (2 * h)
            assert grad[index] == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", MODELS)
def test_documented_grad_calls_the_module_grad_and_shapes_like_loss_and_grad(name, monkeypatch):
    kernel = symgrad.compile(MODELS[name](), cache=False)
    values = _data(kernel, np.random.default_rng(2))
    _, want = kernel.loss_and_grad(values)
    calls = []
    module_grad = kernel.module.grad
    monkeypatch.setattr(kernel.calls, "grad", lambda *a: calls.append(1) or module_grad(*a))
    for _ in range(2):  # the first call binds, the second takes the remembered layout
        got = kernel.grad(values)
        assert [np.shape(g) for g in got] == [np.shape(w) for w in want]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
    assert calls == [1, 1]


def test_documented_grad_names_a_non_finite_gradient():
    n = sp.Symbol("n", integer=True, positive=True)
    X, W = sp.MatrixSymbol("X", n, 2), sp.MatrixSymbol("W", 2, 1)
    kernel = compile_matrix(SumAll((X * W).applyfunc(sp.sqrt)), [W], [X])
    values = {X: np.array([[1.0, 0.0], [0.0, 1.0]]), W: np.array([[0.0], [4.0]])}  # sqrt'(0) = Inf
    with pytest.raises(symgrad.errors.NonFiniteError, match=r"d/dW"):
        kernel.grad(values)
    (g,) = kernel.grad(values, nonfinite="propagate")
    assert np.isinf(g[0, 0]) and np.isnan(g[1, 0])  # X.T @ [Inf, 1/4]: 1*Inf; 0*Inf + 1/4 is NaN
