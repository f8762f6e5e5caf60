"""RMSProp (TF1 and Keras) and Keras's `decay=` follow TensorFlow's own optimizers step by step."""

import os

import numpy as np
import pytest

import symgrad.tf as tf
from symgrad.errors import InvalidArgumentError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
RNG = np.random.default_rng(11)
A, B, W0 = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2)), RNG.normal(size=(3, 2))
STEPS = 8
# TensorFlow converts Python hyperparameters to float32 tensors before casting them to a float64
# variable's dtype (0.01 becomes 0.009999999776…); these are exact in float32, so both sides agree.
LR, RHO, EPS = 2.0**-7, 0.875, 2.0**-10


def _oracle():
    return pytest.importorskip("tensorflow", reason="tensorflow-cpu is not installed (the oracle for TF's semantics)")


def _loss(lib, w):
    """A loss whose gradient changes scale between entries and steps (so ε and ρ matter)."""
    r = lib.matmul(A, w) - B
    return lib.reduce_sum(r * r) + 0.1 * lib.reduce_sum(w * w * w * w)


def _ours_eager(opt):
    w = tf.Variable(W0)
    path = []
    for _ in range(STEPS):
        with tf.GradientTape() as tape:
            loss = _loss(tf, w)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w], strict=True))
        path.append(w.numpy())
    return np.array(path)


def _ours_session(opt):
    with tf.Graph().as_default():
        w = tf.Variable(W0)
        train = opt.minimize(_loss(tf, w))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            path = []
            for _ in range(STEPS):
                sess.run(train)
                path.append(sess.run(w))
    return np.array(path)


def _theirs(real, opt):
    w = real.Variable(W0)
    path = []
    for _ in range(STEPS):
        with real.GradientTape() as tape:
            loss = _loss(real, w)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w], strict=True))
        path.append(w.numpy())
    return np.array(path)


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.75}, {"centered": True}, {"centered": True, "momentum": 0.5}])
def test_tf1_rmsprop_optimizer_follows_tensorflow(kwargs):
    real = _oracle()
    kwargs = {"decay": RHO, "epsilon": EPS, **kwargs}
    theirs = _theirs(real, real.compat.v1.train.RMSPropOptimizer(LR, **kwargs))
    ours = _ours_session(tf.train.RMSPropOptimizer(LR, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.75}, {"centered": True, "rho": RHO}, {"epsilon": EPS}])
def test_keras_rmsprop_follows_keras(kwargs):
    real = _oracle()
    theirs = _theirs(real, real.keras.optimizers.RMSprop(learning_rate=LR, **kwargs))
    ours = _ours_eager(tf.keras.optimizers.RMSprop(learning_rate=LR, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert tf.keras.optimizers.get("rmsprop").learning_rate == real.keras.optimizers.get("rmsprop").learning_rate


@pytest.mark.parametrize(("name", "kwargs"), [("SGD", {"momentum": 0.75}), ("SGD", {}),
                                              ("SGD", {"momentum": 0.75, "nesterov": True}), ("RMSprop", {}),
                                              ("Adam", {"beta_1": RHO, "beta_2": 1 - 2.0**-10})])
def test_keras_decay_is_keras_2_time_decay(name, kwargs):
    """lr / (1 + decay·iterations), which Keras 3 spells InverseTimeDecay(lr, decay_steps=1, decay)."""
    real = _oracle()
    lr, decay = 2.0**-6, 0.25
    # a float64 initial rate makes the schedule compute in float64
    schedule = real.keras.optimizers.schedules.InverseTimeDecay(np.float64(lr), decay_steps=1, decay_rate=decay)
    theirs = _theirs(real, getattr(real.keras.optimizers, name)(learning_rate=schedule, **kwargs))
    ours = _ours_eager(getattr(tf.keras.optimizers, name)(learning_rate=lr, decay=decay, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    undecayed = _ours_eager(getattr(tf.keras.optimizers, name)(learning_rate=lr, **kwargs))
    assert not np.allclose(undecayed, ours)


def test_rmsprop_defaults_are_tensorflows():
    real = _oracle()
    theirs, ours = real.compat.v1.train.RMSPropOptimizer(0.1), tf.train.RMSPropOptimizer(0.1)
    assert (ours.rho, ours.momentum, ours.epsilon, ours.centered) == (
        theirs._decay, theirs._momentum, theirs._epsilon, theirs._centered)
    theirs, ours = real.keras.optimizers.RMSprop(), tf.keras.optimizers.RMSprop()
    assert (ours.learning_rate, ours.rho, ours.momentum, ours.epsilon, ours.centered) == pytest.approx(
        (float(theirs.learning_rate), theirs.rho, theirs.momentum, theirs.epsilon, theirs.centered), rel=1e-7)


def test_rmsprop_lr_spelling_and_bad_arguments():
    assert tf.keras.optimizers.RMSprop(lr=0.5).learning_rate == 0.5
    with pytest.raises(InvalidArgumentError, match="not both"):
        tf.keras.optimizers.RMSprop(learning_rate=0.1, lr=0.2)
    with pytest.raises(InvalidArgumentError, match="rho"):
        tf.keras.optimizers.RMSprop(rho=1.5)
    with pytest.raises(InvalidArgumentError, match="decay >= 0"):
        tf.keras.optimizers.SGD(decay=-1)
