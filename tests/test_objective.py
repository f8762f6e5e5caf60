"""`kernel.objective(values)`: θ ↦ (loss, gradient vector) on one flat parameter vector (issue 12, part 5).

Every gradient kind (scalar, matrix, lifted `nn.mlp` on both of its halves, CUDA through the host
emulation, a kernel rebuilt as a Dask worker does) must give, at any θ, the numbers of
`loss_and_grad` on the same parameters per symbol, and those of numeric autodiff (which walks the
expression, not the generated code); the loss's central differences must match the gradient; bad θ
is our error naming the parameter or the shape.
"""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import models, nn, remote
from symgrad.errors import InvalidArgumentError, NonFiniteError
from symgrad.matrix import Map, SumAll
from symgrad.objective import Objective

N = sp.Symbol("N", integer=True, positive=True)
x, y, w, b = sp.symbols("x y w b")
X, Y, W = sp.MatrixSymbol("X", N, 2), sp.MatrixSymbol("Y", N, 1), sp.MatrixSymbol("W", 2, 1)
c = sp.Symbol("c")
z, t = sp.symbols("z t")
SCALAR_LOSS = (sp.exp(w * x) - y) ** 2 + b**2 * x**2
MATRIX_LOSS = SumAll(Map(sp.Lambda((z, t), (sp.exp(z) - t) ** 2), X * W, Y)) + c**2 * SumAll(W)
MLP = nn.mlp([3, 4, 2], seed=0)


def _cuda(loss, wrt, inputs):
    from symgrad.cuda_emu import Backend

    return symgrad.compile(loss, wrt=wrt, inputs=inputs, target="cuda", cache=False).on(Backend())


def _remote():
    remote.forget()
    return remote.KernelSpec.of(symgrad.compile(SCALAR_LOSS, wrt=[w, b], inputs=[x, y], cache=False)).kernel()


def scalar_values(rng, rows):
    return {x: rng.normal(size=rows), y: rng.normal(size=rows), w: 0.3, b: -0.2}


def matrix_values(rng, rows):
    return {X: rng.normal(size=(rows, 2)), Y: rng.normal(size=(rows, 1)), W: np.array([[0.3], [-0.2]]), c: 0.7}


def mlp_values(rng, rows):
    X_, Y_ = rng.normal(size=(rows, 3)), rng.uniform(size=(rows, 2))
    return {**MLP.initial_values(), **models.data_values(MLP, X_, Y_)}


SHUFFLED = list(np.random.default_rng(5).permutation(list(MLP.params)))
KINDS = {  # name -> (build, values, loss autodiff reads, wrt)
    "scalar": (lambda: symgrad.compile(SCALAR_LOSS, wrt=[w, b], inputs=[x, y], cache=False), scalar_values, SCALAR_LOSS, [w, b]),
    "matrix": (lambda: symgrad.compile(MATRIX_LOSS, wrt=[W, c], inputs=[X, Y], cache=False), matrix_values, MATRIX_LOSS, [W, c]),
    "lifted": (lambda: symgrad.compile(MLP, cache=False), mlp_values, MLP.loss, list(MLP.params)),
    "lifted, wrt shuffled": (lambda: symgrad.compile(MLP, wrt=SHUFFLED, cache=False), mlp_values, MLP.loss, SHUFFLED),
    "cuda scalar": (lambda: _cuda(SCALAR_LOSS, [w, b], [x, y]), scalar_values, SCALAR_LOSS, [w, b]),
    "cuda matrix": (lambda: _cuda(MATRIX_LOSS, [W, c], [X, Y]), matrix_values, MATRIX_LOSS, [W, c]),
    "remote": (_remote, scalar_values, SCALAR_LOSS, [w, b]),
}
ROWS = [3, 40]  # the per-sample loop's batch and one past it (a lifted kernel's matrix half)


