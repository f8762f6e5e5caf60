"""MNIST's two loaders, serving scikit-learn's 8×8 digits padded with zeros to MNIST's 784 pixels.

The programs in this folder are published MNIST programs with their import and data lines
changed; these stand in for the downloads they made:

- `read_data_sets(train_dir, one_hot=False)`: TF1's `tensorflow.examples.tutorials.mnist.input_data`
  (`mnist.train.next_batch`, `.images` in [0, 1], `.labels`, `.num_examples`, `mnist.test`);
- `load_data()`: `keras.datasets.mnist.load_data()`, uint8 images (samples, 28, 28) in 0..255.

The 64 pixels of a digit (0..16) are scaled to MNIST's range and written into the first 64 of the
784 positions; a seeded split keeps 25% of the 1797 digits for testing.
"""

from types import SimpleNamespace

import numpy as np

PIXELS, CLASSES, TEST_FRACTION, SEED = 784, 10, 0.25, 0


def _split():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.zeros((len(digits.data), PIXELS), dtype=np.uint8)
    images[:, : digits.data.shape[1]] = np.round(digits.data * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(SEED).permutation(len(images))
    n_test = int(len(images) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    return (images[train], digits.target[train].astype(np.uint8)), (images[test], digits.target[test].astype(np.uint8))


def load_data(path=None):
    """((x_train, y_train), (x_test, y_test)) as `keras.datasets.mnist.load_data()` returns them."""
    (x_train, y_train), (x_test, y_test) = _split()
    return (x_train.reshape(-1, 28, 28), y_train), (x_test.reshape(-1, 28, 28), y_test)


class DataSet:
    """TF1's `DataSet`: float32 images in [0, 1] and `next_batch`, reshuffled at every epoch's end."""

    def __init__(self, images, labels, one_hot, seed):
        self.images = images.astype(np.float32) / 255.0
        self.labels = np.eye(CLASSES, dtype=np.float32)[labels] if one_hot else labels
        self.num_examples = len(images)
        self.epochs_completed = 0
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(self.num_examples)
        self._index = 0

    def next_batch(self, batch_size, shuffle=True):
        if self._index + batch_size > self.num_examples:  # the rest of this epoch, then the next one's start
            rest = self._order[self._index :]
            self.epochs_completed += 1
            self._order = self._rng.permutation(self.num_examples) if shuffle else np.arange(self.num_examples)
            self._index = batch_size - len(rest)
            idx = np.concatenate([rest, self._order[: self._index]])
        else:
            idx = self._order[self._index : self._index + batch_size]
            self._index += batch_size
        return self.images[idx], self.labels[idx]


def read_data_sets(train_dir=None, one_hot=False):
    """`input_data.read_data_sets(train_dir, one_hot=...)`: `.train` and `.test` (`train_dir` unused: no download)."""
    (x_train, y_train), (x_test, y_test) = _split()
    return SimpleNamespace(train=DataSet(x_train, y_train, one_hot, SEED), test=DataSet(x_test, y_test, one_hot, SEED + 1))
