"""symgrad.tf traces to the matrix level: whole batches are MatrixSymbols, so batch statistics are
ordinary expressions, kernels are BLAS products over the batch, one kernel serves every batch
length, and constants are data (never one symbol per number). Values against numpy written here,
gradients against PyTorch and central differences."""

import numpy as np
import pytest
import sympy as sp

import symgrad.tf as tf
from symgrad.tf import session as session_module

RNG = np.random.default_rng(11)


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def compiles(monkeypatch):
    """The kernels compiled while a test runs (counted through the session's compile call)."""
    made = []
    original = session_module.compile_kernel

    def counting(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(session_module, "compile_kernel", counting)
    return made


def _central_differences(sess, loss, var, feed, h=1e-6):
    value = sess.run(var)
    out = np.zeros_like(value)
    for idx in np.ndindex(value.shape):
        plus, minus = value.copy(), value.copy()
        plus[idx] += h
        minus[idx] -= h
        out[idx] = (sess.run(loss, {**feed, var: plus}) - sess.run(loss, {**feed, var: minus})) / (2 * h)
    return out


def _batch_statistics_graph():
    """Batch normalisation, mean-centring and the log of a batch mean: functions of batch sums."""
    X = tf.placeholder(tf.float64, (None, 3), name="X")
    W = tf.Variable(RNG.normal(size=(3, 4)), name="W")
    z = tf.matmul(X, W)
    mean = tf.reduce_mean(z, axis=0)
    var = tf.reduce_mean(tf.square(z - mean), axis=0)
    normed = (z - mean) / tf.sqrt(var + 1e-3)
    centred = z - tf.reduce_mean(z, axis=1, keepdims=True)
    loss = tf.reduce_sum(tf.tanh(normed)) + tf.log(tf.reduce_mean(tf.exp(centred))) + tf.exp(0.1 * tf.reduce_sum(z))
    return X, W, loss


def test_nonlinear_functions_of_batch_reductions_match_numpy_and_torch(graph):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    X, W, loss = _batch_statistics_graph()
    x = RNG.normal(size=(9, 3))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = sess.run(W)
        got, (grad,) = sess.run([loss, tf.gradients(loss, [W])], {X: x})
        fd = _central_differences(sess, loss, W, {X: x})
    Wt = torch.tensor(w, requires_grad=True)
    z = torch.tensor(x) @ Wt
    mean = z.mean(0)
    normed = (z - mean) / torch.sqrt(((z - mean) ** 2).mean(0) + 1e-3)
    centred = z - z.mean(1, keepdim=True)
    want = torch.tanh(normed).sum() + torch.log(torch.exp(centred).mean()) + torch.exp(0.1 * z.sum())
    want.backward()
    assert got == pytest.approx(want.item(), rel=1e-12)
    np.testing.assert_allclose(grad, Wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_kernel_is_matrix_level_with_products_over_the_batch(graph, compiles):
    X = tf.placeholder(tf.float32, (None, 784))
    Y = tf.placeholder(tf.float32, (None, 10))
    W1, b1 = tf.Variable(tf.random.normal([784, 256], stddev=0.05)), tf.Variable(tf.zeros([256]))
    W2, b2 = tf.Variable(tf.random.normal([256, 10], stddev=0.05)), tf.Variable(tf.zeros([10]))
    logits = tf.matmul(tf.nn.relu(tf.matmul(X, W1) + b1), W2) + b2
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=logits))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for n in (32, 17, 5):  # every batch length runs the one kernel: the batch is a size symbol
            sess.run(step, {X: RNG.normal(size=(n, 784)), Y: np.eye(10)[RNG.integers(0, 10, n)]})
    (kernel,) = compiles
    assert all(isinstance(s, sp.MatrixSymbol) for s in kernel.wrt + kernel.inputs)
    assert sorted(tuple(map(str, s.shape)) for s in kernel.inputs) == [("batch_size", "10"), ("batch_size", "784")]
    assert "@" in kernel.source and kernel.dtype == np.float32


