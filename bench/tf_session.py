"""symgrad.tf overhead: one training step of the seed 4-3-1 MLP (batch N = 3) through each API.

Run `PYTHONPATH=. python bench/tf_session.py`. Every row is the median over repeats of the time
per step in this run; "ratio" is that time over the scalar-level kernel's step (the baseline:
`kernel.module.loss_and_grad` plus the numpy update, what `symgrad.train.gradient_descent` does).
The first-run row is the one-off cost of tracing, differentiating and compiling the graph.
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import seed_tf_levels as levels  # noqa: E402

import symgrad  # noqa: E402
import symgrad.tf as tf  # noqa: E402
from symgrad import models  # noqa: E402

STEPS, REPEATS = 200, 7


def _median_step(step):
    step()  # warm (compiles on the first call)
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for _ in range(STEPS):
            step()
        times.append((time.perf_counter() - t) / STEPS)
    return statistics.median(times)


def scalar_kernel():
    model = models.seed()
    kernel = symgrad.compile(model)
    args = kernel.arguments({**models.data_values(model, models.SEED_X, models.SEED_Y), **model.initial_values()})
    columns, theta = args[: len(kernel.inputs)], np.array(args[len(kernel.inputs) :])

    def step():
        nonlocal theta
        _, grads = kernel.module.loss_and_grad(*columns, *theta.tolist())
        theta = theta - 0.1 * np.asarray(grads)

    return step


def tf1_session():
    graph = tf.Graph()
    with graph.as_default():
        X = tf.placeholder(tf.float64, (4, None))
        Y = tf.placeholder(tf.float64, (1, None))
        W_h, b_h, W_o, b_o = (tf.Variable(w) for w in levels.seed_weights())
        E = tf.reduce_sum(tf.pow(levels._column_model(X, W_h, b_h, W_o, b_o) - Y, 2))
        update = tf.train.GradientDescentOptimizer(0.1).minimize(E)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
    feed = {X: models.SEED_X.T, Y: models.SEED_Y.T}
    return lambda: sess.run(update, feed)


def keras_train_on_batch():
    model = levels.keras_model()
    model.compile(loss=lambda yt, yp: tf.reduce_sum(tf.square(yp - yt)), optimizer=tf.keras.optimizers.SGD(0.1))
    return lambda: model.train_on_batch(models.SEED_X, models.SEED_Y)


def gradient_tape():
    model = levels.keras_model()
    opt = tf.keras.optimizers.SGD(0.1)

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(models.SEED_X) - models.SEED_Y))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights, strict=True))

    return step


def torch_autograd():
    import torch

    W_h, b_h, W_o, b_o = (torch.tensor(w, requires_grad=True) for w in levels.seed_weights())
    X, Y = torch.tensor(models.SEED_X.T), torch.tensor(models.SEED_Y.T)
    opt = torch.optim.SGD([W_h, b_h, W_o, b_o], lr=0.1)

    def step():
        opt.zero_grad()
        E = ((torch.sigmoid(W_o @ torch.sigmoid(W_h @ X + b_h) + b_o) - Y) ** 2).sum()
        E.backward()
        opt.step()

    return step


def first_run():
    t = time.perf_counter()
    tf1_session()()
    return time.perf_counter() - t


def main():
    rows = [("scalar-level kernel (baseline)", scalar_kernel), ("tf1 Session.run(minimize)", tf1_session),
            ("keras train_on_batch", keras_train_on_batch), ("GradientTape + SGD (eager)", gradient_tape)]
    try:
        import torch  # noqa: F401

        rows.append(("torch autograd + SGD", torch_autograd))
    except ImportError:
        print("(torch not installed: no torch row)")
    base = None
    print(f"{'one training step, seed MLP, N = 3':40s} {'median µs':>10s} {'ratio':>7s}")
    for label, make in rows:
        t = _median_step(make())
        base = base or t
        print(f"{label:40s} {t * 1e6:10.1f} {t / base:7.1f}")
    print(f"{'tf1 first run (trace + grad + compile)':40s} {first_run() * 1e6:10.0f}")


if __name__ == "__main__":
    main()
