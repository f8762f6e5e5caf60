"""Matrix gradients print readably: ones matrices as `ones(m, n)` (𝟙 in LaTeX, where sympy
prints `1`), entrywise maps with their operands spelled in place, no Lambda variables."""

import sympy as sp

import symgrad
from symgrad.matrix import SumAll, layers


def test_gradient_prints_ones_and_entrywise_bodies():
    model = symgrad.nn.matrix_mlp([4, 5, 3], activation="tanh")
    W1, b1, W2, b2 = model.params
    d_b2 = symgrad.grad(model.loss, [b2])[0]
    text = str(d_b2)
    assert text.startswith("ones(1, N)*") and "ones(N, 1)*b2" in text
    assert "Map(" not in text and "_x0" not in text
    assert sp.latex(d_b2).startswith(r"\mathbb{1}")


def test_least_squares_gradient_and_hessian_read_like_the_formulas():
    n, N = layers.size("n"), layers.size("N")
    x, M, b = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("M", N, n), sp.MatrixSymbol("b", N, 1)
    loss = SumAll(sp.HadamardPower(M * x - b, 2))
    assert str(symgrad.grad(loss, [x])[0]) == "M.T*entrywise(2*(M*x - b))"
    assert str(symgrad.hessian(loss, [x])) == "2*M.T*M"
