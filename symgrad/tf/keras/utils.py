"""`keras.utils`: helpers for data."""

import numpy as np

from ...errors import InvalidArgumentError


def to_categorical(y, num_classes=None, dtype="float32"):
    """Class indices → one-hot rows (the classes in a new last axis; a trailing axis of 1 is dropped)."""
    y = np.asarray(y)
    if y.ndim and y.shape[-1] == 1 and y.ndim > 1:
        y = y[..., 0]
    if y.size and (not np.all(y == np.round(y)) or y.min() < 0):
        raise InvalidArgumentError("to_categorical needs class indices: non-negative integers")
    y = y.astype(np.int64)
    num_classes = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= num_classes:
        raise InvalidArgumentError(f"to_categorical: class {int(y.max())} is not below num_classes={num_classes}")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out
