"""The front doors at real sizes: one SGD step of a ReLU MLP through each API, against torch eager.

    PYTHONPATH=. python bench/front_doors.py [--sizes 4-3-1 64-64-10 ...] [--dtypes float32 float64] [--repeats 7]

Sizes 4-3-1, 64-64-10, 784-256-10 and 784-256-256-10 at batch 256: hidden ReLU layers, softmax
cross-entropy from logits (squared error for a single output), averaged over the batch, plain SGD.
Every implementation runs single-threaded (threadpoolctl for numpy's BLAS, torch.set_num_threads(1),
TensorFlow's thread pools of one), starts from the same weights and data, and must agree with
torch after one step before it is timed. Steps are timed interleaved (each repeat times every
implementation once, in turn); "step" is the median over repeats, "ratio" that over torch eager's
step of the same size and dtype. "first run" is building the model and running its first step
(symgrad: trace, derive, generate and import the kernel, with an empty kernel cache).

Rows are functions registered with `@row(name)`: `fn(case) -> step callable`, after which
`weights()` of the returned object gives the parameters (W1, b1, W2, b2, ...) as numpy arrays.
Add an implementation by adding one such function.
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symgrad.cache import ENV_VAR  # noqa: E402

SIZES = ["4-3-1", "64-64-10", "784-256-10", "784-256-256-10"]
BATCH, LR = 256, 0.01
ROWS = {}  # name -> row function
BASELINE = "torch eager"


def row(name):
    def register(fn):
        ROWS[name] = fn
        return fn

    return register


@dataclass
class Case:
    sizes: list
    dtype: str
    weights: list  # W1, b1, W2, b2, ... (b as vectors)
    x: np.ndarray
    y: np.ndarray

    @property
    def classes(self):
        return self.sizes[-1] > 1


def make_case(spec, dtype, seed=0):
    sizes = [int(s) for s in spec.split("-")]
    rng = np.random.default_rng(seed)
    weights = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        weights += [(rng.normal(size=(a, b)) * np.sqrt(2.0 / a)).astype(dtype), (0.01 * rng.normal(size=b)).astype(dtype)]
    x = rng.normal(size=(BATCH, sizes[0])).astype(dtype)
    y = (np.eye(sizes[-1])[rng.integers(0, sizes[-1], BATCH)] if sizes[-1] > 1 else rng.normal(size=(BATCH, 1))).astype(dtype)
    return Case(sizes, dtype, weights, x, y)


class Runner:
    """A step function and a way to read the weights back."""

    def __init__(self, step, weights):
        self.step, self.weights = step, weights


# -- symgrad.tf ---------------------------------------------------------------------------------------
def _symgrad_forward(tf, x, params, case):
    h = x
    for k in range(0, len(params), 2):
        h = tf.matmul(h, params[k]) + params[k + 1]
        if k + 2 < len(params):
            h = tf.nn.relu(h)
    return h


def _symgrad_loss(tf, logits, y, case):
    if case.classes:
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return tf.reduce_mean(tf.square(logits - y))


@row("symgrad.tf Session.run(minimize)")
def symgrad_session(case):
    import symgrad.tf as tf

    graph = tf.Graph()
    with graph.as_default():
        X = tf.placeholder(case.dtype, (None, case.sizes[0]))
        Y = tf.placeholder(case.dtype, (None, case.sizes[-1]))
        params = [tf.Variable(w) for w in case.weights]
        logits = _symgrad_forward(tf, X, params, case)
        train = tf.train.GradientDescentOptimizer(LR).minimize(_symgrad_loss(tf, logits, Y, case))
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
    feed = {X: case.x, Y: case.y}
    return Runner(lambda: sess.run(train, feed), lambda: sess.run(params))


@row("symgrad.tf GradientTape")
def symgrad_tape(case):
    import symgrad.tf as tf

    params = [tf.Variable(w) for w in case.weights]
    x, y = tf.constant(case.x), tf.constant(case.y)  # TF2 style: the batch is a constant
    opt = tf.keras.optimizers.SGD(learning_rate=LR)

    def step():
        with tf.GradientTape() as tape:
            logits = _symgrad_forward(tf, x, params, case)
            loss = _symgrad_loss(tf, logits, y, case)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))

    return Runner(step, lambda: [p.numpy() for p in params])


@row("symgrad.tf Keras train_on_batch")
def symgrad_keras(case):
    import symgrad.tf as tf

    layers = []
    for k, units in enumerate(case.sizes[1:]):
        last = k == len(case.sizes) - 2
        act = ("softmax" if case.classes else None) if last else "relu"
        layers.append(tf.keras.layers.Dense(units, activation=act, dtype=case.dtype))
    model = tf.keras.Sequential(layers)
    model.build(case.sizes[0])
    model.set_weights(case.weights)
    model.compile(loss="categorical_crossentropy" if case.classes else "mse", optimizer=tf.keras.optimizers.SGD(learning_rate=LR))
    return Runner(lambda: model.train_on_batch(case.x, case.y), model.get_weights)


# -- references ---------------------------------------------------------------------------------------
@row(BASELINE)
def torch_eager(case):
    import torch

    params = [torch.tensor(w, requires_grad=True) for w in case.weights]
    x, y = torch.tensor(case.x), torch.tensor(case.y)
    opt = torch.optim.SGD(params, lr=LR)

    def step():
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k + 2 < len(params):
                h = torch.relu(h)
        if case.classes:
            loss = -(y * torch.log_softmax(h, dim=1)).sum(1).mean()
        else:
            loss = ((h - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return Runner(step, lambda: [p.detach().numpy().copy() for p in params])


def _tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with contextlib.redirect_stderr(open(os.devnull, "w")):
        import tensorflow

    if not getattr(_tensorflow, "configured", False):
        tensorflow.config.threading.set_intra_op_parallelism_threads(1)
        tensorflow.config.threading.set_inter_op_parallelism_threads(1)
        _tensorflow.configured = True
    return tensorflow


def _tf_forward(tf, x, params, y, case):
    h = x
    for k in range(0, len(params), 2):
        h = tf.matmul(h, params[k]) + params[k + 1]
        if k + 2 < len(params):
            h = tf.nn.relu(h)
    if case.classes:
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=h))
    return tf.reduce_mean(tf.square(h - y))


@row("TensorFlow compat.v1 session")
def tf_session(case):
    tf = _tensorflow()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        X = v1.placeholder(case.dtype, (None, case.sizes[0]))
        Y = v1.placeholder(case.dtype, (None, case.sizes[-1]))
        params = [tf.Variable(w) for w in case.weights]
        train = v1.train.GradientDescentOptimizer(LR).minimize(_tf_forward(tf, X, params, Y, case))
        config = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        sess = v1.Session(graph=graph, config=config)
        sess.run(v1.global_variables_initializer())
    feed = {X: case.x, Y: case.y}
    return Runner(lambda: sess.run(train, feed), lambda: sess.run(params))


@row("TensorFlow tf.function")
def tf_function(case):
    tf = _tensorflow()
    params = [tf.Variable(w) for w in case.weights]
    x, y = tf.constant(case.x), tf.constant(case.y)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = _tf_forward(tf, x, params, y, case)
        for p, g in zip(params, tape.gradient(loss, params), strict=True):
            p.assign_sub(LR * g)

    return Runner(step, lambda: [p.numpy() for p in params])


# -- measuring ---------------------------------------------------------------------------------------
def available(names):
    """The row names whose libraries import (symgrad's always; torch and TensorFlow where installed)."""
    out = []
    for name in names:
        try:
            if name.startswith("torch"):
                import torch  # noqa: F401
            elif name.startswith("TensorFlow"):
                _tensorflow()
        except ImportError:
            print(f"skipping {name!r}: not installed")
            continue
        out.append(name)
    return out


def first_run(name, case):
    """(runner, seconds to build and take one step), with an empty symgrad kernel cache."""
    with tempfile.TemporaryDirectory() as cache:
        old = os.environ.get(ENV_VAR)
        os.environ[ENV_VAR] = cache
        try:
            t = time.perf_counter()
            runner = ROWS[name](case)
            runner.step()
            return runner, time.perf_counter() - t
        finally:
            if old is None:
                del os.environ[ENV_VAR]
            else:
                os.environ[ENV_VAR] = old


def check_agree(runners, case):
    """Every implementation's weights after its first step equal torch's (float tolerance)."""
    ref = runners[BASELINE].weights()
    rtol, atol = (2e-4, 1e-5) if case.dtype == "float32" else (1e-7, 1e-9)  # TensorFlow's float64 differs by ~1e-10
    for name, runner in runners.items():
        for k, (mine, theirs) in enumerate(zip(runner.weights(), ref, strict=True)):
            if not np.allclose(np.asarray(mine).reshape(theirs.shape), theirs, rtol=rtol, atol=atol):
                gap = np.max(np.abs(np.asarray(mine).reshape(theirs.shape) - theirs))
                raise AssertionError(f"{name} disagrees with {BASELINE} on parameter {k} after one step (max gap {gap:.3g})")


def interleaved_medians(runners, repeats, min_time):
    """Median seconds per step of each runner, timed in turn within each repeat."""
    calls = {}
    for name, runner in runners.items():
        n = 1
        while True:
            t = time.perf_counter()
            for _ in range(n):
                runner.step()
            if time.perf_counter() - t >= min_time or n >= 4096:
                break
            n *= 2
        calls[name] = n
    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            t = time.perf_counter()
            for _ in range(calls[name]):
                runner.step()
            times[name].append((time.perf_counter() - t) / calls[name])
    return {name: statistics.median(ts) for name, ts in times.items()}


def measure(spec, dtype, names, repeats=7, min_time=0.05):
    """[(name, first-run seconds, median step seconds)] for one size and dtype."""
    case = make_case(spec, dtype)
    built = {name: first_run(name, case) for name in names}
    runners = {name: r for name, (r, _) in built.items()}
    if BASELINE in runners:
        check_agree(runners, case)
    steps = interleaved_medians(runners, repeats, min_time)
    return [(name, built[name][1], steps[name]) for name in names]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=SIZES)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), help="row names (default: all)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per timed batch of steps")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    names = available(args.rows)
    results = {}
    with threadpool_limits(limits=1):
        print(f"batch {BATCH}, single thread; ratio = step / {BASELINE}'s step")
        print(f"{'size':<16}{'dtype':<9}{'implementation':<36}{'first run':>11}{'step':>12}{'ratio':>8}")
        for spec in args.sizes:
            for dtype in args.dtypes:
                rows = measure(spec, dtype, names, args.repeats, args.min_time)
                base = dict((n, s) for n, _, s in rows).get(BASELINE)
                for name, first, step in rows:
                    ratio = f"{step / base:.2f}x" if base else "n/a"
                    print(f"{spec:<16}{dtype:<9}{name:<36}{first:>9.3f} s{step * 1e3:>9.3f} ms{ratio:>8}")
                results[(spec, dtype)] = rows
                sys.stdout.flush()
    return results


if __name__ == "__main__":
    main()
