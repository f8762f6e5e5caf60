"""Scalar dense models lifted to matrix kernels (symgrad.lift): same numbers, same names, same errors.

`symgrad.compile(nn.mlp(...))` answers batches above the per-sample loop's limit through the
matrix form of the network. Every result is compared with the plain scalar kernel of the same
expression (compiled from the loss, so nothing is lifted), with autodiff and with central
differences of the loss.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import autodiff, models, nn
from symgrad.errors import InvalidArgumentError, NonFiniteError, SymgradError
from symgrad.lift import Lifted
from symgrad.targets.numpy.scalar import LOOP_MAX


def _plain(model):
    return symgrad.compile(model.loss, wrt=list(model.params), inputs=list(model.data), cache=False)


def _values(model, n, rng):
    X = rng.normal(size=(n, len(model.inputs)))
    if model.structure.loss == "softmax_cross_entropy":
        Y = np.eye(len(model.targets))[rng.integers(0, len(model.targets), n)]
    else:
        Y = rng.uniform(size=(n, len(model.targets)))
    return {**model.initial_values(), **models.data_values(model, X, Y)}


CONFIGS = [  # (sizes, activation, output activation, loss)
    ([3, 4, 2], "sigmoid", None, "squared_error"),
    ([2, 5, 3, 1], "tanh", "sigmoid", "mse"),
    ([4, 3, 3], "relu", "identity", "softmax_cross_entropy"),
    ([3, 6, 1], "softplus", "identity", "binary_cross_entropy_with_logits"),
    ([5, 2], "identity", "identity", "squared_error"),
]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=st.sampled_from(CONFIGS), n=st.sampled_from([LOOP_MAX + 1, 64, 257]), seed=st.integers(0, 2**16))
def test_lifted_kernel_matches_the_scalar_kernel_and_autodiff(config, n, seed):
    sizes, act, out_act, loss = config
    model = nn.mlp(sizes, activation=act, output_activation=out_act, loss=loss, seed=seed % 7)
    kernel = symgrad.compile(model, cache=False)
    assert isinstance(kernel.level, Lifted)
    values = _values(model, n, np.random.default_rng(seed))
    value, grads = kernel.loss_and_grad(values)
    want_value, want_grads = _plain(model).loss_and_grad(values)
    assert len(grads) == len(model.params) and all(type(g) is float for g in grads)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    np.testing.assert_allclose(grads, want_grads, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(want_grads).max()))
    np.testing.assert_allclose(grads, autodiff.grad(model.loss, list(model.params), values), rtol=1e-9,
                               atol=1e-12 * max(1.0, np.abs(want_grads).max()))
    np.testing.assert_allclose(kernel.loss(values), want_value, rtol=1e-12)
    for got, want in zip(kernel.predict(values), _plain_predict(model, values), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def _plain_predict(model, values):
    plain = symgrad.compile(model.loss, wrt=list(model.params), inputs=list(model.data), outputs=list(model.outputs),
                            cache=False)
    return plain.predict(values)


def test_lifted_gradient_matches_central_differences(rng):
    model = nn.mlp([3, 5, 2], activation="tanh", seed=1)
    kernel = symgrad.compile(model, cache=False)
    values = _values(model, 40, rng)
    grads = kernel.grad(values)
    h = 1e-6
    for k in rng.choice(len(model.params), size=6, replace=False):
        p = model.params[k]
        up, down = {**values, p: values[p] + h}, {**values, p: values[p] - h}
        np.testing.assert_allclose(grads[k], (kernel.loss(up) - kernel.loss(down)) / (2 * h), rtol=1e-6, atol=1e-8)


def test_seed_batch_runs_the_scalar_kernel_bit_for_bit():
    model = models.seed()
    kernel = symgrad.compile(model, cache=False)
    values = {**model.initial_values(), **models.data_values(model, models.SEED_X, models.SEED_Y)}
    assert kernel.loss_and_grad(values) == _plain(model).loss_and_grad(values)
    assert kernel.level._matrix is None  # N = 3 never needed the matrix kernel


@pytest.mark.parametrize("change", ["missing", "nan", "lengths", "array_param", "complex"])
def test_lifted_kernel_raises_the_scalar_kernels_errors(change, rng):
    model = nn.mlp([3, 4, 1], seed=0)
    values = _values(model, 50, rng)
    x0, w = model.inputs[0], model.params[0]
    bad = dict(values)
    if change == "missing":
        del bad[x0]
    elif change == "nan":
        bad[x0] = np.where(np.arange(50) == 7, np.nan, values[x0])
    elif change == "lengths":
        bad[x0] = values[x0][:10]
    elif change == "array_param":
        bad[w] = np.ones(3)
    else:
        bad[x0] = values[x0] + 1j
    errors = []
    for kernel in (symgrad.compile(model, cache=False), _plain(model)):
        with pytest.raises(SymgradError) as info:
            kernel.loss_and_grad(bad)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]


def test_lifted_kernel_names_nonfinite_results_like_the_scalar_kernel(rng):
    model = nn.mlp([2, 3, 1], activation="identity", seed=0)
    values = {**_values(model, 30, rng), **{p: 1e200 for p in model.params}}
    with pytest.raises(NonFiniteError, match=r"computed NaN or Inf for loss, d/dW1_0_0"):
        symgrad.compile(model, cache=False).loss_and_grad(values)
    value, grads = symgrad.compile(model, cache=False).loss_and_grad(values, nonfinite="propagate")
    assert not np.isfinite(value)


def test_models_without_a_matrix_form_keep_the_scalar_kernel():
    bce = nn.mlp([2, 3, 1], loss="binary_cross_entropy")
    assert not isinstance(symgrad.compile(bce, cache=False).level, Lifted)
    model = nn.mlp([2, 3, 1])
    assert not isinstance(symgrad.compile(model, outputs=[model.outputs[0] * 2], cache=False).level, Lifted)
    assert not isinstance(symgrad.compile(model, method="diff", cache=False).level, Lifted)  # no matrix form
    assert not isinstance(symgrad.compile(model, target="cuda").level, Lifted)


def test_scalar_parts_stay_available_on_a_lifted_kernel(rng):
    model = nn.mlp([3, 4, 1], seed=0)
    kernel = symgrad.compile(model, cache=False)
    values = _values(model, 30, rng)
    np.testing.assert_allclose(kernel.per_sample_grad(values).sum(0), kernel.grad(values), rtol=1e-10)
    assert "def loss_and_grad_loop" in kernel.source and kernel.module.LOOP_MAX == LOOP_MAX
    assert len(kernel.arguments(values)) == len(model.data) + len(model.params)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "softplus", "identity", "logsigmoid"])
def test_fast_network_construction_builds_the_expression_sympy_would(activation):
    """nn.dense and the squared error skip sympy's evaluation passes; the expressions must be the same."""
    from symgrad.primitives import activation as resolve

    act = resolve(activation)
    model = nn.mlp([3, 4, 2], activation=activation, seed=0)
    h = list(model.inputs)
    for layer in model.structure.layers:
        h = [act(sp.Add(*[row[j] * x for row, x in zip(layer.weights, h, strict=True)]) + layer.biases[j])
             for j in range(len(layer.biases))]
    want = sp.Add(*[(p - t) ** 2 for p, t in zip(h, model.targets, strict=True)])
    assert model.loss == want and sp.srepr(model.loss) == sp.srepr(want)
    assert list(model.outputs) == h


