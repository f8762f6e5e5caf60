"""A float32 kernel computes in float32 from its first line to its last.

Found by measurement: `symgrad.tf`'s softmax cross-entropy with `reduce_mean` generated
`t_13 = np.broadcast_to(t, (batch_size, 10))` with `t = 1/batch_size` a Python float, so the
broadcast was float64 and every backward product after it ran in float64 (784-256-256-10: 4.5 ms
a step instead of 3.5 ms), while the results, cast back by the optimizer, looked right. The
results' dtype does not show that, so these tests watch every frame of generated code (its
arguments and locals when it returns) and require every floating value there to be float32.
"""

import contextlib
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tf_adversarial import _build, programs

import symgrad
import symgrad.tf as tf
from symgrad.matrix import SumAll


@contextlib.contextmanager
def generated_floats():
    """(function, local name, dtype) of every floating array or numpy scalar a generated frame holds
    when it returns, for the calls made inside the block."""
    seen = []

    def local(frame, event, arg):
        if event == "return":
            for name, value in frame.f_locals.items():
                dtype = getattr(value, "dtype", None)
                if isinstance(value, np.ndarray | np.generic) and np.issubdtype(dtype, np.floating):
                    seen.append((frame.f_code.co_name, name, dtype))
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename.startswith("<symgrad-") else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        yield seen
    finally:
        sys.settrace(previous)


def assert_all_float32(seen):
    assert seen, "no generated frame ran"
    wrong = sorted({f"{fn}: {name} is {dtype}" for fn, name, dtype in seen if dtype != np.float32})
    assert not wrong, "\n".join(wrong)


def _mlp_graph(sizes, loss_kind):
    rng = np.random.default_rng(0)
    X = tf.placeholder(tf.float32, (None, sizes[0]))
    Y = tf.placeholder(tf.float32, (None, sizes[-1]))
    params = []
    h = X
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        W, bias = tf.Variable(rng.normal(size=(a, b)).astype(np.float32)), tf.Variable(np.zeros(b, np.float32))
        params += [W, bias]
        h = tf.matmul(h, W) + bias
        if k + 2 < len(sizes):
            h = tf.nn.relu(h)
    if loss_kind == "softmax_ce_mean":
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=h))
    elif loss_kind == "sparse_like_sum":
        loss = tf.reduce_sum(-Y * tf.nn.log_softmax(h))
    else:
        loss = tf.reduce_mean(tf.square(h - Y))
    x = rng.normal(size=(7, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], 7)]
    return X, Y, params, loss, x, y


@pytest.mark.parametrize("loss_kind", ["softmax_ce_mean", "sparse_like_sum", "mse_mean"])
def test_tf_session_training_step_is_float32_throughout(loss_kind):
    with tf.Graph().as_default():
        X, Y, params, loss, x, y = _mlp_graph([5, 4, 4, 3], loss_kind)
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        grads = tf.gradients(loss, params)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with generated_floats() as seen:
                sess.run(train, {X: x, Y: y})
                got = sess.run(grads, {X: x, Y: y})
    assert_all_float32(seen)
    assert all(np.asarray(g).dtype == np.float32 for g in got)


def test_gradient_tape_and_keras_are_float32_throughout():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 9)]
    W = tf.Variable(rng.normal(size=(5, 3)).astype(np.float32))
    opt = tf.keras.optimizers.SGD(learning_rate=0.1)
    with generated_floats() as seen:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=tf.matmul(tf.constant(x), W)))
        opt.apply_gradients(zip(tape.gradient(loss, [W]), [W]))
    assert_all_float32(seen)

    model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="sigmoid", dtype="float32"),
                                 tf.keras.layers.Dense(3, activation="softmax", dtype="float32")])
    model.compile(loss="categorical_crossentropy", optimizer=tf.keras.optimizers.SGD(learning_rate=0.1))
    with generated_floats() as seen:
        model.train_on_batch(x, y)
        model.predict(x)
    assert_all_float32(seen)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "gelu", "softplus"])
