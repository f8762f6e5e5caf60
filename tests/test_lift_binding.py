"""The lifted kernel's matrix binding (symgrad.lift_binding) answers as the checked path and as backprop.

A scalar `nn.mlp` too large for the per-symbol prepared binding reads a float64 `values` dict
straight into its weight matrices. Its answers must be the checked path's bit for bit (values,
gradients, errors), for every key order (weights in matrix order, shuffled, scattered among the data,
keyed by name) and every kind of value, and equal to backpropagation written here in numpy.
"""

import copy

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import models, nn
from symgrad.errors import NonFiniteError, SymgradError
from symgrad.lift_binding import MatrixBinding
from symgrad.targets.numpy.scalar import LOOP_MAX

MODEL = nn.mlp([3, 20, 20, 1], activation="sigmoid", loss="squared_error", seed=1)  # 521 parameters
KERNEL = symgrad.compile(MODEL, cache=False)


def _slow(kernel):
    slow = copy.copy(kernel)
    slow._prepared = None
    return slow


def _outcome(kernel, values, nonfinite="raise"):
    try:
        return "ok", kernel.loss_and_grad(values, nonfinite=nonfinite)
    except SymgradError as exc:
        return type(exc).__name__, str(exc)


def _values(rng, n=64):
    X, Y = rng.normal(size=(n, 3)), rng.uniform(size=(n, 1))
    return {**MODEL.initial_values(), **models.data_values(MODEL, X, Y)}, X, Y


def _backprop(values, X, Y):
    """Σ (σ(...) − y)² and its gradient by hand, per scalar weight in MODEL.params order."""
    layers = [(np.array([[values[w] for w in row] for row in layer.weights]),
               np.array([[values[v] for v in layer.biases]])) for layer in MODEL.structure.layers]
    hs = [X]
    for W, b in layers:
        hs.append(1 / (1 + np.exp(-(hs[-1] @ W + b))))
    err = hs[-1] - Y
    d, grads = 2 * err * hs[-1] * (1 - hs[-1]), {}
    for k in range(len(layers) - 1, -1, -1):
        gW, gb = hs[k].T @ d, d.sum(axis=0)
        layer = MODEL.structure.layers[k]
        grads.update({w: gW[i, j] for i, row in enumerate(layer.weights) for j, w in enumerate(row)})
        grads.update({v: gb[j] for j, v in enumerate(layer.biases)})
        if k:
            d = (d @ layers[k][0].T) * hs[k] * (1 - hs[k])
    return float((err * err).sum()), [grads[p] for p in MODEL.params]


def test_a_large_lifted_model_takes_the_prepared():
    assert len(MODEL.params) > 256
    assert isinstance(KERNEL._prepared, MatrixBinding)