def _flat(grads):
    return np.concatenate([np.ravel(np.asarray(g, dtype=np.float64)) for g in grads])


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("name", list(KINDS))
def test_the_objective_computes_loss_and_grad_and_autodiff_at_every_theta(name, rows):
    build, make_values, loss, wrt = KINDS[name]
    kernel = build()
    rng = np.random.default_rng(rows)
    values = make_values(rng, rows)
    objective = kernel.objective(values)
    assert isinstance(objective, Objective) and objective.wrt == list(kernel.wrt) == wrt
    value, grad = kernel.loss_and_grad(values)
    np.testing.assert_allclose(objective.x0, _flat([values[s] for s in wrt]))
    got_value, got_grad = objective(objective.x0)
    assert type(got_value) is float and got_grad.shape == objective.x0.shape and got_grad.dtype == np.float64
    np.testing.assert_allclose(got_value, value, rtol=1e-12)
    np.testing.assert_allclose(got_grad, _flat(grad), rtol=1e-12, atol=1e-14)
    for _ in range(2):  # another θ: the per-symbol call on the same parameters, and numeric autodiff
        theta = objective.x0 + 0.1 * rng.normal(size=objective.x0.shape)
        kept = theta.copy()
        got_value, got_grad = objective(theta)
        np.testing.assert_array_equal(theta, kept)  # θ is read, never written
        moved = {**values, **objective.by_symbol(theta)}
        want_value, want_grad = kernel.loss_and_grad(moved)
        np.testing.assert_allclose(got_value, want_value, rtol=1e-12)
        np.testing.assert_allclose(got_grad, _flat(want_grad), rtol=1e-10, atol=1e-13)
        reference = symgrad.autodiff.backward(loss, wrt, moved)
        np.testing.assert_allclose(got_value, np.sum(reference.value), rtol=1e-9)
        np.testing.assert_allclose(got_grad, _flat(reference.grads), rtol=1e-8, atol=1e-12)
    direction = rng.normal(size=theta.shape)  # central differences of the loss along a direction
    h = 1e-6
    slope = (objective.loss(theta + h * direction) - objective.loss(theta - h * direction)) / (2 * h)
    np.testing.assert_allclose(slope, objective.grad(theta) @ direction, rtol=1e-6, atol=1e-8)