@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "mse", "squared_error"])
def test_matrix_mlp_kernels_are_float32_throughout(activation, loss):
    model = symgrad.nn.matrix_mlp([4, 5, 3], activation=activation, loss=loss)
    kernel = symgrad.compile(model, dtype="float32", cache=False)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(6, 4)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    params = [rng.normal(size=tuple(int(d) for d in p.shape)).astype(np.float32) for p in kernel.wrt]
    module = kernel.module
    with generated_floats() as seen:
        for fn in ("loss", "loss_and_grad", "grad", "loss_grad_and_outputs"):
            getattr(module, fn)(X, Y, *params)
    assert_all_float32(seen)


def test_matrix_hessian_kernel_is_float32_throughout():
    n, N = sp.Symbol("n", integer=True, positive=True), sp.Symbol("N", integer=True, positive=True)
    x, X, y = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("X", N, n), sp.MatrixSymbol("y", N, 1)
    loss = symgrad.matrix.layers.binary_cross_entropy_logits(X * x, y) + SumAll(sp.HadamardPower(x, 2)) / 2
    kernel = symgrad.compile_hessian(loss, [x], [X, y], dtype="float32", cache=False)
    rng = np.random.default_rng(3)
    values = {x: rng.normal(size=(3, 1)).astype(np.float32), X: rng.normal(size=(8, 3)).astype(np.float32),
              y: rng.integers(0, 2, size=(8, 1)).astype(np.float32)}
    with generated_floats() as seen:
        kernel.hessian(values)
        kernel.hvp(values, [np.ones((3, 1), np.float32)])
    assert_all_float32(seen)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**31 - 1))
def test_random_float32_programs_stay_float32(steps, seed):
    """The op vocabulary of tests/test_tf_adversarial.py (broadcasting, reductions with and without
    keepdims, means, matmul, transpose, softmax) traced at float32."""
    rng = np.random.default_rng(seed)
    arrays = [a.astype(np.float32) for a in (rng.normal(size=(5, 3)), rng.normal(size=(3, 3)) / 2, rng.normal(size=3),
                                             np.array(rng.normal()), rng.normal(size=(1, 3)))]
    with tf.Graph().as_default():
        X = tf.placeholder(tf.float32, (None, 3))
        params = [tf.Variable(a) for a in arrays[1:]]
        outs = _build("tf", [X, *params], steps)
        loss = tf.reduce_mean(tf.square(X))
        for out in outs:
            loss = loss + tf.reduce_mean(out)
        grads = tf.gradients(loss, [X, *params], unconnected_gradients="zero")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with generated_floats() as seen:
                sess.run([loss, *grads], {X: arrays[0]})
    assert_all_float32(seen)


def test_scalar_level_vectorized_kernel_is_float32_throughout():
    """Constants that numpy would compute as float64 scalars (sqrt(2), log(2), sqrt(2/pi)) print as
    literals, so the per-sample arrays stay float32 too."""
    w, b, x = sp.symbols("w b x")
    loss = sp.erf(w * x / sp.sqrt(2)) + sp.sqrt(2) * w * x**2 + sp.log(2) * b + sp.sqrt(2 / sp.pi) * sp.exp(-b * x)
    kernel = symgrad.compile(loss, wrt=[w, b], inputs=[x], dtype="float32", cache=False)
    assert "np.sqrt(2)" not in kernel.source and "np.log(2)" not in kernel.source
    values = {w: 0.3, b: -0.2, x: np.linspace(-2, 2, 400).astype(np.float32)}  # long enough for the vectorized path
    with generated_floats() as seen:
        value, grads = kernel.loss_and_grad(values)
    assert_all_float32(seen)
    want = symgrad.compile(loss, wrt=[w, b], inputs=[x], cache=False).loss_and_grad(values)
    assert value == pytest.approx(want[0], rel=1e-5)
    assert grads == pytest.approx(want[1], rel=1e-4)
