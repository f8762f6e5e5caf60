"""Entrywise work in generated matrix kernels: broadcast factors meet the big operand once, and the
branch-free sigmoid gives the where-based form's numbers bit for bit."""

import re

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad.matrix import compile_hessian, layers
from symgrad.primitives.activations import SIGMOID
from symgrad.targets.numpy.regroup import shape_of_expr, small_factors_first

SHAPES = {"X": ("N", "n"), "A": ("N", "n"), "c": ("N", 1), "d": ("N", 1), "r": (1, "n"), "t": ()}
FACTORS = [sp.Symbol(name) for name in SHAPES] + [sp.Integer(2), sp.Rational(-1, 3), sp.exp(sp.Symbol("c"))]


def _regrouped(expr):
    hoisted = {}

    def shape_of(name):
        return hoisted.get(name, SHAPES.get(name, ()))

    def hoist(small):
        name = f"h{len(hoisted)}"
        hoisted[name] = shape_of_expr(small, shape_of)
        return name, small

    names = {}

    def record(small):
        name, value = hoist(small)
        names[name] = value
        return name

    return small_factors_first(expr, shape_of, record), names, shape_of


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FACTORS), min_size=2, max_size=6))
def test_every_product_touches_its_full_size_operands_with_at_most_one_smaller_factor(factors):
    expr = sp.Mul(*factors)
    out, hoisted, shape_of = _regrouped(expr)
    for mul in [m for m in sp.preorder_traversal(out) if isinstance(m, sp.Mul)] + [
            m for v in hoisted.values() for m in sp.preorder_traversal(v) if isinstance(m, sp.Mul)]:
        own = shape_of_expr(mul, shape_of)
        small = [f for f in mul.args if shape_of_expr(f, shape_of) != own]
        assert len(small) <= 1 or len(small) == len(mul.args), (expr, out, hoisted)
    for _ in hoisted:  # temporaries may read earlier ones
        out = out.xreplace({sp.Symbol(k): v for k, v in hoisted.items()})
    assert sp.simplify(out - expr) == 0


def test_logistic_hessian_scales_the_rows_of_X_in_one_pass():
    n, N = layers.size("n"), layers.size("N")
    x, X, y = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("X", N, n), sp.MatrixSymbol("y", N, 1)
    kernel = compile_hessian(layers.binary_cross_entropy_logits(X * x, y), [x], [X, y])
    hessian = kernel.source[kernel.source.index("def hessian"):].split("\n\n")[0]
    lines_with_X = [line for line in hessian.splitlines() if "X*" in line or "*X" in line]
    assert len(lines_with_X) == 1 and lines_with_X[0].count("*") == 1, hessian
    rng = np.random.default_rng(0)
    Xv, wv, yv = rng.normal(size=(40, 5)), rng.normal(size=(5, 1)), rng.integers(0, 2, (40, 1)).astype(float)
    s = 1 / (1 + np.exp(-(Xv @ wv)))
    np.testing.assert_allclose(kernel.hessian({X: Xv, x: wv, y: yv}), Xv.T @ (Xv * (s * (1 - s))), rtol=1e-12)