def _hand_written_seed():
    """The seed network written out by hand, the way the seed text does, not through nn.mlp."""
    x = sp.symbols("x0:4", real=True)
    y = sp.Symbol("t", real=True)
    W = [[sp.Symbol(f"w_{i}{j}", real=True) for j in range(3)] for i in range(4)]
    b = [sp.Symbol(f"c_{j}", real=True) for j in range(3)]
    V = [sp.Symbol(f"v_{j}", real=True) for j in range(3)]
    d = sp.Symbol("d", real=True)
    hidden = [symgrad.sigmoid(sum(W[i][j] * x[i] for i in range(4)) + b[j]) for j in range(3)]
    out = symgrad.sigmoid(sum(V[j] * hidden[j] for j in range(3)) + d)
    params = [w for row in W for w in row] + b + V + [d]
    return (out - y) ** 2, params, [*x, y]


def test_hand_written_dense_network_is_recognised_and_lifted(rng):
    loss, params, data = _hand_written_seed()
    order = rng.permutation(len(params))
    wrt = [params[k] for k in order]
    kernel = symgrad.compile(loss, wrt=wrt, inputs=data[::-1], cache=False)
    assert isinstance(kernel.level, Lifted)
    plain = symgrad.compile(loss, wrt=wrt, inputs=data[::-1], method="diff", cache=False)  # no matrix form: unrolled
    assert not isinstance(plain.level, Lifted)
    for n in (3, 100):
        values = {**{p: float(v) for p, v in zip(params, rng.normal(size=len(params)), strict=True)},
                  **{s: rng.normal(size=n) for s in data}}
        value, grads = kernel.loss_and_grad(values)
        want_value, want_grads = plain.loss_and_grad(values)
        np.testing.assert_allclose(value, want_value, rtol=1e-12)
        np.testing.assert_allclose(grads, want_grads, rtol=1e-10, atol=1e-14)
    for k in (kernel, plain):  # compiled without outputs=: nothing to predict, said the same way
        with pytest.raises(InvalidArgumentError, match="outputs="):
            k.predict(values)


@pytest.mark.parametrize("change", ["shared_weight", "extra_term", "weight_squared", "two_biases"])
def test_expressions_that_are_not_dense_networks_keep_the_unrolled_kernel(change):
    loss, params, data = _hand_written_seed()
    w, v = params[0], params[-2]
    if change == "shared_weight":
        loss, params = loss.xreplace({params[1]: w}), [p for p in params if p != params[1]]
    elif change == "extra_term":
        loss = loss + w**2
    elif change == "weight_squared":
        loss = loss.xreplace({w: w**2})
    else:
        loss = loss.xreplace({v: v + params[12]})
    kernel = symgrad.compile(loss, wrt=params, inputs=data, cache=False)
    assert not isinstance(kernel.level, Lifted)


def test_float32_lifted_kernel_matches_the_float32_scalar_kernel(rng):
    model = nn.mlp([4, 8, 2], activation="tanh", seed=3)
    kernel = symgrad.compile(model, dtype="float32", cache=False)
    plain = symgrad.compile(model.loss, wrt=list(model.params), inputs=list(model.data), dtype="float32", cache=False)
    values = _values(model, 200, rng)
    assert isinstance(kernel.level, Lifted) and kernel.level.matrix_half.dtype == np.float32
    value, grads = kernel.loss_and_grad(values)
    want_value, want_grads = plain.loss_and_grad(values)
    np.testing.assert_allclose(value, want_value, rtol=1e-4)
    np.testing.assert_allclose(grads, want_grads, rtol=1e-3, atol=1e-4 * np.abs(want_grads).max())
