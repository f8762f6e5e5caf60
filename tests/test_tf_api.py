"""The TensorFlow names programs need most, each against real TensorFlow (tensorflow-cpu, the oracle;
these tests skip where it is not installed) in values, gradients, shapes and dtypes."""

import sys

import numpy as np
import pytest

import symgrad.tf as tf

_LIMIT = sys.getrecursionlimit()
real = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'symgrad[tf-oracle]')")
sys.setrecursionlimit(_LIMIT)  # importing TensorFlow raises it to 3000; other tests' deep expressions rely on the default

RNG = np.random.default_rng(5)


def _tape_grad(fn, *arrays):
    """Real TensorFlow's value of fn(*arrays) and its gradients with respect to each array."""
    xs = [real.Variable(a) for a in arrays]
    with real.GradientTape() as tape:
        y = fn(*xs)
    return y.numpy(), [g.numpy() for g in tape.gradient(y, xs)]


def _ours(fn, *arrays):
    xs = [tf.Variable(a) for a in arrays]
    with tf.GradientTape() as tape:
        y = fn(*xs)
    return y.numpy(), [g.numpy() for g in tape.gradient(y, xs)]


def test_softmax_cross_entropies_match_tensorflow_in_value_and_gradient():
    logits, labels = RNG.normal(size=(6, 4)) * 3, RNG.dirichlet(np.ones(4), size=6)
    sparse = RNG.integers(0, 4, size=6)
    for ours, theirs in [
        (lambda z: tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=z)),
         lambda z: real.reduce_mean(real.nn.softmax_cross_entropy_with_logits(labels=labels, logits=z))),
        (lambda z: tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=z)),
         lambda z: real.reduce_sum(real.nn.softmax_cross_entropy_with_logits(labels=labels, logits=z))),
        (lambda z: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=sparse, logits=z)),
         lambda z: real.reduce_mean(real.nn.sparse_softmax_cross_entropy_with_logits(labels=sparse, logits=z))),
        (lambda z: tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=z)),
         lambda z: real.reduce_sum(real.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=z))),
    ]:
        got, (g,) = _ours(ours, logits)
        want, (w,) = _tape_grad(theirs, logits)
        assert got == pytest.approx(want, rel=1e-12)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14)
    per_row = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits).numpy()
    np.testing.assert_allclose(per_row, real.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits).numpy())
    assert per_row.shape == (6,)


def test_accuracy_through_equal_argmax_and_cast_in_a_session():
    logits_val, y_val = RNG.normal(size=(20, 5)), np.eye(5)[RNG.integers(0, 5, 20)]
    with tf.Graph().as_default():
        x = tf.placeholder("float", [None, 5])
        y = tf.placeholder("float", [None, 5])
        w = tf.Variable(np.eye(5, dtype=np.float32))
        correct = tf.equal(tf.argmax(tf.matmul(x, w), 1), tf.argmax(y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got_correct, got = sess.run([correct, accuracy], {x: logits_val, y: y_val})
    want_correct = real.equal(real.argmax(logits_val, 1), real.argmax(y_val, 1)).numpy()
    np.testing.assert_array_equal(got_correct, want_correct)
    assert got == pytest.approx(real.reduce_mean(real.cast(want_correct, real.float32)).numpy(), rel=1e-7)
    assert x.dtype.name == "float32" and got_correct.dtype == np.bool_
    assert isinstance(got, np.floating) and format(got, ".9f") == format(float(got), ".9f")  # a numpy scalar
    arg = tf.argmax(tf.constant(logits_val))  # TensorFlow's default axis is 0, the result int64
    np.testing.assert_array_equal(arg.numpy(), real.argmax(logits_val).numpy())
    assert arg.numpy().dtype == real.argmax(logits_val).numpy().dtype


def test_reduce_mean_with_tf1_argument_names_matches_tensorflow():
    x = RNG.normal(size=(4, 3))
    for kwargs in [dict(reduction_indices=1), dict(reduction_indices=[0]), dict(axis=0, keepdims=True),
                   dict(reduction_indices=1, keep_dims=True), dict()]:
        real_kwargs = {"axis" if k == "reduction_indices" else "keepdims" if k == "keep_dims" else k: v
                       for k, v in kwargs.items()}
        for ours, theirs in [(tf.reduce_mean, real.reduce_mean), (tf.reduce_sum, real.reduce_sum)]:
            got = ours(tf.constant(x), **kwargs).numpy()
            want = theirs(x, **real_kwargs).numpy()
            assert np.shape(got) == want.shape, kwargs
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_dtypes_have_tensorflows_names():
    for ours, theirs in [(tf.int8, real.int8), (tf.int16, real.int16), (tf.int32, real.int32), (tf.int64, real.int64),
                         (tf.uint8, real.uint8), (tf.bool, real.bool), (tf.float32, real.float32)]:
        assert ours.name == theirs.name and ours.as_numpy_dtype == theirs.as_numpy_dtype
    assert tf.placeholder("float").dtype is tf.float32 and tf.placeholder("double").dtype is tf.float64
    with pytest.raises(tf.InvalidArgumentError, match="no dtype 'complex64'"):
        tf.placeholder("complex64")


@pytest.mark.parametrize("make", [
    lambda lib, **kw: lib.keras.optimizers.SGD(learning_rate=0.1, **kw),
    lambda lib, **kw: lib.optimizers.SGD(learning_rate=0.1, momentum=0.9, **kw),
    lambda lib, **kw: lib.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True, **kw),
    lambda lib, **kw: lib.optimizers.Adam(learning_rate=0.05, **kw),
])
def test_optimizers_follow_tensorflows_trajectory(make):
    """In float32: Keras keeps its hyper-parameters in float32, which moves float64 results by ~1e-5."""
    start, target = RNG.normal(size=(3, 2)).astype(np.float32), RNG.normal(size=(3, 2)).astype(np.float32)
    mine, theirs = tf.Variable(start), real.Variable(start)
    opt_mine, opt_theirs = make(tf), make(real)
    for _ in range(6):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(mine - target) * tf.exp(mine))
        opt_mine.apply_gradients([(tape.gradient(loss, mine), mine)])
        with real.GradientTape() as tape:
            loss = real.reduce_sum(real.square(theirs - target) * real.exp(theirs))
        opt_theirs.apply_gradients([(tape.gradient(loss, theirs), theirs)])
    assert mine.numpy().dtype == np.float32
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=2e-6, atol=1e-7)


