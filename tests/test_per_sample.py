"""Per-sample gradient kernels: row k is the gradient of sample k's loss alone."""

import numpy as np
import pytest

import symgrad
from symgrad import autodiff, nn

MODELS = {
    "4-16-16-1 sigmoid, squared error": lambda: nn.mlp([4, 16, 16, 1]),
    "3-5-2 tanh, softmax cross-entropy": lambda: nn.mlp([3, 5, 2], activation="tanh", output_activation="identity",
                                                       loss="softmax_cross_entropy"),
    "2-4-1 relu/logits, cross-entropy": lambda: nn.mlp([2, 4, 1], activation="relu", output_activation="identity",
                                                       loss="binary_cross_entropy_with_logits"),
}


def batch(model, n, seed=0):
    rng = np.random.default_rng(seed)
    values = dict(model.initial_values())
    values.update({s: rng.normal(size=n) for s in model.inputs})
    if len(model.targets) > 1:  # one-hot labels for the softmax model
        labels = rng.integers(len(model.targets), size=n)
        values.update({s: (labels == k).astype(float) for k, s in enumerate(model.targets)})
    else:
        values.update({s: rng.uniform(size=n) for s in model.targets})
    return values


def one_sample(values, model, k):
    data = set(model.inputs) | set(model.targets)
    return {s: (v[k : k + 1] if s in data else v) for s, v in values.items()}


@pytest.fixture(params=sorted(MODELS), scope="module")
def compiled(request):
    model = MODELS[request.param]()
    return model, symgrad.compile(model, cache=False)


def test_per_sample_rows_sum_to_the_batch_gradient(compiled):
    model, kernel = compiled
    values = batch(model, 200)
    rows = kernel.per_sample_grad(values)
    assert rows.shape == (200, len(model.params))
    np.testing.assert_allclose(rows.sum(axis=0), autodiff.grad(model.loss, list(model.params), values), rtol=1e-9, atol=1e-10)


def test_each_per_sample_row_is_that_samples_autodiff_gradient(compiled):
    model, kernel = compiled
    values = batch(model, 7, seed=1)
    rows = kernel.per_sample_grad(values)
    for k in range(7):
        expected = autodiff.grad(model.loss, list(model.params), one_sample(values, model, k))
        np.testing.assert_allclose(rows[k], expected, rtol=1e-9, atol=1e-12)


def test_per_sample_matches_hand_written_numpy_backprop():
    """An independent derivation: matrix backprop keeping the sample axis (as bench/per_sample.py)."""
    model = nn.mlp([4, 16, 16, 1])
    values = batch(model, 50, seed=2)
    kernel = symgrad.compile(model, cache=False)
    by_name = {p.name: values[p] for p in model.params}
    sizes = [4, 16, 16, 1]
    layers = []
    for layer, (fan_in, units) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        W = np.array([[by_name[f"W{layer}_{i}_{j}"] for j in range(units)] for i in range(fan_in)])
        layers.append((W, np.array([by_name[f"b{layer}_{j}"] for j in range(units)])))
    X = np.stack([values[s] for s in model.inputs], axis=1)
    Y = np.stack([values[s] for s in model.targets], axis=1)
    hs = [X]
    for W, b in layers:
        hs.append(1.0 / (1.0 + np.exp(-(hs[-1] @ W + b))))
    delta = 2.0 * (hs[-1] - Y) * hs[-1] * (1.0 - hs[-1])
    grads = []
    for k in range(len(layers) - 1, -1, -1):
        grads = [(hs[k][:, :, None] * delta[:, None, :]).reshape(len(X), -1), delta] + grads
        delta = (delta @ layers[k][0].T) * hs[k] * (1.0 - hs[k])
    np.testing.assert_allclose(kernel.per_sample_grad(values), np.concatenate(grads, axis=1), rtol=1e-9, atol=1e-12)
