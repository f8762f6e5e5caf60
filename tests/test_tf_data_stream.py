"""tf.data's shuffle and batch stream (TensorFlow's buffer semantics), so `repeat()` before them
(the TF2 tutorials' `repeat().shuffle(5000).batch(256)`) yields batches instead of exhausting memory."""

import itertools

import numpy as np
import pytest

import symgrad.tf as tf
from symgrad.errors import InvalidArgumentError


def _values(dataset, n):
    return [np.asarray(e.numpy()) for e in itertools.islice(dataset, n)]


def test_repeat_then_shuffle_and_batch_streams():
    x = np.arange(10.0)
    batches = _values(tf.data.Dataset.from_tensor_slices(x).repeat().shuffle(4, seed=0).batch(3).prefetch(1), 50)
    assert len(batches) == 50 and all(b.shape == (3,) for b in batches)
    seen = np.concatenate(batches)
    for epoch in range(10):  # a buffer of 4 draws each output from the next 4 inputs: no value runs ahead
        assert set(seen[:10 * (epoch + 1) - 3]) <= set(x)
    counts = np.bincount(seen[:140].astype(int), minlength=10)
    assert counts.min() >= 12 and counts.max() <= 16  # each value about once per pass of ten


def test_shuffle_buffer_bounds_how_far_an_element_moves():
    x = np.arange(200.0)
    out = np.array(_values(tf.data.Dataset.from_tensor_slices(x).shuffle(8, seed=3), 200))
    assert sorted(out) == list(x)
    assert all(out[i] <= i + 7 for i in range(200))  # output i comes from inputs 0..i+7
    assert not np.array_equal(out, x)
    np.testing.assert_array_equal(np.array(_values(tf.data.Dataset.from_tensor_slices(x).shuffle(1), 200)), x)


def test_buffer_size_one_keeps_tensorflows_order():
    real = pytest.importorskip("tensorflow", reason="tensorflow-cpu is not installed (the oracle for tf.data)")
    x = np.arange(7.0)
    ours = _values(tf.data.Dataset.from_tensor_slices(x).repeat(2).shuffle(1).batch(4), 10)
    theirs = [b.numpy() for b in real.data.Dataset.from_tensor_slices(x).repeat(2).shuffle(1).batch(4)]
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_prefetch_checks_its_buffer():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(3.0))
    assert ds.prefetch(tf.data.AUTOTUNE) is ds
    with pytest.raises(InvalidArgumentError, match="prefetch needs buffer_size"):
        ds.prefetch(0)


def test_shuffle_without_a_seed_follows_the_global_seed():
    """As TensorFlow: after tf.random.set_seed the same pipeline gives the same order (a program's
    training curve is reproducible); another global seed gives another order."""
    import symgrad.tf as tf

    def order(global_seed):
        tf.random.set_seed(global_seed)
        data = tf.data.Dataset.from_tensor_slices(np.arange(50.0)).shuffle(50).batch(50)
        return np.asarray(next(iter(data)))

    assert np.array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))
    assert sorted(order(3)) == list(np.arange(50.0))
