"""Every matrix derivative rule, at small concrete sizes, four ways: symgrad's symbolic rules,
scalar expansion (sympy's entry-by-entry definition differentiated by sympy), matrix autodiff,
finite differences (and PyTorch through `symgrad.check`)."""

import numpy as np
import pytest
import sympy as sp
from matrix_expansion import scalar_expansion_grad
from sympy.matrices.expressions.matexpr import MatrixElement

import symgrad
from symgrad.matrix import Map, RowLogSumExp, RowSoftmax, SumAll, layers
from symgrad.matrix.evaluate import evaluate
from symgrad.values import bind

N = sp.Symbol("N", integer=True, positive=True)
A, B, C = (sp.MatrixSymbol(n, 3, 3) for n in "ABC")
X = sp.MatrixSymbol("X", N, 3)
W = sp.MatrixSymbol("W", 3, 2)
b = sp.MatrixSymbol("b", 1, 2)
x = sp.MatrixSymbol("x", 3, 1)
Y = sp.MatrixSymbol("Y", N, 2)
V = sp.MatrixSymbol("V", N, 2)
s = sp.Symbol("s", real=True)
one_col = sp.OneMatrix(N, 1)


def _values(seed=0, positive=False):
    rng = np.random.default_rng(seed)
    draw = (lambda *shape: rng.uniform(0.5, 1.5, size=shape)) if positive else (lambda *shape: rng.normal(size=shape))
    return {A: draw(3, 3), B: draw(3, 3), C: draw(3, 3), X: draw(4, 3), W: draw(3, 2), b: draw(1, 2),
            x: draw(3, 1), Y: draw(4, 2), V: draw(4, 2), s: 0.7}


def _case(name, loss, wrt, positive=False):
    return pytest.param(loss, wrt, positive, id=name)


t = sp.Symbol("t")
CASES = [
    _case("matmul", SumAll(A * B * C), [A, B, C]),
    _case("matmul-scalar-coefficient", SumAll(s * A * B), [s, A, B]),
    _case("matadd", SumAll(sp.HadamardPower(A + B + C.T, 2)), [A, B, C]),
    _case("transpose", sp.Trace(A.T * B * A), [A, B]),
    _case("trace", sp.Trace(A * B * A) + sp.Trace(C) ** 2, [A, B, C]),
    _case("hadamard-product", SumAll(sp.HadamardProduct(A, B, A)), [A, B]),
    _case("matrix-power", SumAll(sp.HadamardPower(X * A**3, 2)), [X, A]),
    _case("matrix-power-of-transposed-sum", SumAll(B * ((A + C).T) ** 2 * X.T), [A, B, C]),
    _case("matrix-power-five", sp.Trace(B * A**5), [A, B]),
    _case("ones-inside-product", SumAll(X * A * B) + SumAll(sp.MatMul(A, sp.OneMatrix(3, 3), B)), [A, B]),
    _case("hadamard-power", SumAll(sp.HadamardPower(A, 3)), [A]),
    _case("hadamard-power-exponent", SumAll(sp.HadamardPower(A, s)), [A, s], positive=True),
    _case("hadamard-quotient", SumAll(sp.HadamardProduct(A, sp.HadamardPower(B, -1))), [A, B], positive=True),
    _case("bias-broadcast-tanh", SumAll((X * W + one_col * b).applyfunc(sp.tanh)), [X, W, b]),
    _case("sigmoid", SumAll(sp.HadamardProduct(Y, (X * W).applyfunc(symgrad.sigmoid))), [W]),
    _case("relu", SumAll(sp.HadamardProduct(Y, (X * W).applyfunc(symgrad.relu))), [W]),
    _case("softplus", SumAll((X * W).applyfunc(symgrad.softplus)), [W]),
    _case("any-scalar-function", SumAll((X * W).applyfunc(sp.Lambda(t, sp.sin(t) * sp.exp(t) / (1 + t**2)))), [W]),
    _case("matrix-element", MatrixElement(A * B, 1, 2) * sp.tanh(A[0, 1]) + B[2, 2] ** 2, [A, B]),
    _case("one-and-identity", SumAll((A + sp.Identity(3)) * B * sp.OneMatrix(3, 2)), [A, B]),
    _case("scalar-times-matrix", SumAll(sp.HadamardPower(s * A - 2 * B, 2)) / 3, [s, A, B]),
    _case("column-sums", SumAll(sp.HadamardPower(layers.sum_rows(X * W), 2)), [X, W]),
    _case("row-sums", SumAll(sp.HadamardPower(layers.sum_cols(X * W), 3)), [W]),
    _case("mean", layers.mean(sp.HadamardPower(X * W, 2)), [W]),
    _case("softmax", SumAll(sp.HadamardProduct(V, RowSoftmax(X * W))), [W]),
    _case("logsumexp", SumAll(sp.HadamardPower(RowLogSumExp(X * W), 2)), [W]),
    _case("softmax-cross-entropy", layers.softmax_cross_entropy(X * W + one_col * b, Y, mean=True), [W, b]),
    _case("squared-error", layers.squared_error((X * W).applyfunc(sp.tanh), Y), [W]),
    _case("map", SumAll(Map(sp.Lambda((t, s), sp.cos(t) * s**2), X * W, V)), [W]),
    _case("matrix-valued-loss", X * W, [W]),
]


def _symbolic_values(loss, wrt, values):
    grads = symgrad.grad(loss, wrt)
    syms = {w for w in values if isinstance(w, sp.MatrixSymbol)} | {s, N}
    bound, sizes = bind(sorted(syms, key=str), values)
    return [np.broadcast_to(v, np.shape(values[w])) for v, w in zip(evaluate(grads, bound, sizes), wrt, strict=True)], grads


@pytest.mark.parametrize("loss, wrt, positive", CASES)
def test_rule_matches_scalar_expansion_autodiff_and_finite_differences(loss, wrt, positive):
    values = _values(positive=positive)
    sym, exprs = _symbolic_values(loss, wrt, values)
    for g, w in zip(exprs, wrt, strict=True):
        assert (g.shape if g.is_Matrix else ()) == (w.shape if w.is_Matrix else ()), f"gradient of {w} has the wrong shape"
    expected = scalar_expansion_grad(loss, wrt, values)
    auto = symgrad.autodiff.grad(loss, wrt, values)
    for w, e, g, a in zip(wrt, expected, sym, auto, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12, err_msg=f"symbolic d/d{w}")
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-12, err_msg=f"autodiff d/d{w}")
    report = symgrad.check(loss, wrt, values)
    assert report.ok, str(report)
