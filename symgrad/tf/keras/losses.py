"""Keras losses: per-sample functions `loss(y_true, y_pred)` (Keras averages them over the batch)."""

from ...errors import InvalidArgumentError
from .. import ops

EPSILON = 1e-7  # Keras clips probabilities to [ε, 1 − ε] before taking logs


def mean_squared_error(y_true, y_pred):
    return ops.reduce_mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    return ops.reduce_mean(ops.abs(y_pred - y_true), axis=-1)


def binary_crossentropy(y_true, y_pred):
    p = _clip(y_pred)
    return ops.negative(ops.reduce_mean(y_true * ops.log(p) + (1 - y_true) * ops.log(1 - p), axis=-1))


def categorical_crossentropy(y_true, y_pred):
    return ops.negative(ops.reduce_sum(y_true * ops.log(_clip(y_pred)), axis=-1))


def _clip(p):
    return ops.maximum(ops.negative(ops.maximum(ops.negative(p), -(1 - EPSILON))), EPSILON)


mse, mae = mean_squared_error, mean_absolute_error

LOSSES = {
    "mse": mse,
    "mean_squared_error": mse,
    "mae": mae,
    "mean_absolute_error": mae,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
}


class MeanSquaredError:
    """The batch mean of `mean_squared_error` (a scalar), as Keras's loss classes return."""

    def __call__(self, y_true, y_pred):
        return ops.reduce_mean(mean_squared_error(y_true, y_pred))


def get(name_or_fn):
    if callable(name_or_fn):
        return name_or_fn
    try:
        return LOSSES[name_or_fn]
    except (KeyError, TypeError):
        raise InvalidArgumentError(f"unknown loss {name_or_fn!r}; choose one of {sorted(LOSSES)} or pass a callable") from None
