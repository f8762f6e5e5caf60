"""Gradient descent on generated kernels: the seed's two batch modes on numpy data
(`gradient_descent`), and full-batch or minibatch training on dask data with checkpoints (`fit`).

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


def fit(kernel, params, data, optimizer=None, epochs=1, minibatch=False, seed=0, checkpoint=None, every=100,
        resume=None, progress=False, callback=None):
    """Train on dask data, each gradient computed chunk by chunk where the data lives (see
    `symgrad.distributed`); returns (final params dict, loss of each step's batch before its update).

    `optimizer` is `symgrad.optim.SGD(lr)` (the default, lr 0.1) or `Adam(lr)`. `minibatch=False`
    takes one step per epoch on all the data (full-batch); `True` one step per chunk, the chunks in
    an order shuffled each epoch by a generator seeded with `seed`. `checkpoint=DIR` writes
    parameters, optimizer state, position and RNG state atomically every `every` steps and at the
    end; `resume=DIR` continues from that checkpoint and reproduces the uninterrupted run exactly.
    `callback(step, params)` runs after every step. Runs on the default dask scheduler: a
    `dask.distributed.Client` once one is created, else local threads.
    """
    from . import checkpoint as ckpt
    from .distributed import data_chunks
    from .optim import SGD

    optimizer = SGD() if optimizer is None else optimizer
    if epochs < 0 or every < 1:
        raise InvalidArgumentError(f"need epochs ≥ 0 and every ≥ 1, got epochs={epochs}, every={every}")
    chunks = data_chunks(kernel, data)
    theta = _start(kernel, params)
    settings = {"kernel": kernel.name, "wrt": [str(s) for s in kernel.wrt], "optimizer": repr(optimizer),
                "minibatch": bool(minibatch), "seed": seed, "chunks": list(chunks)}
    rng = np.random.default_rng(seed)
    step, epoch, position, order, losses = 0, 0, 0, None, []
    if resume is not None:
        arrays, meta = ckpt.load(resume)
        _same_settings(resume, meta["settings"], settings)
        theta = [arrays[f"param{i}"].astype(kernel.dtype) for i in range(len(theta))]
        optimizer.restore({k[4:]: v for k, v in arrays.items() if k.startswith("opt.")})
        rng.bit_generator.state = meta["rng"]
        step, epoch, position, order, losses = meta["step"], meta["epoch"], meta["position"], meta["order"], meta["losses"]

    def save(epoch):
        arrays = {**{f"param{i}": p for i, p in enumerate(theta)}, **{f"opt.{k}": v for k, v in optimizer.state().items()}}
        meta = {"settings": settings, "rng": rng.bit_generator.state, "step": step, "epoch": epoch,
                "position": position, "order": order, "losses": losses}
        ckpt.save(checkpoint, arrays, meta)

    nonempty = [i for i, n in enumerate(chunks) if n]
    epochs_iter = range(epoch, epochs)
    if progress:
        from tqdm import tqdm

        epochs_iter = tqdm(epochs_iter, desc="training", unit="epoch", initial=epoch, total=epochs)
    for epoch in epochs_iter:  # noqa: B007 - save() records it
        if order is None:
            order = [nonempty[i] for i in rng.permutation(len(nonempty))] if minibatch else [None]
        while position < len(order):
            batch = data if order[position] is None else _chunk(data, order[position])
            loss, grads = kernel.loss_and_grad({**batch, **dict(zip(kernel.wrt, theta))})
            optimizer.step(theta, [np.asarray(g, dtype=kernel.dtype) for g in grads])
            losses.append(loss)
            position, step = position + 1, step + 1
            if callback is not None:
                callback(step, _result(kernel, theta))
            if checkpoint is not None and step % every == 0:
                save(epoch)
        order, position = None, 0
    if checkpoint is not None:
        save(max(epoch, epochs))
    return _result(kernel, theta), np.array(losses)


def _start(kernel, params):
    from .distributed import lookup, present

    return [np.array(v, dtype=kernel.dtype) for v in present(lookup(params), kernel.wrt)]


def _chunk(data, i):
    """The i-th batch chunk of every dask array in `data` (constants stay as they are)."""
    return {s: a.blocks[i] if hasattr(a, "blocks") else a for s, a in data.items()}


def _result(kernel, theta):
    return {s: (p.copy() if p.ndim else float(p)) for s, p in zip(kernel.wrt, theta)}


def _same_settings(directory, saved, now):
    diff = [f"{k}: {saved.get(k)!r} then, {now[k]!r} now" for k in now if saved.get(k) != now[k]]
    if diff:
        raise InvalidArgumentError(
            f"the checkpoint in {directory} belongs to another run ({'; '.join(diff)}); resume with the same "
            "kernel, optimizer, minibatch, seed and chunking, or start afresh"
        )
