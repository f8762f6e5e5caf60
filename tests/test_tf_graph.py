"""symgrad.tf ops and gradients: values against numpy written here, gradients against finite
differences and PyTorch, the kernel cache, and the batch-axis bookkeeping."""

import numpy as np
import pytest

import symgrad.tf as tf

RNG = np.random.default_rng(42)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def test_ops_match_numpy_for_rows_of_samples(graph):
    X_val, C_val = RNG.normal(size=(5, 3)), RNG.uniform(size=(5, 2))
    W_val, b_val = RNG.normal(size=(3, 2)), RNG.normal(size=2)
    X = tf.placeholder(tf.float64, (None, 3))
    C = tf.placeholder(tf.float64, (None, 2))
    W, b = tf.Variable(W_val), tf.Variable(b_val)
    z = tf.matmul(X, W) + b
    fetches = {
        "sigmoid": tf.sigmoid(z), "tanh": tf.tanh(z), "relu": tf.nn.relu(z), "softmax": tf.nn.softmax(z),
        "exp": tf.exp(z), "square": tf.square(z), "pow": tf.pow(z, 3), "div": z / (1 + C), "sub": 2.0 - z,
        "neg": -z, "rows": tf.reduce_sum(z, axis=1), "cols": tf.reduce_sum(z, axis=0),
        "all": tf.reduce_sum(z), "mean_all": tf.reduce_mean(z * C), "mean_rows": tf.reduce_mean(z, axis=0),
        "keep": tf.reduce_sum(z, axis=1, keepdims=True), "WT": tf.transpose(W), "mm_T": tf.matmul(W, W, transpose_b=True),
        "log": tf.log(C), "max": tf.maximum(z, 0.5), "min": tf.minimum(z, -0.25),
    }
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(fetches, {X: X_val, C: C_val})
    zv = X_val @ W_val + b_val
    want = {
        "sigmoid": _sigmoid(zv), "tanh": np.tanh(zv), "relu": np.maximum(zv, 0), "softmax": _softmax(zv),
        "exp": np.exp(zv), "square": zv**2, "pow": zv**3, "div": zv / (1 + C_val), "sub": 2 - zv, "neg": -zv,
        "rows": zv.sum(1), "cols": zv.sum(0), "all": zv.sum(), "mean_all": (zv * C_val).mean(),
        "mean_rows": zv.mean(0), "keep": zv.sum(1, keepdims=True), "WT": W_val.T, "mm_T": W_val @ W_val.T,
        "log": np.log(C_val), "max": np.maximum(zv, 0.5), "min": np.minimum(zv, -0.25),
    }
    for key, value in want.items():
        assert np.shape(got[key]) == np.shape(value), key
        np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=1e-12, err_msg=key)


def test_samples_in_columns_and_batch_contraction(graph):
    """The second text's layout (X is features × samples) and X @ Xᵀ, a sum over the samples."""
    X_val, W_val, b_val = RNG.normal(size=(4, 6)), RNG.normal(size=(3, 4)), RNG.normal(size=(3, 1))
    X = tf.placeholder(tf.float64, (4, None))
    W, b = tf.Variable(W_val), tf.Variable(b_val)
    h = tf.sigmoid(tf.matmul(W, X) + b)
    gram = tf.matmul(h, tf.transpose(h))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        h_got, gram_got = sess.run([h, gram], {X: X_val})
    h_want = _sigmoid(W_val @ X_val + b_val)
    np.testing.assert_allclose(h_got, h_want, rtol=1e-12)
    np.testing.assert_allclose(gram_got, h_want @ h_want.T, rtol=1e-12)


def _loss_graph():
    X = tf.placeholder(tf.float64, (None, 3), name="X")
    Y = tf.placeholder(tf.float64, (None, 2), name="Y")
    W1, b1 = tf.Variable(RNG.normal(size=(3, 4)), name="W1"), tf.Variable(RNG.normal(size=4), name="b1")
    W2, b2 = tf.Variable(RNG.normal(size=(4, 2)), name="W2"), tf.Variable(RNG.normal(size=2), name="b2")
    h = tf.tanh(tf.matmul(X, W1) + b1)
    p = tf.nn.softmax(tf.matmul(h, W2) + b2)
    loss = -tf.reduce_mean(tf.reduce_sum(Y * tf.log(p), axis=1)) + 0.01 * tf.reduce_sum(tf.square(W1))
    return (X, Y), [W1, b1, W2, b2], loss


