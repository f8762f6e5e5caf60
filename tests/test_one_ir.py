"""One kernel IR and one lowering for both levels (issue 11 part 5).

A scalar kernel is a kernel whose per-sample values have the batch shape (N,) and whose parameters
and sums are 0-d; both levels lower through `symgrad.lowering.lower` to the one `KernelIR`, name
their values by the one naming pass (`symgrad.value_names`), and the same model lowered at both
levels computes the same loss and gradients when rendered and run.
"""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import ir as kernel_ir
from symgrad import lift, nn
from symgrad.compiler import build_ir
from symgrad.ir import ArrayVar, Assign, KernelIR, Reduce, ReduceOp, Role
from symgrad.matrix.kernel import build_matrix_ir
from symgrad.matrix.runtime import MATRIX
from symgrad.runtime import Kernel, load_module
from symgrad.targets.cuda.matrix import render_cuda_matrix
from symgrad.targets.cuda.scalar import render_cuda
from symgrad.targets.numpy.matrix import render_numpy_matrix
from symgrad.targets.numpy.scalar import render_numpy

N = 7


def _model():
    return nn.mlp([2, 3, 2], "tanh", output_activation="identity", loss="squared_error", name="one_ir")


def _both(model):
    scalar = build_ir(model, name="one_ir_scalar")
    loss, params, inputs, outputs = lift.matrix_form(model)
    matrix = build_matrix_ir(loss, params, inputs, outputs, name="one_ir_matrix")
    return scalar, matrix, params, inputs


def test_both_levels_lower_to_the_one_kernel_ir_type():
    scalar, matrix, _, _ = _both(_model())
    assert type(scalar) is KernelIR and type(matrix) is KernelIR
    for ir in (scalar, matrix):
        assert all(type(v) is ArrayVar for v in ir.args)
        assert [v.role for v in ir.args] == [Role.DATA] * len(ir.data) + [Role.PARAM] * len(ir.params)
        for st in ir.statements:
            assert all(t in ir.types for t in st.targets), st
        for name in [ir.loss, *ir.grads, *ir.predictions]:
            assert name in ir.types and ir.producer(name) in ir.statements
    # the scalar level: per-sample values (N,), parameters and sums 0-d
    assert {v.type.shape for v in scalar.data} == {("N",)} and {v.type.shape for v in scalar.params} == {()}
    assert {type(st) for st in scalar.statements} == {Assign, Reduce}
    sums = [st for st in scalar.statements if isinstance(st, Reduce)]
    assert [st.target for st in sums] == [scalar.loss, *scalar.grads]
    assert all(st.op is ReduceOp.SUM and st.axis == 0 and st.type.shape == () for st in sums)
    assert all(scalar.types[st.source].shape in {("N",), ()} for st in sums)
    # the matrix level: whole arrays typed by their shapes
    assert {v.ident: v.type.shape for v in matrix.args}["W1"] == (2, 3)
    assert matrix.types[matrix.loss].shape == ()


def test_the_old_second_vocabulary_is_gone():
    for old in ("MatrixKernelIR", "Elementwise", "BatchSum", "Var"):
        assert not hasattr(kernel_ir, old), old


def test_one_naming_pass_names_both_levels_alike():
    scalar, matrix, _, _ = _both(_model())
    scalar_names = {t for st in scalar.statements for t in st.targets}
    matrix_names = {a.target for st in matrix.statements for a in getattr(st, "assigns", (st,))}
    assert {"z1_0", "h1_0", "z2_0", "d_z1_0", "d_z1_2", "d_W1_0_0", "d_W2_2_1", "grad_W1_0_0", "grad_b2_1"} <= scalar_names
    assert {"z1", "h1", "z2", "d_z2", "d_z1", "d_W1", "d_b1", "d_W2", "d_b2"} <= set(matrix.grads) | matrix_names
    assert matrix.grads == ["d_W1", "d_b1", "d_W2", "d_b2"]
    assert scalar.grads[0] == "grad_W1_0_0" and scalar.summand(scalar.grads[0]) == "d_W1_0_0"