def test_keras_2_lr_is_learning_rate():
    assert tf.keras.optimizers.SGD(lr=0.3).learning_rate == 0.3
    assert tf.keras.optimizers.Adam(lr=0.02).learning_rate == 0.02
    with pytest.raises(tf.InvalidArgumentError, match="not both"):
        tf.keras.optimizers.SGD(lr=0.3, learning_rate=0.1)


def test_one_hot_and_to_categorical_match_tensorflow():
    idx = np.array([0, 3, 1, 5, -1])  # out of range: a row of off_value, as TensorFlow does
    for kwargs in [dict(), dict(on_value=2.0, off_value=-1.0)]:
        got = tf.one_hot(idx, 4, **kwargs).numpy()
        want = real.one_hot(idx, 4, **kwargs).numpy()
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
    labels = RNG.integers(0, 6, size=(7, 1))
    np.testing.assert_array_equal(tf.keras.utils.to_categorical(labels), real.keras.utils.to_categorical(labels))
    np.testing.assert_array_equal(tf.keras.utils.to_categorical(labels[:, 0], 8),
                                  real.keras.utils.to_categorical(labels[:, 0], 8))


def test_clip_by_value_and_math_functions_match_tensorflow_with_gradients():
    x = RNG.uniform(0.2, 2.0, size=(3, 4))
    other = RNG.normal(size=(3, 4))
    pairs = [
        (lambda m: m.clip_by_value, lambda f, a: f(a, 0.5, 1.5)),
        (lambda m: m.math.log1p, lambda f, a: f(a)),
        (lambda m: m.math.expm1, lambda f, a: f(a)),
        (lambda m: m.math.rsqrt, lambda f, a: f(a)),
        (lambda m: m.math.reciprocal, lambda f, a: f(a)),
        (lambda m: m.math.sin, lambda f, a: f(a)),
        (lambda m: m.math.cos, lambda f, a: f(a)),
        (lambda m: m.math.log_sigmoid, lambda f, a: f(a)),
        (lambda m: m.math.softplus, lambda f, a: f(a)),
        (lambda m: m.math.squared_difference, lambda f, a: f(a, other)),
        (lambda m: m.math.maximum, lambda f, a: f(a, other)),
        (lambda m: m.math.pow, lambda f, a: f(a, 2.5)),
    ]
    for pick, call in pairs:
        got, (g,) = _ours(lambda a, pick=pick, call=call: tf.reduce_sum(call(pick(tf), a) * other), x)
        want, (w,) = _tape_grad(lambda a, pick=pick, call=call: real.reduce_sum(call(pick(real), a) * other), x)
        assert got == pytest.approx(want, rel=1e-12)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14)


