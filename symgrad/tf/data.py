"""`tf.data.Dataset`: slices of arrays in batches, the way training loops iterate over data.

`from_tensor_slices(x)` (an array, a tuple or a dict of arrays with equal first axes) → `.shuffle`,
`.batch`, `.repeat`, `.take`; iterating gives eager constant tensors (tuples and dicts as given).
"""

import numpy as np

from ..errors import InvalidArgumentError, ShapeError
from .graph import DTYPES, Tensor
from .ops import constant
from .random import op_seed


def _map_structure(fn, structure):
    if isinstance(structure, dict):
        return {k: fn(v) for k, v in structure.items()}
    if isinstance(structure, (tuple, list)):
        return tuple(fn(v) for v in structure)
    return fn(structure)


def _leaves(structure):
    if isinstance(structure, dict):
        return list(structure.values())
    return list(structure) if isinstance(structure, (tuple, list)) else [structure]


class Dataset:
    """A sequence of elements, each a slice (or batch of slices) of the arrays it was made from."""

    def __init__(self, arrays, length, plan):
        self._arrays, self._length, self._plan = arrays, length, plan  # plan: () -> iterator of index arrays

    @classmethod
    def from_tensor_slices(cls, tensors):
        arrays = _map_structure(lambda v: np.asarray(v.numpy() if isinstance(v, Tensor) else v), tensors)
        lengths = {len(a) if a.ndim else None for a in _leaves(arrays)}
        if None in lengths or len(lengths) != 1:
            shapes = [a.shape for a in _leaves(arrays)]
            raise ShapeError(f"from_tensor_slices needs arrays with one equal first axis, got shapes {shapes}")
        (length,) = lengths
        return cls(arrays, length, lambda: (np.array([i]) for i in range(length)))

    def _element(self, idx, batched):
        def pick(a):
            part = a[idx] if batched else a[idx[0]]
            return constant(part, dtype=part.dtype.name if part.dtype.name in DTYPES else None)

        return _map_structure(pick, self._arrays)

    def __iter__(self):
        batched = getattr(self, "_batched", False)
        for idx in self._plan():
            yield self._element(idx, batched)

    def _derived(self, plan, batched=None):
        out = Dataset(self._arrays, self._length, plan)
        out._batched = getattr(self, "_batched", False) if batched is None else batched
        return out

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """TensorFlow's streaming shuffle: a buffer of `buffer_size` elements, each output drawn
        from it at random and replaced by the next input (so it works on a `repeat()`ed stream;
        a buffer as large as the dataset shuffles it uniformly)."""
        buffer_size = int(buffer_size)
        if buffer_size < 1:
            raise InvalidArgumentError(f"shuffle needs buffer_size >= 1, got {buffer_size}")
        # as TensorFlow: without an op seed the order follows the global one (`tf.random.set_seed`)
        parent, rng = self._plan, np.random.default_rng(seed if seed is not None else op_seed())
        fixed = None if reshuffle_each_iteration else int(rng.integers(1 << 62))

        def plan():
            draw = rng if fixed is None else np.random.default_rng(fixed)
            buffer = []
            for item in parent():
                if len(buffer) < buffer_size:
                    buffer.append(item)
                    continue
                k = int(draw.integers(len(buffer)))
                yield buffer[k]
                buffer[k] = item
            while buffer:
                yield buffer.pop(int(draw.integers(len(buffer))))

        return self._derived(plan)

    def batch(self, batch_size, drop_remainder=False):
        batch_size = int(batch_size)
        if batch_size < 1:
            raise InvalidArgumentError(f"batch needs batch_size >= 1, got {batch_size}")
        if getattr(self, "_batched", False):
            raise InvalidArgumentError("batch of a batched dataset (nested batches) is not supported")
        parent = self._plan

        def plan():  # streaming, so batches of a repeat()ed dataset come one at a time
            items = []
            for i in parent():
                items.append(i[0])
                if len(items) == batch_size:
                    yield np.array(items)
                    items = []
            if items and not drop_remainder:
                yield np.array(items)

        return self._derived(plan, batched=True)

    def repeat(self, count=None):
        parent = self._plan

        def plan():
            k = 0
            while count is None or k < count:
                yield from parent()
                k += 1

        return self._derived(plan)

    def take(self, count):
        parent = self._plan

        def plan():
            for k, idx in enumerate(parent()):
                if k >= count:
                    return
                yield idx

        return self._derived(plan)

    def prefetch(self, buffer_size):
        """The same dataset: prefetching only overlaps input with compute, and batches here are
        slices of arrays already in memory."""
        if buffer_size is None or (int(buffer_size) < 1 and int(buffer_size) != -1):
            raise InvalidArgumentError(f"prefetch needs buffer_size >= 1 or tf.data.AUTOTUNE (-1), got {buffer_size}")
        return self


AUTOTUNE = -1  # `tf.data.AUTOTUNE`: let prefetch choose (here it is the same dataset either way)
