"""Keras losses: per-sample functions `loss(y_true, y_pred)` (Keras averages them over the batch)
and the classes, whose call returns that batch mean.

Sparse losses take integer class labels. A model feeds them as one-hot rows (`dense_form`), so
the graph only ever sees the categorical form; called directly, the labels must be numbers.
"""

import numpy as np

from ...errors import InvalidArgumentError, UnsupportedError
from .. import ops
from ..graph import Tensor


def mean_squared_error(y_true, y_pred):
    return ops.reduce_mean(ops.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    return ops.reduce_mean(ops.abs(y_pred - y_true), axis=-1)


def binary_crossentropy(y_true, y_pred):
    """Unlike Keras, probabilities are not clipped: the lowering's stable forms of log σ keep a
    saturated sigmoid output finite, and a clip would hide the gradient."""
    p = y_pred
    return ops.negative(ops.reduce_mean(y_true * ops.log(p) + (1 - y_true) * ops.log(1 - p), axis=-1))


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """−Σ y·log p; from logits z, log p = log softmax(z) = z − logsumexp(z) (never log of a rounded 0)."""
    log_p = ops.log(ops.softmax(y_pred)) if from_logits else ops.log(y_pred)
    return ops.negative(ops.reduce_sum(y_true * log_p, axis=-1))


def one_hot_labels(labels, classes, what="y"):
    """Integer labels, shape (samples,) or (samples, 1), as one-hot rows of `classes` columns."""
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.dtype.kind not in "biuf" or not np.all(np.mod(arr, 1) == 0):
        raise InvalidArgumentError(
            f"{what}: a sparse categorical loss takes integer class labels of shape (samples,), got "
            f"{arr.dtype} values of shape {arr.shape}; for one-hot rows use categorical_crossentropy"
        )
    if arr.size and (arr.min() < 0 or arr.max() >= classes):
        raise InvalidArgumentError(f"{what}: class labels must lie in [0, {classes}), got {arr.min()}..{arr.max()}")
    return np.eye(classes)[arr.astype(int)]


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    if isinstance(y_true, Tensor):
        if y_true.op != "const" or y_true.attrs != ("array",):
            raise UnsupportedError(
                f"sparse_categorical_crossentropy of the tensor {y_true.name!r}: symgrad.tf needs the labels as "
                "numbers here (a model's fit/evaluate feeds them for you); otherwise feed one-hot rows to "
                "categorical_crossentropy"
            )
        y_true = y_true.value
    y_pred = ops.convert_to_tensor(y_pred)
    return categorical_crossentropy(one_hot_labels(y_true, y_pred.shape[-1]), y_pred, from_logits)


mse, mae = mean_squared_error, mean_absolute_error

LOSSES = {
    "mse": mse,
    "mean_squared_error": mse,
    "mae": mae,
    "mean_absolute_error": mae,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}


class _BatchMean:
    """A loss class: calling it gives the batch mean of its per-sample function."""

    from_logits = False

    def per_sample(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred):
        return ops.reduce_mean(self.per_sample(y_true, y_pred))


class MeanSquaredError(_BatchMean):
    def per_sample(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class CategoricalCrossentropy(_BatchMean):
    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def per_sample(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Integer labels against probabilities (or logits with `from_logits=True`)."""

    def per_sample(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)


def get(name_or_fn):
    if callable(name_or_fn):
        return name_or_fn
    try:
        return LOSSES[name_or_fn]
    except (KeyError, TypeError):
        raise InvalidArgumentError(f"unknown loss {name_or_fn!r}; choose one of {sorted(LOSSES)} or pass a callable") from None


def dense_form(loss):
    """(f(one-hot or dense targets, predictions), whether targets are sparse labels) for a model."""
    if isinstance(loss, SparseCategoricalCrossentropy) or loss is sparse_categorical_crossentropy:
        from_logits = getattr(loss, "from_logits", False)
        return (lambda y, p: categorical_crossentropy(y, p, from_logits)), True
    return loss, False