def test_top_level_softmax_is_the_nn_one():
    z = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(tf.softmax(tf.constant(z)).numpy(), real.nn.softmax(z).numpy(), rtol=1e-12)


def test_dataset_batches_match_tensorflows_and_shuffle_permutes():
    x, y = RNG.normal(size=(10, 3)), np.arange(10)
    ours = list(tf.data.Dataset.from_tensor_slices((x, y)).batch(4))
    theirs = list(real.data.Dataset.from_tensor_slices((x, y)).batch(4))
    assert len(ours) == len(theirs) == 3
    for (a, b), (c, d) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())
    seen = np.concatenate([b.numpy() for _, b in tf.data.Dataset.from_tensor_slices((x, y)).shuffle(10, seed=1).batch(3)])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    single = list(tf.data.Dataset.from_tensor_slices(x).take(2))
    assert [s.numpy().shape for s in single] == [(3,), (3,)]
    dropped = list(tf.data.Dataset.from_tensor_slices(x).batch(4, drop_remainder=True).repeat(2))
    assert [b.numpy().shape[0] for b in dropped] == [4, 4, 4, 4]


def test_numpy_on_the_left_of_an_operator_keeps_the_gradient():
    a = RNG.normal(size=(3, 2))
    w = tf.Variable(RNG.normal(size=(3, 2)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(a * w + a / (2.0 + w) - a)  # ndarray ∘ Tensor: numpy defers to the tensor
    assert isinstance(a * w, tf.Tensor) and isinstance(a @ tf.transpose(w), tf.Tensor)
    got = tape.gradient(loss, w).numpy()
    _, (want,) = _tape_grad(lambda v: real.reduce_sum(a * v + a / (2.0 + v) - a), w.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert f"{tf.reduce_sum(w):.3f}" == f"{w.numpy().sum():.3f}"  # eager tensors format as their value


def test_random_tensors_have_tensorflows_shapes_dtypes_and_distributions():
    tf.random.set_seed(0)
    for ours, theirs, kwargs in [(tf.random.normal, real.random.normal, dict(mean=1.0, stddev=2.0)),
                                 (tf.random_normal, real.random.normal, dict()),
                                 (tf.random.truncated_normal, real.random.truncated_normal, dict(stddev=0.5)),
                                 (tf.random.uniform, real.random.uniform, dict(minval=-1.0, maxval=3.0))]:
        got, want = ours([200, 100], **kwargs).numpy(), theirs([200, 100], **kwargs).numpy()
        assert got.shape == want.shape and got.dtype == want.dtype
        assert got.mean() == pytest.approx(want.mean(), abs=0.05) and got.std() == pytest.approx(want.std(), rel=0.03)
    assert np.abs(tf.random.truncated_normal([1000], stddev=0.5).numpy()).max() <= 1.0  # redrawn beyond 2σ
    uniform = tf.random.uniform([1000], minval=-1.0, maxval=3.0).numpy()
    assert uniform.min() >= -1.0 and uniform.max() < 3.0
    ints = tf.random.uniform([50], maxval=4, dtype=tf.int32).numpy()
    assert ints.dtype == np.int32 and set(ints) <= {0, 1, 2, 3}


def test_dropout_drops_and_scales_while_training_only():
    tf.random.set_seed(1)
    x = np.ones((400, 50))
    layer = tf.keras.layers.Dropout(0.3)
    assert layer(x).numpy() is not None and np.array_equal(layer(x).numpy(), x)  # inference: identity
    out = layer(x, training=True).numpy()
    kept = out != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.02)
    np.testing.assert_allclose(out[kept], 1 / 0.7)
    with tf.Graph().as_default():  # TF1: keep_prob fed through a placeholder, fresh noise each run
        X = tf.placeholder(tf.float64, (None, 50))
        keep = tf.placeholder(tf.float64)
        w = tf.Variable(np.ones((50, 1)))
        loss = tf.reduce_sum(tf.matmul(tf.nn.dropout(X, keep_prob=keep), w))
        (g,) = tf.gradients(loss, [X])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            g1, g2 = (sess.run(g, {X: x, keep: 0.5}) for _ in range(2))
            assert np.array_equal(sess.run(g, {X: x, keep: 1.0}), x)
    assert set(np.unique(g1)) == {0.0, 2.0} and not np.array_equal(g1, g2)
    assert (g1 != 0).mean() == pytest.approx(0.5, abs=0.02)