def test_gradients_match_finite_differences(graph):
    (X, Y), params, loss = _loss_graph()
    feed = {X: RNG.normal(size=(7, 3)), Y: np.eye(2)[RNG.integers(0, 2, 7)]}
    grads = tf.gradients(loss, params)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(grads, feed)
        values = sess.run(params)
        h = 1e-6
        for var, value, g in zip(params, values, got, strict=True):
            for idx in np.ndindex(value.shape):
                shifted = {}
                for sign in (1, -1):
                    v = value.copy()
                    v[idx] += sign * h
                    shifted[sign] = sess.run(loss, {**feed, var: v})
                assert g[idx] == pytest.approx((shifted[1] - shifted[-1]) / (2 * h), rel=1e-6, abs=1e-8)


def test_gradients_match_torch(graph):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    (X, Y), params, loss = _loss_graph()
    x_val, y_val = RNG.normal(size=(9, 3)), np.eye(2)[RNG.integers(0, 2, 9)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(tf.gradients(loss, params), {X: x_val, Y: y_val})
        values = sess.run(params)
    W1, b1, W2, b2 = (torch.tensor(v, requires_grad=True) for v in values)
    h = torch.tanh(torch.tensor(x_val) @ W1 + b1)
    logp = torch.log_softmax(h @ W2 + b2, dim=1)
    t_loss = -(torch.tensor(y_val) * logp).sum(1).mean() + 0.01 * (W1**2).sum()
    t_loss.backward()
    for g, t in zip(got, (W1, b1, W2, b2), strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_with_respect_to_a_placeholder_and_an_intermediate(graph):
    x = tf.placeholder(tf.float64, (None, 2))
    w = tf.Variable([0.5, -1.5])
    z = x * w
    y = tf.reduce_sum(tf.square(z))
    dx, dz = tf.gradients(y, [x, z])
    x_val = RNG.normal(size=(4, 2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gx, gz = sess.run([dx, dz], {x: x_val})
    np.testing.assert_allclose(gz, 2 * x_val * [0.5, -1.5], rtol=1e-12)
    np.testing.assert_allclose(gx, 2 * x_val * np.array([0.5, -1.5]) ** 2, rtol=1e-12)


def test_unconnected_gradient_is_none_or_zero(graph):
    a, b = tf.Variable(1.0), tf.Variable([2.0, 3.0])
    y = tf.square(a)
    assert tf.gradients(y, [a, b])[1] is None
    zero = tf.gradients(y, [b], unconnected_gradients="zero")[0]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(zero), [0.0, 0.0])


def test_run_structures_and_kernel_cache(graph):
    x = tf.placeholder(tf.float64, (None, 1))
    w = tf.Variable([[2.0]])
    y = tf.matmul(x, w)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run({"y": y, "both": (w, [y])}, {x: [[1.0], [2.0]]})
        kernel = sess.last_kernel
        second = sess.run({"y": y, "both": (w, [y])}, {x: [[3.0], [4.0], [5.0]]})
        assert sess.last_kernel is kernel  # a new batch length reuses the compiled kernel
    np.testing.assert_array_equal(first["y"], [[2.0], [4.0]])
    assert isinstance(first["both"], tuple) and isinstance(first["both"][1], list)
    np.testing.assert_array_equal(second["both"][1][0], [[6.0], [8.0], [10.0]])


def test_assign_and_minimize_update_after_reading(graph):
    w = tf.Variable(3.0)
    loss = tf.square(w)
    step = tf.train.GradientDescentOptimizer(0.25).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before, _ = sess.run([loss, step])  # the loss of this run is the one before the update
        assert before == 9.0
        assert sess.run(w) == pytest.approx(3.0 - 0.25 * 6.0)
        assert sess.run(w.assign_sub(0.5)) == pytest.approx(1.0)
        assert sess.run(w) == pytest.approx(1.0)
    with tf.Session() as other:  # each session holds its own values
        other.run(w.initializer)
        assert other.run(w) == 3.0


def test_unbatched_placeholder_gives_the_same_numbers_as_a_batch_axis(graph):
    """shape=None feeds every number as its own input: slower to compile, the same values."""
    x_val, w_val = RNG.normal(size=(6, 2)), RNG.normal(size=(2, 1))
    w = tf.Variable(w_val)
    losses = []
    for shape in [(None, 2), None]:
        x = tf.placeholder(tf.float64, shape)
        loss = tf.reduce_sum(tf.sigmoid(tf.matmul(x, w)))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            losses.append(sess.run([loss, tf.gradients(loss, [w])[0]], {x: x_val}))
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-13)
    np.testing.assert_allclose(losses[0][1], losses[1][1], rtol=1e-13)


def test_float32_graph_computes_in_float32(graph):
    x = tf.placeholder(tf.float32, (None, 2))
    w = tf.Variable(np.ones((2, 1), dtype=np.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(tf.matmul(x, w), {x: [[1.0, 2.0]]})
    assert out.dtype == np.float32 and out[0, 0] == 3.0


def test_gradient_tape_eager_values_match_graph_gradients():
    w = tf.Variable([[0.3], [-0.2]])
    x = np.array([[1.0, 2.0], [0.5, -1.0]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sigmoid(tf.matmul(x, w)))
    (g,) = tape.gradient(loss, [w])
    s = _sigmoid(x @ w.numpy())
    np.testing.assert_allclose(g.numpy(), x.T @ (s * (1 - s)), rtol=1e-12)
    np.testing.assert_allclose(float(loss), s.sum(), rtol=1e-12)


def test_unknown_target_is_named(graph):
    x = tf.placeholder(tf.float64, (None, 1))
    with tf.Session(target="no-such-target") as sess, pytest.raises(tf.UnsupportedError, match="no-such-target"):
        sess.run(tf.reduce_sum(x), {x: [[1.0]]})


@pytest.mark.gpu
def test_cuda_target_matches_numpy(graph):
    pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'symgrad[cuda]')")
    (X, Y), params, loss = _loss_graph()
    feed = {X: RNG.normal(size=(64, 3)), Y: np.eye(2)[RNG.integers(0, 2, 64)]}
    fetches = [loss, *tf.gradients(loss, params)]
    results = []
    for target in ("numpy", "cuda"):
        with tf.Session(target=target) as sess:
            sess.run(tf.global_variables_initializer())
            results.append(sess.run(fetches, feed))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-10)


def test_tape_gives_none_for_paths_built_outside_it_as_tensorflow_does():
    w, v = tf.Variable(2.0), tf.Variable(3.0)
    outside = tf.square(w)
    with tf.GradientTape(persistent=True) as tape:
        inside = tf.square(v)
        total = outside + inside
        c = tf.constant(np.array(4.0))
        scaled = c * v
    g_w, g_v = tape.gradient(total, [w, v])
    assert g_w is None and float(g_v) == 6.0
    assert tape.gradient(scaled, c) is None  # constants are not watched
    tape.watch(c)
    assert float(tape.gradient(scaled, c)) == 3.0
    assert float(tape.gradient(total, inside)) == 1.0  # intermediate tensors recorded by the tape


def test_cuda_target_session_through_the_host_emulation(graph, monkeypatch):
    """Session(target="cuda") runs the CUDA kernels; here on the CPU through symgrad.cuda_emu."""
    from symgrad import cuda_emu
    from symgrad.tf import session as session_module

    if cuda_emu.compiler() is None:
        pytest.skip("no host C++20 compiler for the CUDA emulation")
    compile_kernel = session_module.compile_kernel

    def emulated(*args, **kwargs):
        kernel = compile_kernel(*args, **kwargs)
        return kernel.on(cuda_emu.Backend()) if kwargs.get("target") == "cuda" else kernel

    monkeypatch.setattr(session_module, "compile_kernel", emulated)
    (X, Y), params, loss = _loss_graph()
    feed = {X: RNG.normal(size=(20, 3)), Y: np.eye(2)[RNG.integers(0, 2, 20)]}
    fetches = [loss, *tf.gradients(loss, params), tf.nn.softmax(tf.matmul(X, params[0]))]
    results = []
    for target in ("numpy", "cuda"):
        with tf.Session(target=target) as sess:
            sess.run(tf.global_variables_initializer())
            results.append(sess.run(fetches, feed))
            assert sess.last_kernel.target == target
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13)


def test_maximum_minimum_gradients_match_torch(graph):
    """A leaky-relu written with tf.maximum and a clip with tf.minimum, against torch."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x_val, W_val = RNG.normal(size=(8, 3)), RNG.normal(size=(3, 2))
    X = tf.placeholder(tf.float64, (None, 3))
    W = tf.Variable(W_val)
    z = tf.matmul(X, W)
    loss = tf.reduce_sum(tf.square(tf.minimum(tf.maximum(z, 0.1 * z), 1.0)))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        (got,) = sess.run(tf.gradients(loss, [W]), {X: x_val})
    Wt = torch.tensor(W_val, requires_grad=True)
    zt = torch.tensor(x_val) @ Wt
    (torch.clamp(torch.maximum(zt, 0.1 * zt), max=1.0) ** 2).sum().backward()
    np.testing.assert_allclose(got, Wt.grad.numpy(), rtol=1e-12, atol=1e-12)
