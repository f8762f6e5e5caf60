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
