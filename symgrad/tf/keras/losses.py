"""Keras losses: per-sample functions `loss(y_true, y_pred)` (Keras averages them over the batch)."""

from ...errors import InvalidArgumentError
from .. import ops


def mean_squared_error(y_true, y_pred):
    return ops.reduce_mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    return ops.reduce_mean(ops.abs(y_pred - y_true), axis=-1)


def binary_crossentropy(y_true, y_pred):
    """Unlike Keras, probabilities are not clipped: the lowering's stable forms of log σ keep a
    saturated sigmoid output finite, and a clip would hide the gradient."""
    p = y_pred
    return ops.negative(ops.reduce_mean(y_true * ops.log(p) + (1 - y_true) * ops.log(1 - p), axis=-1))


def categorical_crossentropy(y_true, y_pred):
    return ops.negative(ops.reduce_sum(y_true * ops.log(y_pred), axis=-1))


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
