"""A GradientTape's target keeps the value computed with its gradients, until a variable changes."""

import numpy as np

import symgrad.tf as tf


def _step_parts():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    W = tf.Variable(rng.normal(size=(3, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sigmoid(tf.matmul(x, W)) ** 2)
    return x, W, loss, tape.gradient(loss, [W])


def test_target_read_after_gradient_needs_no_second_pass(monkeypatch):
    x, W, loss, _ = _step_parts()
    expected = np.mean((1 / (1 + np.exp(-(x @ W.numpy())))) ** 2)

    def refuse(*args, **kwargs):
        raise AssertionError("the target was evaluated again")

    monkeypatch.setattr(type(loss.graph.eager_session()), "run", refuse)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


def test_target_is_evaluated_again_once_a_variable_changes():
    x, W, loss, (g,) = _step_parts()
    before = float(loss)
    tf.optimizers.SGD(0.5).apply_gradients([(g, W)])
    after = np.mean((1 / (1 + np.exp(-(x @ W.numpy())))) ** 2)
    assert float(loss) != before
    np.testing.assert_allclose(float(loss), after, rtol=1e-6)
