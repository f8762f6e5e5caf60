"""Mistakes a TensorFlow user makes get our clear errors (or TensorFlow's documented behaviour)."""

import numpy as np
import pytest

import symgrad.tf as tf
from symgrad.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    SymgradError,
    UnboundSymbolError,
    UnsupportedError,
)


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def test_feeding_the_wrong_shape_names_the_placeholder_and_both_shapes(graph):
    x = tf.placeholder(tf.float64, (None, 4), name="x")
    y = tf.reduce_sum(x)
    with tf.Session() as sess, pytest.raises(ShapeError, match=r"shape \(3, 5\).*'x'.*\(None, 4\)"):
        sess.run(y, {x: np.ones((3, 5))})


def test_fetching_an_op_that_needs_an_unfed_placeholder(graph):
    x = tf.placeholder(tf.float64, (None, 2), name="inputs")
    w = tf.Variable([1.0, 2.0])
    y = tf.reduce_sum(x * w)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(UnboundSymbolError, match="You must feed a value for placeholder tensor 'inputs'"):
            sess.run(y)
        assert sess.run(w).tolist() == [1.0, 2.0]  # what needs no feed still runs


def test_gradient_for_an_unused_variable_is_none_as_in_tensorflow(graph):
    used, unused = tf.Variable(1.0), tf.Variable(2.0)
    grads = tf.gradients(tf.square(used), [used, unused])
    assert grads[1] is None and grads[0] is not None
    opt = tf.train.GradientDescentOptimizer(0.1)
    assert opt.compute_gradients(tf.square(used), [used, unused])[1] == (None, unused)
    with pytest.raises(InvalidArgumentError, match="No gradients provided"):
        opt.minimize(tf.square(used), var_list=[unused])


def test_running_an_op_from_another_graph():
    with tf.Graph().as_default():
        a = tf.Variable(1.0, name="a")
        doubled = a * 2.0
    with tf.Graph().as_default():
        b = tf.Variable(3.0, name="b")
        with tf.Session() as sess, pytest.raises(InvalidArgumentError, match="not an element of this session's graph"):
            sess.run(doubled)
        with pytest.raises(InvalidArgumentError, match="same graph"):
            tf.add(a, b)


def test_uninitialized_variable_and_closed_session(graph):
    w = tf.Variable(1.0, name="weights")
    sess = tf.Session()
    with pytest.raises(FailedPreconditionError, match="uninitialized value weights"):
        sess.run(w * 2.0)
    sess.close()
    with pytest.raises(FailedPreconditionError, match="closed Session"):
        sess.run(w)


def test_build_time_shape_errors(graph):
    x = tf.placeholder(tf.float64, (None, 3))
    with pytest.raises(ShapeError, match="inner dimensions differ"):
        tf.matmul(x, tf.Variable(np.ones((2, 2))))
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        tf.Variable(np.ones(3)) + tf.Variable(np.ones(2))
    with pytest.raises(ShapeError, match="unknown dimensions"):
        tf.placeholder(tf.float64, (None, None))


def test_tensor_of_rank_three_is_refused_with_advice(graph):
    x = tf.placeholder(tf.float64, (None, 2, 3), name="images")
    with tf.Session() as sess, pytest.raises(UnsupportedError, match=r"images.*rank ≤ 2.*flatten"):
        sess.run(tf.reduce_sum(x), {x: np.ones((4, 2, 3))})


def test_bad_feeds_and_fetches(graph):
    x = tf.placeholder(tf.float64, (None, 1), name="x")
    y = x * 2.0
    with tf.Session() as sess:
        with pytest.raises(InvalidArgumentError, match="cannot feed"):
            sess.run(y, {y: [[1.0]]})
        with pytest.raises(InvalidArgumentError, match="invalid type"):
            sess.run("x:0", {x: [[1.0]]})
        with pytest.raises(SymgradError, match="dtype"):
            sess.run(y, {x: [["a"]]})
        with pytest.raises(ShapeError, match="number of samples"):
            z = tf.placeholder(tf.float64, (None, 1))
            sess.run(x + z, {x: [[1.0]], z: [[1.0], [2.0]]})


def test_non_persistent_tape_computes_one_set_of_gradients():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.square(w)
    assert float(tape.gradient(y, w)) == 4.0
    with pytest.raises(InvalidArgumentError, match="non-persistent GradientTape"):
        tape.gradient(y, w)


def test_eager_apply_gradients_refuses_gradients_that_do_not_fit_or_are_not_finite():
    v = tf.Variable(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"\(3, 2\) does not fit variable Variable\w* of shape \(2, 3\)"):
        tf.optimizers.SGD(0.1).apply_gradients([(np.ones((3, 2)), v)])
    with pytest.raises(NonFiniteError, match="contains NaN or Inf"):
        tf.optimizers.SGD(0.1).apply_gradients([(np.full((2, 3), np.nan), v)])
    np.testing.assert_array_equal(v.numpy(), np.zeros((2, 3)))  # neither touched the variable
    tf.optimizers.SGD(0.1).apply_gradients([(np.ones(3), v)])  # a row broadcasts, as numpy's update does
    np.testing.assert_allclose(v.numpy(), np.full((2, 3), -0.1))