def test_by_symbol_gives_floats_for_scalars_and_shaped_arrays_for_matrices():
    kernel = symgrad.compile(MATRIX_LOSS, wrt=[W, c], inputs=[X, Y], cache=False)
    objective = kernel.objective(matrix_values(np.random.default_rng(0), 5))
    assert objective.sizes == [2, 1]
    back = objective.by_symbol([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(back[W], [[1.0], [2.0]])
    assert float(back[c]) == 3.0
    scalar = symgrad.compile(SCALAR_LOSS, wrt=[w, b], inputs=[x, y], cache=False)
    assert scalar.objective(scalar_values(np.random.default_rng(0), 5)).by_symbol([1.5, 2.5]) == {w: 1.5, b: 2.5}


def test_a_lifted_objective_trains_like_the_per_symbol_loop():
    """Ten SGD steps on θ reach the parameters (and losses) of ten steps of the documented per-symbol loop."""
    kernel = symgrad.compile(MLP, cache=False)
    values = mlp_values(np.random.default_rng(1), 64)
    objective = kernel.objective(values)
    theta, per_symbol = objective.x0.copy(), dict(values)
    for _ in range(10):
        value, grad = objective(theta)
        theta = theta - 0.05 * grad
        want, grads = kernel.loss_and_grad(per_symbol)
        per_symbol.update({s: per_symbol[s] - 0.05 * g for s, g in zip(kernel.wrt, grads, strict=True)})
        np.testing.assert_allclose(value, want, rtol=1e-12)
    np.testing.assert_allclose(theta, [per_symbol[s] for s in kernel.wrt], rtol=1e-12)


def test_scipy_minimize_takes_the_objective_with_jac_true():
    optimize = pytest.importorskip("scipy.optimize", reason="scipy is not installed")
    rng = np.random.default_rng(2)
    data = rng.normal(size=(50, 2))
    values = {X: data, Y: data @ np.array([[0.4], [-0.3]]), W: np.zeros((2, 1))}
    loss = SumAll(sp.HadamardPower(X * W - Y, 2))
    kernel = symgrad.compile(loss, wrt=[W], inputs=[X, Y], cache=False)
    objective = kernel.objective(values)
    result = optimize.minimize(objective, objective.x0, jac=True, method="BFGS")
    np.testing.assert_allclose(objective.by_symbol(result.x)[W], [[0.4], [-0.3]], atol=1e-6)


def test_float32_kernels_take_and_give_float32_vectors():
    kernel = symgrad.compile(MLP, dtype="float32", cache=False)
    values = mlp_values(np.random.default_rng(3), 40)
    objective = kernel.objective(values)
    value, grad = objective(objective.x0)
    assert objective.x0.dtype == grad.dtype == np.float32
    want_value, want_grad = symgrad.compile(MLP, cache=False).objective(values)(objective.x0.astype(np.float64))
    np.testing.assert_allclose(value, want_value, rtol=1e-5)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("rows", ROWS)
def test_theta_of_the_wrong_shape_or_kind_is_our_error_naming_the_shape(rows):
    kernel = symgrad.compile(MLP, cache=False)
    objective = kernel.objective(mlp_values(np.random.default_rng(0), rows))
    size = len(kernel.wrt)
    with pytest.raises(InvalidArgumentError, match=rf"shape \({size},\).*got shape \({size - 1},\)"):
        objective(objective.x0[:-1])
    with pytest.raises(InvalidArgumentError, match=r"shape .*got shape \(1, %d\)" % size):
        objective(objective.x0[None, :])
    with pytest.raises(InvalidArgumentError, match="real numbers.*str"):
        objective(["a"] * size)
    with pytest.raises(InvalidArgumentError, match="lays out the parameters"):
        objective.by_symbol([1.0])


@pytest.mark.parametrize("rows", ROWS)
def test_nonfinite_theta_names_the_parameter_unless_propagated(rows):
    kernel = symgrad.compile(MLP, cache=False)
    values = mlp_values(np.random.default_rng(0), rows)
    theta = kernel.objective(values).x0.copy()
    where = kernel.wrt.index(MLP.structure.layers[1].biases[0])
    theta[where] = np.nan
    with pytest.raises(NonFiniteError, match=rf"θ holds NaN or Inf for {MLP.structure.layers[1].biases[0]}\b"):
        kernel.objective(values)(theta)
    value, grad = kernel.objective(values, nonfinite="propagate")(theta)
    assert np.isnan(value) and np.isnan(grad).any()


def test_nonfinite_results_from_finite_theta_name_the_gradients():
    kernel = symgrad.compile(SCALAR_LOSS, wrt=[w, b], inputs=[x, y], cache=False)
    objective = kernel.objective(scalar_values(np.random.default_rng(0), 40))
    with pytest.raises(NonFiniteError, match="d/dw"):
        objective([1e3, 0.0])  # exp(w x) overflows
    value, grad = kernel.objective(scalar_values(np.random.default_rng(0), 40), nonfinite="propagate")([1e3, 0.0])
    assert not np.isfinite(value)


def test_bad_values_and_policies_are_the_checked_paths_errors():
    kernel = symgrad.compile(MLP, cache=False)
    values = mlp_values(np.random.default_rng(0), 40)
    with pytest.raises(InvalidArgumentError, match="nonfinite must be one of"):
        kernel.objective(values, nonfinite="ignore")
    missing = dict(values)
    del missing[MLP.inputs[0]]
    with pytest.raises(symgrad.errors.UnboundSymbolError, match=str(MLP.inputs[0])):
        kernel.objective(missing)
    bad = {**values, MLP.inputs[1]: np.full(40, np.inf)}
    with pytest.raises(NonFiniteError, match=str(MLP.inputs[1])):
        kernel.objective(bad)
