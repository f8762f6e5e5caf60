"""Generated numpy for matrix-level models: BLAS products, fused entrywise lines, textbook names,
float32 and float64, gradients equal to matrix autodiff (itself checked against finite differences)."""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.ir import FusedElementwise, MatMul, Reduce
from symgrad.matrix import RowSoftmax, SumAll, layers
from symgrad.matrix.kernel import build_matrix_ir

N = layers.size("N")
X, Y = sp.MatrixSymbol("X", N, 4), sp.MatrixSymbol("Y", N, 3)
W, V = sp.MatrixSymbol("W", 4, 3), sp.MatrixSymbol("V", 3, 3)
b = sp.MatrixSymbol("b", 1, 3)
s = sp.Symbol("s", real=True)


def _data(model_inputs, n=6, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for m in model_inputs:
        shape = tuple(n if not d.is_Integer else int(d) for d in m.shape)
        out[m] = rng.normal(size=shape)
    return out


MODELS = {
    "mlp-tanh-softmax-ce": lambda: symgrad.nn.matrix_mlp([4, 5, 3], activation="tanh"),
    "mlp-sigmoid-mse": lambda: symgrad.nn.matrix_mlp([4, 6, 2, 3], activation="sigmoid", loss="mse"),
    "mlp-relu-softmax-ce": lambda: symgrad.nn.matrix_mlp([4, 8, 3], activation="relu"),
}


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-4)])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_generated_mlp_matches_autodiff(name, dtype, tol):
    model = MODELS[name]()
    values = {**model.initial_values(), **_data(model.inputs + model.targets)}
    kernel = symgrad.compile(model, dtype=dtype)
    value, grads = kernel.loss_and_grad(values)
    expected = symgrad.autodiff.backward(model.loss, model.params, values)
    assert value == pytest.approx(float(expected.value), rel=tol)
    for p, g, e in zip(model.params, grads, expected.grads, strict=True):
        assert g.shape == e.shape and g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=str(p))


OTHER = [
    pytest.param(SumAll(sp.HadamardProduct(Y, RowSoftmax(X * W + sp.OneMatrix(N, 1) * b))), [W, b], id="softmax"),
    pytest.param(sp.Trace(W.T * X.T * X * W * V) + s * SumAll(sp.HadamardPower(V, 2)), [W, V, s], id="trace-and-scalar"),
    pytest.param((X * W)[1, 2] * sp.tanh(W[0, 0]), [W], id="element"),
    pytest.param(SumAll(sp.HadamardProduct((X * W).T * Y, V)), [W, V], id="transpose-of-product"),
    pytest.param(X * W, [W], id="matrix-valued-loss"),
    pytest.param(SumAll(sp.HadamardPower(X * W * V**3, 2)) + sp.Trace(V**2), [W, V], id="matrix-power"),
    pytest.param(SumAll(X * W * V), [W, V], id="ones-inside-gradient"),  # d/dW = Xᵀ·1·Vᵀ
    pytest.param(SumAll(sp.HadamardPower(sp.MatMul(s, X, sp.OneMatrix(4, N), sp.OneMatrix(N, 4), W, sp.OneMatrix(3, 3), V), 2)),
                 [W, V, s], id="ones-inside-product"),
]


