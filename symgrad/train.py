"""Gradient descent on generated kernels, with the seed's two batch modes.

batch_size=None uses all N samples for each update (one step per epoch); batch_size=1 updates
after every sample, in order, as the seed text does by hand.
"""

import numpy as np

from .errors import InvalidArgumentError


def gradient_descent(kernel, params, data, lr=0.1, epochs=2000, batch_size=None, progress=False):
    """Train `kernel`'s parameters; returns (final params dict, loss per epoch on all data).

    `params` maps each parameter symbol to its start value, `data` maps each input symbol to an
    array of length N. The loss recorded for an epoch is the full-data loss after that epoch.
    """
    if lr <= 0 or epochs < 0:
        raise InvalidArgumentError(f"need lr > 0 and epochs ≥ 0, got lr={lr}, epochs={epochs}")
    args = kernel.arguments({**data, **params})
    n_data = len(kernel.inputs)
    columns, theta = args[:n_data], np.array(args[n_data:], dtype=kernel.dtype)
    n = columns[0].shape[0] if columns else 1
    if batch_size is not None and not 1 <= batch_size <= n:
        raise InvalidArgumentError(f"batch_size must be between 1 and {n} (the number of samples), got {batch_size}")
    step = batch_size or n
    batches = [[c[i : i + step] for c in columns] for i in range(0, n, step)]
    fn, loss_fn = kernel.module.loss_and_grad, kernel.module.loss
    losses = np.empty(epochs)
    epochs_iter = range(epochs)
    if progress:
        from tqdm import tqdm

        epochs_iter = tqdm(epochs_iter, desc="training", unit="epoch")
    for epoch in epochs_iter:
        for batch in batches:
            _, grads = fn(*batch, *theta.tolist())
            theta -= lr * np.asarray(grads, dtype=kernel.dtype)
        losses[epoch] = loss_fn(*columns, *theta.tolist())
    return dict(zip(kernel.wrt, theta.tolist())), losses