@pytest.mark.parametrize("order", ["as built", "reversed", "shuffled", "data first", "scattered", "by name"])
def test_every_key_order_gives_backprop_and_the_checked_paths_bits(rng, order):
    values, X, Y = _values(rng)
    keys = list(values)
    if order == "reversed":
        keys = keys[::-1]
    elif order == "shuffled":
        keys = [keys[i] for i in rng.permutation(len(keys))]
    elif order == "data first":
        keys = [*MODEL.data, *MODEL.params]
    elif order == "scattered":
        keys = [keys[i] for i in rng.permutation(len(keys))]
        keys.insert(len(keys) // 2, "unused")
    values = {key: values.get(key, 1.0) for key in keys}
    if order == "by name":
        values = {str(key): value for key, value in values.items()}
    got = KERNEL._prepared.loss_and_grad(values, "raise")
    assert got is not None  # the fast lane answered
    assert repr(got) == repr(_slow(KERNEL).loss_and_grad(values))  # the same floats bit for bit
    assert {type(got[0]), *map(type, got[1])} == {float}
    want_value, want = _backprop(values if order != "by name" else dict(zip(keys, values.values())), X, Y)
    np.testing.assert_allclose(got[0], want_value, rtol=1e-12)
    np.testing.assert_allclose(got[1], want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_the_layout_is_read_once_and_rebuilt_when_the_keys_change(rng):
    values, _, _ = _values(rng)
    binding = copy.copy(KERNEL._prepared)
    binding.loss_and_grad(values, "raise")
    layout = binding._layout
    values[MODEL.params[0]] = 0.25  # a new value, the same keys: the same layout, the new number
    assert binding.loss_and_grad(values, "raise") == _slow(KERNEL).loss_and_grad(values)
    assert binding._layout is layout
    first = MODEL.params[0]
    values[first] = values.pop(first)  # the same keys in another order: a new layout
    assert binding.loss_and_grad(values, "raise") == _slow(KERNEL).loss_and_grad(values)
    assert binding._layout is not layout


# every value the checked path reads or refuses (a Fraction, which the checked path refuses, is read
# by the float sum as its value here: left out)
PARAM_VALUES = [0.4, -1.5, np.float64(0.25), 2, True, float("nan"), float("inf"), np.float64("-inf"), "0.5",
                1 + 2j, np.array(0.3), np.array([0.3]), [0.1, 0.2], np.float32(0.5), 1e200, None, sp.Float(0.5)]
DATA_VALUES = [np.linspace(-1.0, 1.0, 64), np.arange(128.0)[::2], np.ones((64, 2))[:, 0],
               np.linspace(0.0, 1.0, 64).astype(np.float32), np.arange(64), list(np.linspace(0, 1, 64)), 0.7,
               np.concatenate([[np.nan], np.ones(63)]), np.ones(40), np.ones(LOOP_MAX), np.ones((64, 1)),
               np.array(0.5), np.full(64, 1e200), np.array(["a"] * 64)]


@settings(max_examples=150, deadline=None)
@given(param=st.sampled_from(PARAM_VALUES), data=st.sampled_from(DATA_VALUES), seed=st.integers(0, 2**16),
       target=st.booleans(), nonfinite=st.sampled_from(["raise", "propagate"]))
def test_odd_values_give_the_checked_paths_answer(param, data, seed, target, nonfinite):
    rng = np.random.default_rng(seed)
    values, _, _ = _values(rng)
    values[MODEL.params[rng.integers(len(MODEL.params))]] = param
    values[MODEL.targets[0] if target else MODEL.inputs[rng.integers(3)]] = data
    assert repr(_outcome(KERNEL, values, nonfinite)) == repr(_outcome(_slow(KERNEL), values, nonfinite))  # NaN too


def test_small_batches_and_other_mappings_go_the_checked_path(rng):
    values, _, _ = _values(rng, n=LOOP_MAX)
    assert KERNEL._prepared.loss_and_grad(values, "raise") is None
    assert _outcome(KERNEL, values) == _outcome(_slow(KERNEL), values)
    values, _, _ = _values(rng)
    assert KERNEL._prepared.loss_and_grad(dict(values), "warn") is None
    del values[MODEL.params[3]]
    assert KERNEL._prepared.loss_and_grad(values, "raise") is None
    assert _outcome(KERNEL, values) == _outcome(_slow(KERNEL), values)


def test_nonfinite_results_are_named_by_their_symbols(rng):
    """A NaN the matrix module returns for W2[1, 2] is reported under that weight's scalar name."""
    values, X, Y = _values(rng)
    binding = copy.copy(KERNEL._prepared)
    module = KERNEL.level.matrix_half.module

    def poisoned(*args):
        value, grads = module.loss_and_grad(*args)
        grads = [g.copy() for g in grads]
        grads[2][1, 2] = np.nan  # d/dW2, row 1, column 2
        return value, grads

    binding._call = poisoned
    name = str(MODEL.structure.layers[1].weights[1][2])
    with pytest.raises(NonFiniteError, match=rf"d/d{name}\b") as caught:
        binding.loss_and_grad(values, "raise")
    assert caught.value.args[0].count("d/d") == 1
    value, grads = binding.loss_and_grad(values, "propagate")
    assert np.isnan(grads[MODEL.params.index(MODEL.structure.layers[1].weights[1][2])])
    assert np.isfinite(np.delete(grads, MODEL.params.index(MODEL.structure.layers[1].weights[1][2]))).all()


def test_a_model_of_thousands_of_weights_binds_on_every_path(rng):
    """16-64-64-1 (5313 weights): the per-symbol prepared binding's written layout, one term per
    value, once overflowed the compiler's recursion limit there; every call now binds."""
    model = nn.mlp([16, 64, 64, 1], activation="sigmoid", loss="squared_error", seed=0)
    kernel = symgrad.compile(model, cache=False)
    X, Y = rng.normal(size=(40, 16)), rng.uniform(size=(40, 1))
    values = {**model.initial_values(), **models.data_values(model, X, Y)}
    value, grads = kernel.loss_and_grad(values)
    assert repr(kernel._prepared.loss_and_grad(values, "raise")) == repr((value, grads))  # the fast lane answers
    assert len(kernel.arguments(values)) == len(model.data) + len(model.params)
    assert kernel.loss(values) == pytest.approx(value, rel=1e-12)
    assert repr((value, grads)) == repr(_slow(kernel).loss_and_grad(values))