def _where_sigmoid(x):
    """The previous, np.where-based stable form: the reference for the branch-free one."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_branch_free_sigmoid_equals_the_where_form_bit_for_bit(dtype):
    namespace = {"np": np}
    exec(SIGMOID.numpy, namespace)  # noqa: S102 - our own helper text
    info = np.finfo(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, info.max, -info.max, info.tiny, -info.tiny, 1e-45, 750.0, -750.0]
    xs = np.concatenate([np.array(special), np.random.default_rng(0).normal(size=4000) * 30]).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        got, want = namespace["sigmoid"](xs), _where_sigmoid(xs)
    assert got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got, want)


def _function(source, name):
    return source[source.index(f"def {name}"):].split("\n\n")[0]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_a_function_read_twice_in_one_expression_is_computed_once(activation):
    """σ(z)·(1 − σ(z)) (the logistic Hessian's weight) calls σ once, into a temporary; the
    Hessian and H·V still equal the hand-written closed form."""
    n, N = layers.size("n"), layers.size("N")
    x, X, y = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("X", N, n), sp.MatrixSymbol("y", N, 1)
    kernel = compile_hessian(layers.binary_cross_entropy_logits(X * x, y), [x], [X, y])
    for name in ("hessian", "hvp"):
        body = _function(kernel.source, name)
        assert body.count("sigmoid(") == 1, body
    rng = np.random.default_rng(1)
    Xv, wv, yv, v = rng.normal(size=(30, 4)), rng.normal(size=(4, 1)), rng.integers(0, 2, (30, 1)).astype(float), rng.normal(size=(4, 1))
    s = 1 / (1 + np.exp(-(Xv @ wv)))
    H = Xv.T @ (Xv * (s * (1 - s)))
    args = kernel.arguments({X: Xv, x: wv, y: yv})
    np.testing.assert_allclose(kernel.module.hessian(*args), H, rtol=1e-12)
    np.testing.assert_allclose(kernel.module.hvp(*args, v)[0], H @ v, rtol=1e-12)
    mlp = symgrad.compile(symgrad.nn.matrix_mlp([3, 4, 2], activation=activation), cache=False)
    for line in _function(mlp.source, "loss_and_grad").splitlines():
        assert line.count(f"{activation}(") <= 1, line


def test_the_compound_operand_is_written_into_the_buffer_first():
    """`Y*(a − Z)` into a dead buffer is np.multiply(np.subtract(a, Z, out=...), Y, out=...): no fresh
    array for the difference, and the same numbers (two operands commute exactly)."""
    kernel = symgrad.compile(symgrad.nn.matrix_mlp([3, 4, 2], activation="sigmoid"), cache=False)
    body = _function(kernel.source, "loss_and_grad")
    assert "np.multiply(np.subtract(" in body, body
    assert not any(" - output" in line and "out=" in line for line in body.splitlines()), body
    rng = np.random.default_rng(2)
    X = rng.normal(size=(9, 3))
    Y = np.eye(2)[rng.integers(0, 2, 9)]
    W1, b1, W2, b2 = (rng.normal(size=s) for s in ((3, 4), (1, 4), (4, 2), (1, 2)))
    h1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
    z2 = h1 @ W2 + b2
    lse = np.log(np.exp(z2).sum(axis=1, keepdims=True))
    loss, grads = kernel.module.loss_and_grad(X, Y, W1, b1, W2, b2)
    assert loss == pytest.approx((Y * (lse - z2)).sum() / 9, rel=1e-13)
    d2 = (np.exp(z2 - lse) - Y) / 9
    np.testing.assert_allclose(grads[2], h1.T @ d2, rtol=1e-12)


_CALL = re.compile(r"\b[A-Za-z_]\w*\([^()]*\)")  # an innermost call, f(arguments without calls)
NESTED = {"tanh(tanh)": lambda u: sp.tanh(sp.tanh(u)), "tanh(sigmoid)": lambda u: sp.tanh(1 / (1 + sp.exp(-u))),
          "exp(tanh)": lambda u: sp.exp(sp.tanh(u)), "sin(cos)": lambda u: sp.sin(sp.cos(u))}


@pytest.mark.parametrize("name", NESTED)
def test_nested_calls_read_twice_are_each_computed_once(name):
    """f(g(z)) read twice: g(z) goes into a temporary first, then f of that temporary (hoisting both
    from the original expression left the outer call unmatched, computed twice); the Hessian still
    equals central differences of the gradient."""
    n, N = layers.size("n"), layers.size("N")
    x, X, y = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("X", N, n), sp.MatrixSymbol("y", N, 1)
    kernel = compile_hessian(layers.squared_error((X * x).applyfunc(NESTED[name]), y), [x], [X, y])
    for line in kernel.source.splitlines():
        calls = [c for c in _CALL.findall(line.split("=", 1)[-1]) if "out=" not in c]
        assert len(calls) == len(set(calls)), line
    rng = np.random.default_rng(3)
    Xv, wv, yv = rng.normal(size=(20, 3)) * 0.5, rng.normal(size=(3, 1)), rng.normal(size=(20, 1))
    H = kernel.module.hessian(*kernel.arguments({X: Xv, x: wv, y: yv}))
    h, columns = 1e-5, []
    for j in range(3):
        e = np.zeros((3, 1))
        e[j] = h
        grad = [kernel.module.loss_and_grad(*kernel.arguments({X: Xv, x: wv + s * e, y: yv}))[1][0] for s in (1, -1)]
        columns.append((grad[0] - grad[1]).ravel() / (2 * h))
    np.testing.assert_allclose(H, np.array(columns).T, rtol=1e-6, atol=1e-8)
