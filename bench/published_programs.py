"""The training steps of the five published MNIST programs (examples/programs/) against torch eager.

    python bench/published_programs.py [--steps 30]

Each row builds its program's model the way the program does (TF1 Session.run of
`[train_op, loss]`, TF2 GradientTape + apply_gradients, Keras train_on_batch), float32, at its
published sizes and batch, and the same model in PyTorch eager with the same update rule. Before
timing, one step from equal weights is checked equal (Dropout off for the check). "first step" is
graph building, tracing, derivation, code generation and the first run, with an empty kernel
cache; per-step times are medians of steps run interleaved with torch's. Single thread everywhere.
"""

import argparse
import os
import tempfile
import time

import numpy as np

os.environ["SYMGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="symgrad-bench-")  # first steps compile
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import symgrad.tf as tf  # noqa: E402

torch.set_num_threads(1)
RNG = np.random.default_rng(0)


def _weights(sizes, scale):
    return [(RNG.normal(size=(a, b)) * scale).astype(np.float32) for a, b in zip(sizes, sizes[1:])], \
           [np.zeros(b, np.float32) for b in sizes[1:]]


def _data(batch, features, classes):
    x = RNG.uniform(size=(batch, features)).astype(np.float32)
    y = np.eye(classes, dtype=np.float32)[RNG.integers(0, classes, batch)]
    return x, y


# -- torch eager counterparts ---------------------------------------------------------------------
def _torch_net(Ws, bs, act, out):
    params = [torch.tensor(p, requires_grad=True) for pair in zip(Ws, bs) for p in pair]

    def forward(x, dropout=0.0, training=False):
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k + 2 < len(params):
                h = act(h)
                if dropout and training:
                    h = torch.nn.functional.dropout(h, dropout, training=True)
        return out(h)

    return params, forward


def _rmsprop(params, lr, rho=0.9, eps=1e-10, initial=1.0):
    """TensorFlow's RMSProp (ε inside the root; TF1 starts the mean square at 1, Keras at 0)."""
    ms = [torch.full_like(p, initial) for p in params]

    def step():
        with torch.no_grad():
            for p, m in zip(params, ms):
                m.mul_(rho).addcmul_(p.grad, p.grad, value=1 - rho)
                p.sub_(lr * p.grad / torch.sqrt(m + eps))
                p.grad = None

    return step


def _torch_step(opt_step, params, loss_fn):
    def run():
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        opt_step()
        return loss.item()

    return run


# -- the rows ----------------------------------------------------------------------------------------
def tf1_classifier(batch, lr, label):
    """tf1_mlp_placeholders (batch 100, Adam 0.001) and tf1_raw_network (batch 128, Adam 0.1):
    784-256-256-10 without hidden activations, softmax cross-entropy with logits."""
    Ws, bs = _weights([784, 256, 256, 10], 0.05)
    x, y = _data(batch, 784, 10)
    start = time.perf_counter()
    graph = tf.Graph()
    with graph.as_default():
        X, Y = tf.placeholder("float", [None, 784]), tf.placeholder("float", [None, 10])
        vs = [tf.Variable(w) for pair in zip(Ws, bs) for w in pair]
        h = X
        for k in range(0, 6, 2):
            h = tf.add(tf.matmul(h, vs[k]), vs[k + 1])
        loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=h, labels=Y))
        train_op = tf.train.AdamOptimizer(learning_rate=lr).minimize(loss_op)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
    ours = lambda: sess.run([train_op, loss_op], feed_dict={X: x, Y: y})[1]  # noqa: E731
    first = _first(ours, start)
    params, forward = _torch_net(Ws, bs, lambda h: h, lambda h: h)
    opt = torch.optim.Adam(params, lr=lr, eps=1e-8 / np.sqrt(1 - 0.999))  # TF's ε, as torch places it at step 1
    xt, labels = torch.tensor(x), torch.tensor(y.argmax(1))
    theirs = _torch_step(opt.step, params, lambda: torch.nn.functional.cross_entropy(forward(xt), labels))
    # Adam's first step is lr·g/(|g| + ε): a rounding error δ in a gradient near ε moves it by up to
    # lr·δ/(4ε), and float32 gradients here carry δ ≈ 1e-9 (ε = 1e-8) whatever the order of their
    # products, so lr/20; a wrong gradient moves it by up to 2·lr
    return label, first, ours, theirs, lambda: (sess.run(vs), params, lr / 20)


def tf1_autoencoder():
    """784-256-128-256-784 sigmoid, mean squared reconstruction error, TF1 RMSProp(0.01), batch 256."""
    Ws, bs = _weights([784, 256, 128, 256, 784], 0.05)
    x, _ = _data(256, 784, 10)
    start = time.perf_counter()
    with tf.Graph().as_default():
        X = tf.placeholder("float", [None, 784])
        vs = [tf.Variable(w) for pair in zip(Ws, bs) for w in pair]
        h = X
        for k in range(0, 8, 2):
            h = tf.nn.sigmoid(tf.add(tf.matmul(h, vs[k]), vs[k + 1]))
        loss = tf.reduce_mean(tf.pow(X - h, 2))
        optimizer = tf.train.RMSPropOptimizer(0.01).minimize(loss)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
    ours = lambda: sess.run([optimizer, loss], feed_dict={X: x})[1]  # noqa: E731
    first = _first(ours, start)
    params, forward = _torch_net(Ws, bs, torch.sigmoid, torch.sigmoid)
    xt = torch.tensor(x)
    theirs = _torch_step(_rmsprop(params, 0.01), params, lambda: ((xt - forward(xt)) ** 2).mean())
    return "tf1_autoencoder (TF1 RMSProp)", first, ours, theirs, lambda: (sess.run(vs), params, 2e-5)


