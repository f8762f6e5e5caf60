"""A session reuses a compiled kernel only for the same program, and in-place updates never change
a value handed out: every run here differs from the one before it in one thing (an op, an
attribute, a constant, a shape, a dtype, a variable, the sharing of a node, the fetch order), in
the same session, eagerly and in graphs, and each value is checked against numpy written here."""

import numpy as np
import pytest

import symgrad.tf as tf

RNG = np.random.default_rng(7)
A, B, V0, U0 = (RNG.normal(size=(4, 3)) for _ in range(4))


def _changed_programs(x, v, u, c1, c2):
    """(tensor, expected value) pairs: each a small change of the one before."""
    xa = A  # x's value
    return [
        (x + v, xa + V0),
        (x - v, xa - V0),  # another op
        (x * v, xa * V0),
        (x * u, xa * U0),  # another variable of the same shape
        (x * 2.0 + v, xa * 2 + V0),
        (x * 3.0 + v, xa * 3 + V0),  # another scalar constant
        (tf.reduce_sum(x * v, axis=0), (xa * V0).sum(0)),
        (tf.reduce_sum(x * v, axis=1), (xa * V0).sum(1)),  # another attribute
        (c1 + c1, 2 * A),
        (c1 + c2, A + B),  # two constants of one shape, not one shared
        (tf.nn.sigmoid(x) * v, 1 / (1 + np.exp(-xa)) * V0),
        (tf.tanh(x) * v, np.tanh(xa) * V0),
    ]


def test_a_changed_graph_program_gets_its_own_kernel():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, (None, 3))
        v, u = tf.Variable(V0), tf.Variable(U0)
        c1, c2 = tf.constant(A), tf.constant(B)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for t, expected in _changed_programs(x, v, u, c1, c2):
                np.testing.assert_allclose(sess.run(t, {x: A}), expected, rtol=1e-12, err_msg=t.name)
            y = x * v  # the fetch order swapped, and the feed's shape and dtype changed
            got = sess.run([tf.reduce_sum(y), y], {x: A})
            np.testing.assert_allclose(got[1], A * V0, rtol=1e-12)
            np.testing.assert_allclose(got[0], (A * V0).sum(), rtol=1e-12)
            got = sess.run([y, tf.reduce_sum(y)], {x: A})
            np.testing.assert_allclose(got[0], A * V0, rtol=1e-12)
            w = tf.placeholder(tf.float64, (None, 2))
            m = tf.Variable(RNG.normal(size=(2, 3)))
            sess.run(m.initializer)
            z = tf.matmul(w, m)
            for width_feed in (A[:, :2], A[:3, :2]):
                np.testing.assert_allclose(sess.run(z, {w: width_feed}), width_feed @ sess.run(m), rtol=1e-12)


def test_a_changed_eager_program_gets_its_own_kernel():
    """Eager code builds new nodes every step; the same structure reuses the kernel, another does not."""
    v, u = tf.Variable(V0), tf.Variable(U0)
    for t, expected in _changed_programs(tf.constant(A), v, u, tf.constant(A), tf.constant(B)):
        np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12, err_msg=t.name)
    w32 = tf.Variable(V0.astype(np.float32))
    got = (tf.constant(A.astype(np.float32)) * w32).numpy()  # another dtype
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, A * V0, rtol=1e-6)
    for dtype in (np.float64, np.float32, np.float64):  # a constant of another dtype
        got = (tf.constant(A.astype(dtype)) + 1.0).numpy()
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, A.astype(dtype) + dtype(1))
    for rows in (4, 2):  # another shape of a constant
        np.testing.assert_allclose((tf.constant(A[:rows]) + 1.0).numpy(), A[:rows] + 1, rtol=1e-12)


def test_tape_steps_that_change_are_not_served_a_stale_kernel():
    v = tf.Variable(V0)
    for fn, grad in ((tf.sin, np.cos), (tf.cos, lambda z: -np.sin(z)), (tf.exp, np.exp)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(fn(v))
        np.testing.assert_allclose(tape.gradient(loss, v).numpy(), grad(V0), rtol=1e-12)


RULES = [lambda: tf.train.GradientDescentOptimizer(0.1), lambda: tf.train.MomentumOptimizer(0.1, 0.5, use_nesterov=True),
         lambda: tf.train.AdamOptimizer(0.1), lambda: tf.train.RMSPropOptimizer(0.1)]


@pytest.mark.parametrize("make", RULES, ids=["sgd", "nesterov", "adam", "rmsprop"])
def test_in_place_updates_change_nothing_handed_out(make):
    """d(ΣA∘B)/dA is B itself: the kernel hands back its argument, and each update must read the
    other variable as it was, as the same rule does given the gradients as fed copies. Values
    fetched, loaded or initialised from the caller's arrays stay as they were."""
    a0 = A.copy()
    with tf.Graph().as_default():
        a, b = tf.Variable(a0), tf.Variable(B)
        train = make().minimize(tf.reduce_sum(a * b))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            loaded = A.copy()
            a.load(loaded, sess)
            path = []
            for _ in range(3):  # from the second step on, the optimizer owns the arrays it updates
                held = sess.run([a, b, tf.transpose(a), tf.identity(b)])
                path.append([h.copy() for h in held])
                grads = sess.run(tf.gradients(tf.reduce_sum(a * b), [a, b]))
                sess.run(train)
                for got, want in zip(held + grads, path[-1] + path[-1][1::-1], strict=True):
                    np.testing.assert_array_equal(got.reshape(want.shape), want)
            path.append(sess.run([a, b]))
    np.testing.assert_array_equal(loaded, A)
    np.testing.assert_array_equal(a0, A)
    with tf.Graph().as_default():  # the reference: the same rule, the gradients fed
        a, b = tf.Variable(A), tf.Variable(B)
        ga, gb = tf.placeholder(tf.float64, (4, 3)), tf.placeholder(tf.float64, (4, 3))
        train = make().apply_gradients([(ga, a), (gb, b)])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for step in range(3):
                va, vb = sess.run([a, b])
                np.testing.assert_allclose(va, path[step][0], rtol=1e-12)
                np.testing.assert_allclose(vb, path[step][1], rtol=1e-12)
                sess.run(train, {ga: vb, gb: va})
            np.testing.assert_allclose(sess.run([a, b]), path[3], rtol=1e-12)


def test_keras_set_weights_arrays_stay_the_callers():
    keras = tf.keras
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,), dtype="float32")])
    model.build((None, 3))
    w, bias = RNG.normal(size=(3, 2)).astype(np.float32), np.zeros(2, np.float32)
    kept = w.copy()
    model.set_weights([w, bias])
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    held = model.get_weights()
    x, y = RNG.normal(size=(5, 3)).astype(np.float32), RNG.normal(size=(5, 2)).astype(np.float32)
    model.train_on_batch(x, y)
    np.testing.assert_array_equal(w, kept)
    np.testing.assert_array_equal(held[0], kept)
    residual = (x @ kept - y) * 2 / y.size
    np.testing.assert_allclose(model.get_weights()[0], kept - 0.1 * x.T @ residual, rtol=1e-5, atol=1e-6)
