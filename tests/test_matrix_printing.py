"""Matrix gradients print readably: ones matrices as `ones(m, n)` (𝟙 in LaTeX, where sympy
prints `1`), entrywise maps with their operands spelled in place, no Lambda variables."""

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

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


# entrywise functions a model may apply (sympy's, symgrad's, and a hand-written Lambda)
_t = sp.Symbol("t", real=True)
ENTRYWISE = [sp.tanh, sp.exp, symgrad.sigmoid, symgrad.softplus, sp.Lambda(_t, _t**2 + 3 * _t), sp.Lambda(_t, sp.sin(_t) / 2)]


@settings(max_examples=25, deadline=None)
@given(chain=st.lists(st.sampled_from(range(len(ENTRYWISE))), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_printed_gradients_spell_entrywise_functions_in_place_and_keep_their_value(chain, seed):
    """Any chain of `applyfunc`s prints as `entrywise(f(...))`, never `Lambda(_d, ...).(...)`, and
    the printed expression is equal to the raw reverse-mode one."""
    from symgrad.matrix.evaluate import evaluate
    from symgrad.matrix.rules import reverse

    X, W = sp.MatrixSymbol("X", 4, 3), sp.MatrixSymbol("W", 3, 2)
    h = X * W
    for k in chain:
        h = h.applyfunc(ENTRYWISE[k])
    loss = SumAll(h)
    (printed,) = symgrad.grad(loss, [W])
    text = str(printed)
    assert "Lambda" not in text and "_d" not in text and "entrywise(" in text
    assert r"\mapsto" not in sp.latex(printed)
    rng = np.random.default_rng(seed)
    bound = {X: rng.normal(size=(4, 3)) / 3, W: rng.normal(size=(3, 2)) / 3}
    (raw,) = reverse(loss, [W])
    np.testing.assert_allclose(evaluate([printed], bound, {})[0], evaluate([raw], bound, {})[0], rtol=1e-13)


def test_matrix_mlp_gradient_prints_without_lambdas():
    model = symgrad.nn.matrix_mlp([4, 5, 3], activation="tanh")
    text = str(symgrad.grad(model.loss, model.params))
    assert "Lambda" not in text and "entrywise(tanh(X*W1 + ones(N, 1)*b1))" in text
    assert "1 - entrywise(tanh(X*W1 + ones(N, 1)*b1))**2" in text
    latex = sp.latex(symgrad.grad(model.loss, model.params)[0])
    assert r"\mapsto" not in latex and "Lambda" not in latex
    assert r"\operatorname{entrywise}\left(\tanh{\left(X W_{1} + \mathbb{1}_{N \times 1} b_{1} \right)}\right)" in latex
