"""Keras metrics, computed in numpy from the predictions a step fetches along with the loss.

Each metric is a per-sample function of (y_true, y_pred) arrays; `fit` and `evaluate` report its
mean over every sample seen (Keras's `MeanMetricWrapper`). `metrics=["accuracy"]` picks binary,
sparse categorical or categorical accuracy from the shapes, by Keras's rule. Anything else in
`metrics=` is refused rather than ignored.
"""

import numpy as np

from ...errors import InvalidArgumentError, UnsupportedError


def _labels(y_true):
    y = np.asarray(y_true)
    return y[..., 0] if y.ndim >= 2 and y.shape[-1] == 1 else y


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    return np.mean(y_true == (y_pred > threshold), axis=-1)


def categorical_accuracy(y_true, y_pred):
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(float)


def sparse_categorical_accuracy(y_true, y_pred):
    return (_labels(y_true) == np.argmax(y_pred, axis=-1)).astype(float)


class MeanMetric:
    """A named per-sample metric (`name` is its History key)."""

    def __init__(self, fn, name):
        self.fn, self.name = fn, name

    def __call__(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


class BinaryAccuracy(MeanMetric):
    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(lambda t, p: binary_accuracy(t, p, threshold), name)


class CategoricalAccuracy(MeanMetric):
    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetric):
    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name)


METRICS = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
}


def accuracy_for(name, y_true_shape, y_pred_shape):
    """Keras's reading of "accuracy"/"acc": binary for one output column, sparse categorical when
    the targets are labels (lower rank, or one column against several outputs), else categorical."""
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy(name)
    if len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1:
        return SparseCategoricalAccuracy(name)
    return CategoricalAccuracy(name)


def check(metrics):
    """The `metrics=` of `compile`, checked: a list of names or our metric objects."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, MeanMetric)):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)):
        raise UnsupportedError(f"metrics must be a list of metric names, got {type(metrics).__name__}")
    known = sorted(["accuracy", "acc", *METRICS])
    for m in metrics:
        if isinstance(m, MeanMetric):
            continue
        if not isinstance(m, str) or m.lower() not in known:
            raise UnsupportedError(
                f"metric {m!r} is not implemented in symgrad.tf.keras; use one of {known} "
                "(or keras.metrics.BinaryAccuracy/CategoricalAccuracy/SparseCategoricalAccuracy)"
            )
    names = [m.name if isinstance(m, MeanMetric) else m for m in metrics]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"metrics {names} name one metric twice")
    return list(metrics)


def resolve(metrics, y_true_shape, y_pred_shape):
    """Metric objects for checked `metrics`, now that the targets' and outputs' shapes are known."""
    out = []
    for m in metrics:
        if isinstance(m, MeanMetric):
            out.append(m)
        elif m.lower() in ("accuracy", "acc"):
            out.append(accuracy_for(m, y_true_shape, y_pred_shape))
        else:
            out.append(METRICS[m.lower()](m))
    return out