def test_a_gradient_no_adjoint_names_is_d_of_its_parameter_at_both_levels():
    """A parameter the loss does not read has gradient 0; the shared rule still names it."""
    x, w, u = sp.symbols("x w u", real=True)
    scalar = build_ir((w * x - 1) ** 2, wrt=[w, u], inputs=[x], name="unused")
    assert scalar.summand(scalar.grads[1]) == "d_u"
    X, W, V = sp.MatrixSymbol("X", sp.Symbol("N"), 2), sp.MatrixSymbol("W", 2, 1), sp.MatrixSymbol("V", 2, 1)
    matrix = build_matrix_ir(symgrad.matrix.SumAll(sp.HadamardPower(X * W, 2)), [W, V], [X], name="unused_matrix")
    assert matrix.grads[1] == "d_V"


def _kernels(model):
    scalar, matrix, params, inputs = _both(model)
    scalar_source, matrix_source = render_numpy(scalar), render_numpy_matrix(matrix)
    return (Kernel(scalar, scalar_source, load_module(scalar_source, scalar.name), "numpy"),
            Kernel(matrix, matrix_source, load_module(matrix_source, matrix.name), "numpy", MATRIX), params, inputs)


@pytest.mark.parametrize("loss", ["squared_error", "softmax_cross_entropy"])
def test_the_same_model_at_both_levels_has_the_same_loss_and_gradient(loss):
    model = nn.mlp([2, 3, 2], "tanh", output_activation="identity", loss=loss, name=f"one_ir_{loss}")
    scalar, matrix, params, (X, Y) = _kernels(model)
    rng = np.random.default_rng(11)
    values = {p: float(rng.normal()) for p in model.params}
    features = rng.normal(size=(N, len(model.inputs)))
    targets = rng.normal(size=(N, len(model.targets))) if loss == "squared_error" else np.eye(2)[rng.integers(0, 2, N)]
    scalar_values = {**values, **dict(zip(model.inputs, features.T, strict=True)), **dict(zip(model.targets, targets.T, strict=True))}
    matrix_values = {X: features, Y: targets}
    for k, layer in enumerate(model.structure.layers):
        W, b = params[2 * k], params[2 * k + 1]
        matrix_values[W] = np.array([[values[w] for w in row] for row in layer.weights])
        matrix_values[b] = np.array([[values[c] for c in layer.biases]])
    scalar_loss, scalar_grads = scalar.loss_and_grad(scalar_values)
    matrix_loss, matrix_grads = matrix.loss_and_grad(matrix_values)
    np.testing.assert_allclose(matrix_loss, scalar_loss, rtol=1e-12)
    by_symbol = dict(zip(model.params, scalar_grads, strict=True))
    for k, layer in enumerate(model.structure.layers):
        np.testing.assert_allclose(matrix_grads[2 * k], [[by_symbol[w] for w in row] for row in layer.weights], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(matrix_grads[2 * k + 1], [[by_symbol[c] for c in layer.biases]], rtol=1e-10, atol=1e-12)
    # and both against central differences of the scalar loss
    h = 1e-6
    for p, g in by_symbol.items():
        up = scalar.loss_and_grad({**scalar_values, p: values[p] + h})[0]
        down = scalar.loss_and_grad({**scalar_values, p: values[p] - h})[0]
        np.testing.assert_allclose(g, (up - down) / (2 * h), rtol=1e-5, atol=1e-7, err_msg=str(p))


def test_each_targets_renderers_read_the_one_ir():
    scalar, matrix, _, _ = _both(_model())
    assert "const sg_real d_z1_0 = " in render_cuda(scalar).kernel
    assert "d_W1 = " in render_cuda_matrix(matrix).launcher
    assert "d_z1_0 = " in render_numpy(scalar) and "d_W1 = " in render_numpy_matrix(matrix)


def test_producer_answers_from_an_index_that_follows_the_statement_list():
    """Renderers ask every result's producer (a scan per call made rendering quadratic): the index is
    built once, names the last statement computing a value, and is rebuilt when the list changes."""
    model = nn.mlp([2, 3, 1], activation="sigmoid", seed=0)
    ir = build_ir(model.loss, model.params, model.data)
    for name in [ir.loss, *ir.grads]:
        assert ir.producer(name) is next(st for st in reversed(ir.statements) if name in st.targets)
    first = ir.producer(ir.loss)
    again = Assign(ir.loss, sp.S.Zero, ir.types[ir.loss], first.phase)
    ir.statements.append(again)  # a later statement computing the same value wins, as in the code
    assert ir.producer(ir.loss) is again
    ir.statements = [*ir.statements[:-1]]
    assert ir.producer(ir.loss) is first
    with pytest.raises(KeyError):
        ir.producer("no_such_value")
