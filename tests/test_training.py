"""Training with generated kernels reproduces an independent hand-written numpy backprop."""

import numpy as np
import pytest

import symgrad
from symgrad import models
from symgrad.train import gradient_descent


def _unpack(model, params):
    """Seed parameters as matrices: Wh (4×3), bh (3), Wo (3×1), bo (1)."""
    v = {str(k): val for k, val in params.items()}
    Wh = np.array([[v[f"W1_{i}_{j}"] for j in range(3)] for i in range(4)])
    bh = np.array([v[f"b1_{j}"] for j in range(3)])
    Wo = np.array([[v[f"W2_{j}_0"]] for j in range(3)])
    bo = np.array([v["b2_0"]])
    return Wh, bh, Wo, bo


def _sig(z):
    return 1 / (1 + np.exp(-z))


def hand_backprop(Wh, bh, Wo, bo, X, Y):
    """The seed text's gradient of E = Σ(yp − yt)², by the chain rule, written out by hand."""
    h = _sig(X @ Wh + bh)
    yp = _sig(h @ Wo + bo)
    d_out = 2 * (yp - Y) * yp * (1 - yp)
    d_hid = (d_out @ Wo.T) * h * (1 - h)
    return X.T @ d_hid, d_hid.sum(0), h.T @ d_out, d_out.sum(0), float(np.sum((yp - Y) ** 2))


def hand_train(params, X, Y, lr, epochs, batch_size):
    Wh, bh, Wo, bo = (a.copy() for a in params)
    losses = []
    step = batch_size or len(X)
    for _ in range(epochs):
        for i in range(0, len(X), step):
            gWh, gbh, gWo, gbo, _ = hand_backprop(Wh, bh, Wo, bo, X[i : i + step], Y[i : i + step])
            Wh, bh, Wo, bo = Wh - lr * gWh, bh - lr * gbh, Wo - lr * gWo, bo - lr * gbo
        losses.append(hand_backprop(Wh, bh, Wo, bo, X, Y)[-1])
    return (Wh, bh, Wo, bo), np.array(losses)


@pytest.mark.parametrize("batch_size", [None, 1], ids=["batch N", "batch 1"])
def test_seed_training_matches_hand_backprop(batch_size):
    model = models.seed()
    kernel = symgrad.compile(model)
    data = models.data_values(model, models.SEED_X, models.SEED_Y)
    params, losses = gradient_descent(kernel, model.initial_values(), data, lr=0.1, epochs=2000, batch_size=batch_size)
    start = _unpack(model, model.initial_values())
    want, want_losses = hand_train(start, models.SEED_X, models.SEED_Y, 0.1, 2000, batch_size)
    for got, ref in zip(_unpack(model, params), want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-10)
    assert losses[-1] < 0.01 < losses[0]  # it actually learned


@pytest.mark.parametrize("n", [3, 40])  # per-sample loop path and vectorized path
def test_seed_gradient_matches_hand_backprop(n, rng):
    model = models.seed()
    kernel = symgrad.compile(model)
    X, Y = rng.normal(size=(n, 4)), rng.uniform(size=(n, 1))
    values = {**model.initial_values(), **models.data_values(model, X, Y)}
    loss, grads = kernel.loss_and_grad(values)
    gWh, gbh, gWo, gbo, hand_loss = hand_backprop(*_unpack(model, model.initial_values()), X, Y)
    by_name = dict(zip(map(str, model.params), grads))
    np.testing.assert_allclose(_unpack(model, by_name)[0], gWh, rtol=1e-12)
    np.testing.assert_allclose(_unpack(model, by_name)[2], gWo, rtol=1e-12)
    np.testing.assert_allclose([by_name[f"b1_{j}"] for j in range(3)], gbh, rtol=1e-12)
    np.testing.assert_allclose(by_name["b2_0"], gbo[0], rtol=1e-12)
    np.testing.assert_allclose(loss, hand_loss, rtol=1e-13)


def test_perceptron_reaches_full_training_accuracy():
    model = models.perceptron()
    kernel = symgrad.compile(model)
    X, Y = models.perceptron_data()
    data = models.data_values(model, X, Y)
    params, losses = gradient_descent(kernel, model.initial_values(), data, lr=0.01, epochs=200)
    logits = np.stack(kernel.predict({**data, **params}), axis=1)
    accuracy = np.mean(logits.argmax(1) == Y.argmax(1))
    assert accuracy == 1.0
    assert losses[-1] < losses[0]


def test_training_rejects_bad_batch_size():
    model = models.seed()
    kernel = symgrad.compile(model)
    data = models.data_values(model, models.SEED_X, models.SEED_Y)
    with pytest.raises(symgrad.InvalidArgumentError, match="batch_size"):
        gradient_descent(kernel, model.initial_values(), data, batch_size=7)