@pytest.mark.parametrize("loss, wrt", OTHER)
def test_generated_kernels_for_other_node_types_match_autodiff(loss, wrt):
    syms = sorted(symgrad.matrix.graph.matrix_symbols([loss]) - {N}, key=str)
    values = {**_data([m for m in syms if isinstance(m, sp.MatrixSymbol)]), s: 0.3}
    inputs = [m for m in syms if m not in wrt]
    kernel = symgrad.compile(loss, wrt=wrt, inputs=inputs)
    value, grads = kernel.loss_and_grad(values)
    expected = symgrad.autodiff.backward(loss, wrt, values)
    assert value == pytest.approx(float(expected.value), rel=1e-12)
    for g, e in zip(grads, expected.grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_product_chains_multiply_in_the_cheapest_order():
    """A linear network's dL/dW1 is Xᵀ·D·W3ᵀ·W2ᵀ with D (the output's gradient) 10 columns wide:
    (XᵀD)(W3ᵀW2ᵀ) costs 3.4M multiplications where left to right costs 54M; the kernel still
    equals matrix autodiff. Square chains keep left to right (the cheaper order wins only strictly)."""
    from symgrad.lowering.matrix import chain_order

    n = layers.size("N")
    Xs, D = sp.MatrixSymbol("X", n, 784), sp.MatrixSymbol("D", n, 10)
    W2, W3 = sp.MatrixSymbol("W2", 256, 256), sp.MatrixSymbol("W3", 256, 10)
    assert chain_order([Xs.T, D, W3.T, W2.T])[0, 3] == 1
    assert chain_order([V, V, V]) == {(0, 1): 0, (1, 2): 1, (0, 2): 1}
    A, B, C = sp.MatrixSymbol("A", N, 4), sp.MatrixSymbol("B", 4, 5), sp.MatrixSymbol("C", 5, 2)
    loss = SumAll(sp.HadamardPower(A * B * C, 2))  # d/dB = Aᵀ·G·Cᵀ: (AᵀG)Cᵀ with G two wide
    kernel = symgrad.compile(loss, wrt=[B, C], inputs=[A])
    values = _data([A, B, C], n=40)
    value, grads = kernel.loss_and_grad(values)
    expected = symgrad.autodiff.backward(loss, [B, C], values)
    assert value == pytest.approx(float(expected.value), rel=1e-12)
    for g, e in zip(grads, expected.grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_backward_pass_reads_like_textbook_backprop():
    kernel = symgrad.compile(symgrad.nn.matrix_mlp([4, 5, 3], activation="tanh"))
    source = kernel.source
    for line in ("z1 = X @ W1", "h1 = np.tanh(np.add(b1, z1, out=z1), out=z1)", "d_h1 = d_z2 @ W2.T",
                 "d_z1 = np.multiply(d_h1, 1 - h1", "d_W1 = X.T @ d_z1", "d_b1 = column_sums(d_z1)", "d_W2 = h1.T @ d_z2"):
        assert line in source
    bodies = source[source.index("def predict("):]  # the helpers above build their column of ones
    assert ".T.copy" not in bodies and "np.ones" not in bodies


def test_ir_has_typed_matmuls_with_transpose_flags_and_fused_chains():
    model = symgrad.nn.matrix_mlp([4, 5, 3])
    ir = build_matrix_ir(model.loss, model.params, model.data, name="m")
    matmuls = [st for st in ir.statements if isinstance(st, MatMul)]
    assert {(m.a, m.b, m.transpose_a, m.transpose_b) for m in matmuls} >= {("X", "d_z1", True, False), ("d_z2", "W2", False, True)}
    assert all(m.type.shape and m.type.dtype == "float64" for m in matmuls)
    fused = [st for st in ir.statements if isinstance(st, FusedElementwise)]
    assert fused and all(st.outputs for st in fused)
    # no two fused blocks are adjacent: each chain between products/reductions is one block
    for a, c in zip(ir.statements, ir.statements[1:], strict=False):
        assert not (isinstance(a, FusedElementwise) and isinstance(c, FusedElementwise) and a.phase is c.phase)
    assert any(isinstance(st, Reduce) and st.axis == 0 for st in ir.statements)  # bias gradients
    assert "X.T @ d_z1" in str(ir) or "= X.T @ d_z1" in str(ir)


def test_generation_is_deterministic_and_sizes_stay_symbolic():
    a = symgrad.compile(symgrad.nn.matrix_mlp(["d", 16, 10])).source
    c = symgrad.compile(symgrad.nn.matrix_mlp(["d", 16, 10])).source
    assert a == c and "d = X.shape[1]" not in a  # d is only a shape, never a number in the code
    kernel = symgrad.compile(symgrad.nn.matrix_mlp(["d", 16, 10]))
    model = symgrad.nn.matrix_mlp(["d", 16, 10])
    rng = np.random.default_rng(1)
    W1, b1, W2, b2 = model.params
    values = {model.inputs[0]: rng.normal(size=(5, 7)), model.targets[0]: np.eye(10)[[0, 1, 2, 3, 4]],
              W1: rng.normal(size=(7, 16)), b1: np.zeros((1, 16)), W2: rng.normal(size=(16, 10)), b2: np.zeros((1, 10))}
    grads = kernel.grad(values)
    assert grads[0].shape == (7, 16)
    for g, e in zip(grads, symgrad.autodiff.grad(model.loss, model.params, values), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_kernel_rejects_values_of_the_wrong_shape():
    kernel = symgrad.compile(symgrad.nn.matrix_mlp([4, 5, 3]))
    model = symgrad.nn.matrix_mlp([4, 5, 3])
    values = {**model.initial_values(), **_data(model.data)}
    values[model.params[0]] = np.ones((5, 4))
    with pytest.raises(symgrad.ShapeError, match="W1"):
        kernel.grad(values)


def test_dead_temporaries_are_reused_and_inputs_never_written(rng):
    """Results go into dead same-shape arrays (`out=`); arguments stay untouched; calls repeat."""
    model = symgrad.nn.matrix_mlp([6, 7, 3], activation="tanh", loss="softmax_cross_entropy")
    kernel = symgrad.compile(model, cache=False)
    assert kernel.source.count("out=") >= 3
    values = model.initial_values()
    values.update({model.data[0]: rng.normal(size=(11, 6)), model.data[1]: np.eye(3)[rng.integers(0, 3, 11)]})
    before = {k: np.array(v, copy=True) for k, v in values.items()}
    first = kernel.grad(values)
    second = kernel.grad(values)
    for k, v in before.items():
        np.testing.assert_array_equal(values[k], v)
    for a, b, c in zip(first, second, symgrad.autodiff.grad(model.loss, model.params, values)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_generated_step_helper_is_numpys_heaviside(dtype):
    """The relu/abs derivatives' step helper (written for speed) keeps np.heaviside's values:
    at zero, for NaN and ±inf, for scalars and arrays."""
    from symgrad.targets.python_printers import STEP

    namespace = {"np": np}
    exec(STEP[0], namespace)
    step = namespace["step"]
    values = np.array([-2, -1, 0, 1, 3], dtype=dtype)
    if np.dtype(dtype).kind == "f":
        values = np.concatenate([values, np.array([np.nan, np.inf, -np.inf, -0.0], dtype=dtype)])
    for at_zero in (0, 0.5, 1):
        got, want = step(values, at_zero), np.heaviside(values, at_zero)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        for v in values[:3]:
            assert step(v, at_zero) == np.heaviside(v, at_zero) and np.ndim(step(v, at_zero)) == 0