def tf2_gradient_tape():
    """784-128-256-10 sigmoid, softmax, clip, one_hot, summed cross-entropy, SGD, batch 256."""
    Ws, bs = _weights([784, 128, 256, 10], 0.05)
    x, y = _data(256, 784, 10)
    labels = y.argmax(1)
    start = time.perf_counter()
    vs = [tf.Variable(w) for pair in zip(Ws, bs) for w in pair]
    optimizer = tf.optimizers.SGD(0.01)

    def ours():
        with tf.GradientTape() as g:
            h = x
            for k in range(0, 6, 2):
                h = tf.add(tf.matmul(h, vs[k]), vs[k + 1])
                h = tf.nn.sigmoid(h) if k < 4 else tf.nn.softmax(h)
            loss = tf.reduce_mean(-tf.reduce_sum(tf.one_hot(labels, depth=10) * tf.math.log(tf.clip_by_value(h, 1e-9, 1.))))
        grads = g.gradient(loss, vs)
        value = float(loss)  # before the update, as TF2's eager loss and torch's loss.item() are
        optimizer.apply_gradients(zip(grads, vs))
        return value

    first = _first(ours, start)
    params, forward = _torch_net(Ws, bs, torch.sigmoid, lambda h: torch.softmax(h, dim=1))
    opt = torch.optim.SGD(params, lr=0.01)
    xt, yt = torch.tensor(x), torch.tensor(y)
    theirs = _torch_step(opt.step, params, lambda: -(yt * torch.log(torch.clamp(forward(xt), 1e-9, 1.0))).sum())
    return "tf2_gradient_tape_raw (SGD)", first, ours, theirs, lambda: ([v.numpy() for v in vs], params, 2e-5)


def keras_mlp(dropout=0.2):
    """784-512-512-10 ReLU with Dropout, softmax, categorical cross-entropy, Keras RMSprop, batch 128."""
    Ws, bs = _weights([784, 512, 512, 10], 0.05)
    x, y = _data(128, 784, 10)
    keras = tf.keras
    start = time.perf_counter()
    model = keras.Sequential()
    model.add(keras.layers.Dense(512, activation="relu", input_shape=(784,), dtype="float32"))
    model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(512, activation="relu", dtype="float32"))
    model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(10, activation="softmax", dtype="float32"))
    model.build((None, 784))
    model.set_weights([w for pair in zip(Ws, bs) for w in pair])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    ours = lambda: model.train_on_batch(x, y)[0]  # noqa: E731
    first = _first(ours, start)
    params, forward = _torch_net(Ws, bs, torch.relu, lambda h: torch.softmax(h, dim=1))
    opt_step = _rmsprop(params, 0.001, eps=1e-7, initial=0.0)
    xt, labels = torch.tensor(x), torch.tensor(y.argmax(1))
    theirs = _torch_step(opt_step, params, lambda: torch.nn.functional.nll_loss(
        torch.log(forward(xt, dropout, training=True)), labels))
    return f"keras_mnist_mlp (Dropout {dropout}, RMSprop)", first, ours, theirs, \
        lambda: (model.get_weights(), params, 2e-5)


def _first(step, start):
    step()
    return time.perf_counter() - start


def _check(label, weights):
    ours, theirs, atol = weights()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.detach().numpy().reshape(a.shape), rtol=1e-3, atol=atol, err_msg=label)


def main(steps=30):
    rows = [lambda: tf1_classifier(100, 0.001, "tf1_mlp_placeholders (Adam)"),
            lambda: tf1_classifier(128, 0.1, "tf1_raw_network (Adam)"), tf1_autoencoder, tf2_gradient_tape,
            lambda: keras_mlp(0.0), keras_mlp]
    print(f"{'program step (float32, single thread)':<42}{'first step':>11}{'symgrad':>11}{'torch':>11}{'ratio':>8}")
    with threadpool_limits(1):
        for make in rows:
            label, first, ours, theirs, weights = make()
            theirs()
            if "Dropout 0.2" not in label:  # one step each from equal weights, then compared
                _check(label, weights)
            times = {"ours": [], "theirs": []}
            for _ in range(steps):
                for name, fn in (("ours", ours), ("theirs", theirs)):
                    t = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t)
            a, b = np.median(times["ours"]), np.median(times["theirs"])
            print(f"{label:<42}{first:>10.2f}s{a * 1e3:>9.1f}ms{b * 1e3:>9.1f}ms{a / b:>7.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    main(parser.parse_args().steps)
