"""An MNIST-style TensorFlow-1 program (784-256-256-10 ReLU MLP, Adam) run through `symgrad.tf`.

    python examples/tf1_mnist_mlp.py [--epochs 30] [-o DIR]

The code is the classic TF1 tutorial with only the import changed: placeholders, a dict of
weights, `softmax_cross_entropy_with_logits`, `AdamOptimizer(...).minimize`, `sess.run` over
minibatches, and accuracy through `tf.equal` / `tf.argmax` / `tf.cast`. The data are
scikit-learn's 8×8 handwritten digits (no download) padded with zeros to MNIST's 784 features.
Prints held-out accuracy and writes the loss curve (PNG and CSV).
"""

import argparse
from pathlib import Path

import numpy as np

import symgrad.tf as tf

N_INPUT, N_HIDDEN_1, N_HIDDEN_2, N_CLASSES = 784, 256, 256, 10


def load_digits_784(seed=0, test_fraction=0.25):
    """Digits scaled to [0, 1] in the first 64 of 784 features, one-hot labels, a seeded split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = np.zeros((len(digits.data), N_INPUT), dtype=np.float32)
    X[:, : digits.data.shape[1]] = digits.data / 16.0
    Y = np.eye(N_CLASSES, dtype=np.float32)[digits.target]
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(len(X) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return X[train], Y[train], X[test], Y[test]


def multilayer_perceptron(x, weights, biases):
    layer_1 = tf.nn.relu(tf.add(tf.matmul(x, weights["h1"]), biases["b1"]))
    layer_2 = tf.nn.relu(tf.add(tf.matmul(layer_1, weights["h2"]), biases["b2"]))
    return tf.matmul(layer_2, weights["out"]) + biases["out"]


def main(out_dir="symgrad-examples/tf1_mnist_mlp", epochs=30, batch_size=100, learning_rate=0.001, seed=0):
    """Train; returns dict(losses (mean per epoch), accuracy (held-out), paths)."""
    X_train, Y_train, X_test, Y_test = load_digits_784(seed)
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        x = tf.placeholder("float", [None, N_INPUT])
        y = tf.placeholder("float", [None, N_CLASSES])
        weights = {
            "h1": tf.Variable(tf.random_normal([N_INPUT, N_HIDDEN_1], stddev=0.05)),
            "h2": tf.Variable(tf.random_normal([N_HIDDEN_1, N_HIDDEN_2], stddev=0.05)),
            "out": tf.Variable(tf.random_normal([N_HIDDEN_2, N_CLASSES], stddev=0.05)),
        }
        biases = {
            "b1": tf.Variable(tf.zeros([N_HIDDEN_1])),
            "b2": tf.Variable(tf.zeros([N_HIDDEN_2])),
            "out": tf.Variable(tf.zeros([N_CLASSES])),
        }
        pred = multilayer_perceptron(x, weights, biases)
        cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=pred, labels=y))
        optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate).minimize(cost)
        correct_prediction = tf.equal(tf.argmax(pred, 1), tf.argmax(y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, "float"))
        rng = np.random.default_rng(seed)
        losses = []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for epoch in range(epochs):
                order = rng.permutation(len(X_train))
                total = 0.0
                for i in range(0, len(order), batch_size):
                    idx = order[i : i + batch_size]
                    _, c = sess.run([optimizer, cost], feed_dict={x: X_train[idx], y: Y_train[idx]})
                    total += c * len(idx)
                losses.append(total / len(X_train))
                print(f"Epoch: {epoch + 1:04d} cost={losses[-1]:.9f}")
            acc = float(accuracy.eval({x: X_test, y: Y_test}, session=sess))
    print(f"Accuracy: {acc:.4f}")
    paths = write_curve(losses, Path(out_dir), "TF1 session, 784-256-256-10, Adam")
    return dict(losses=np.array(losses), accuracy=acc, paths=paths)


def write_curve(losses, out_dir, title):
    """The loss curve as a PNG and a CSV (epoch, mean training loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "loss_curve.csv"
    csv.write_text("epoch,loss\n" + "".join(f"{k},{v:.9g}\n" for k, v in enumerate(losses, start=1)))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, len(losses) + 1), losses)
    ax.set(xlabel="epoch", ylabel="mean training cross-entropy", title=title)
    fig.tight_layout()
    png = out_dir / "loss_curve.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return [png, csv]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="symgrad-examples/tf1_mnist_mlp")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    main(args.output, args.epochs)