def test_gradients_of_a_softmax_mlp_match_torch_at_the_matrix_level(graph):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    X, Y = tf.placeholder(tf.float64, (None, 5)), tf.placeholder(tf.float64, (None, 3))
    values = [RNG.normal(size=(5, 4)), RNG.normal(size=4), RNG.normal(size=(4, 3)), RNG.normal(size=3)]
    W1, b1, W2, b2 = params = [tf.Variable(v) for v in values]
    logits = tf.matmul(tf.sigmoid(tf.matmul(X, W1) + b1), W2) + b2
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=Y, logits=logits))
    x, y = RNG.normal(size=(8, 5)), np.eye(3)[RNG.integers(0, 3, 8)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([loss, *tf.gradients(loss, params)], {X: x, Y: y})
    tp = [torch.tensor(v, requires_grad=True) for v in values]
    t_logits = torch.sigmoid(torch.tensor(x) @ tp[0] + tp[1]) @ tp[2] + tp[3]
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.tensor(y))
    t_loss.backward()
    assert got[0] == pytest.approx(t_loss.item(), rel=1e-12)
    for g, t in zip(got[1:], tp, strict=True):
        assert g.shape == t.shape
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_tf2_constants_are_data_arrays_not_symbols_per_number(compiles):
    x = tf.constant(RNG.normal(size=(50, 6)))
    w = tf.Variable(RNG.normal(size=(6, 1)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 1.0))
    g = tape.gradient(loss, w)
    (kernel,) = compiles
    assert [s.shape for s in kernel.inputs] == [(50, 6)] and [s.shape for s in kernel.wrt] == [(6, 1)]
    xv, wv = x.numpy(), w.numpy()
    np.testing.assert_allclose(g.numpy(), 2 * xv.T @ (xv @ wv - 1) / 50, rtol=1e-12)


def test_variable_from_zeros_or_random_values_is_a_plain_array(compiles):
    w = tf.Variable(tf.zeros([784, 10]))
    v = tf.Variable(tf.random_normal([784, 10], stddev=0.1))
    assert not compiles
    assert w.numpy().shape == (784, 10) and not w.numpy().any() and v.numpy().std() == pytest.approx(0.1, rel=0.05)


def test_gradient_with_respect_to_an_intermediate_matrix(graph):
    X = tf.placeholder(tf.float64, (None, 2))
    W = tf.Variable(RNG.normal(size=(2, 3)))
    z = tf.matmul(X, W)
    loss = tf.reduce_sum(tf.nn.softmax(z) * tf.constant([1.0, 2.0, 3.0]))
    (dz,) = tf.gradients(loss, [z])
    x = RNG.normal(size=(4, 2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, zv = sess.run([dz, z], {X: x})
    s = np.exp(zv) / np.exp(zv).sum(1, keepdims=True)
    c = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(got, s * (c - (s * c).sum(1, keepdims=True)), rtol=1e-12)


def test_log_of_a_saturated_softmax_stays_finite_with_its_gradient(graph):
    """log(softmax(z)) is traced as z − logsumexp(z): at logits 800 apart the softmax underflows to 0."""
    z = tf.Variable(np.array([[0.0, 800.0, -800.0], [1.0, 2.0, 3.0]]))
    y = tf.constant(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    loss = -tf.reduce_sum(y * tf.log(tf.nn.softmax(z))) - tf.reduce_sum(tf.nn.log_softmax(z, axis=0))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        value, (g,) = sess.run([loss, tf.gradients(loss, [z])])
    zv = z.numpy()

    def log_softmax(a, axis):
        m = a.max(axis=axis, keepdims=True)
        return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))

    assert value == pytest.approx(-(y.numpy() * log_softmax(zv, 1)).sum() - log_softmax(zv, 0).sum(), rel=1e-12)
    s1, s0 = np.exp(log_softmax(zv, 1)), np.exp(log_softmax(zv, 0))
    want = s1 * y.numpy().sum(1, keepdims=True) - y.numpy() - (1 - zv.shape[0] * s0)
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def test_no_gradient_flows_through_argmax_and_comparisons_as_in_tensorflow(graph):
    x = tf.placeholder(tf.float64, (None, 3))
    w = tf.Variable(np.ones((3, 2)))
    z = tf.matmul(x, w)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(z, 1), 0), tf.float64))
    assert tf.gradients(accuracy, [w]) == [None]
    (g,) = tf.gradients(tf.reduce_sum(z) + accuracy, [w])
    xv = RNG.normal(size=(5, 3))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(g, {x: xv}), np.repeat(xv.sum(0)[:, None], 2, axis=1), rtol=1e-12)


def test_batch_meeting_a_constant_of_its_length_runs_as_in_tensorflow(graph, compiles):
    """X (None, 3) times a (5, 3) constant is right when 5 rows are fed: the kernel is then traced
    with the batch length fixed (and reused at that length); other lengths are a ShapeError."""
    X = tf.placeholder(tf.float64, (None, 3))
    c = RNG.normal(size=(5, 3))
    w = tf.Variable(RNG.normal(size=(3, 1)))
    loss = tf.reduce_sum(tf.matmul(X * c, w))
    (g,) = tf.gradients(loss, [w])
    x = RNG.normal(size=(5, 3))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(2):
            np.testing.assert_allclose(sess.run(g, {X: x}), (x * c).sum(0)[:, None], rtol=1e-12)
        assert len(compiles) == 1
        with pytest.raises(tf.ShapeError, match="cannot be broadcast"):
            sess.run(g, {X: x[:4]})
