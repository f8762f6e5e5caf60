"""`tf.random`: random tensors, drawn once when the op is built (a constant array).

In TensorFlow a random op draws again at every run; programs use them for initial values, which
are drawn once either way (`tf.Variable(tf.random.normal(...))`). Draws come from one generator
that `set_seed` (`tf.random.set_seed`, TF1's `tf.set_random_seed`) resets, together with the Keras
initializers'.
"""

import numpy as np

from ..errors import InvalidArgumentError
from .graph import as_dtype
from .ops import constant

_RNG = {"rng": np.random.default_rng(0)}


def set_seed(seed):
    """Reset the generator behind `tf.random.*` and Keras's initializers (which draw from `_RNG` too)."""
    _RNG["rng"] = np.random.default_rng(seed)


def op_seed():
    """A seed for an op given none, drawn from the global generator: the same after the same `set_seed`."""
    return int(_RNG["rng"].integers(1 << 62))


def _generator(seed):
    return np.random.default_rng(seed) if seed is not None else _RNG["rng"]


def _shape(shape):
    try:
        return tuple(int(d) for d in (shape.numpy() if hasattr(shape, "numpy") else np.atleast_1d(shape)))
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"a random tensor needs a concrete shape (integers), got {shape!r}") from None


def _float_dtype(dtype, what):
    dt = as_dtype("float32" if dtype is None else dtype)
    if not dt.is_floating:
        raise InvalidArgumentError(f"{what} draws floats; got dtype {dt!r}")
    return dt


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None, name=None):
    dt = _float_dtype(dtype, "random.normal")
    values = _generator(seed).normal(mean, stddev, size=_shape(shape))
    return constant(values, dtype=dt, name=name or "random_normal")


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None, name=None):
    """Normal draws more than two standard deviations from the mean are drawn again (TensorFlow's rule)."""
    dt = _float_dtype(dtype, "random.truncated_normal")
    rng, size = _generator(seed), _shape(shape)
    values = rng.standard_normal(size)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return constant(mean + stddev * values, dtype=dt, name=name or "truncated_normal")


def uniform(shape, minval=0, maxval=None, dtype=None, seed=None, name=None):
    """Floats in [minval, maxval) (maxval 1 by default); integers in [minval, maxval), maxval required."""
    dt = as_dtype("float32" if dtype is None else dtype)
    rng, size = _generator(seed), _shape(shape)
    if dt.is_integer:
        if maxval is None:
            raise InvalidArgumentError("random.uniform with an integer dtype needs maxval")
        values = rng.integers(int(minval), int(maxval), size=size)
    else:
        values = rng.uniform(float(minval), 1.0 if maxval is None else float(maxval), size=size)
    return constant(values, dtype=dt, name=name or "random_uniform")


random_normal, random_uniform = normal, uniform  # TF1's names, also at tf's top level
