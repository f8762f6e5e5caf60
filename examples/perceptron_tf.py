"""The first seed text's perceptron, written against `symgrad.tf` as the text writes it for TensorFlow.

    python examples/perceptron_tf.py [-o DIR] [--steps N]

Two Gaussian point clouds (red around (−2, −2), blue around (2, 2)); p = softmax(X W + b),
J = −Σ_samples Σ_classes c·log p, plain gradient descent. Saves the decision boundary over the
points and the loss curve.
"""

import argparse
from pathlib import Path

import numpy as np

import symgrad.tf as tf


def two_clouds(n_per_class=50, seed=0):
    rng = np.random.default_rng(seed)
    red = rng.normal(size=(n_per_class, 2)) - 2 * np.ones((n_per_class, 2))
    blue = rng.normal(size=(n_per_class, 2)) + 2 * np.ones((n_per_class, 2))
    return red, blue


def train(red, blue, steps=100, learning_rate=0.01, seed=0):
    """Returns (loss per step, predict(points) → probability of blue, the final W and b)."""
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        X = tf.placeholder(tf.float64, shape=(None, 2), name="X")
        c = tf.placeholder(tf.float64, shape=(None, 2), name="c")
        W = tf.Variable(rng.normal(size=(2, 2)), name="W")
        b = tf.Variable(rng.normal(size=2), name="b")
        p = tf.nn.softmax(tf.add(tf.matmul(X, W), b))
        J = tf.negative(tf.reduce_sum(tf.reduce_sum(tf.multiply(c, tf.log(p)), axis=1)))
        minimization_op = tf.train.GradientDescentOptimizer(learning_rate=learning_rate).minimize(J)
        feed_dict = {
            X: np.concatenate((blue, red)),
            c: [[1, 0]] * len(blue) + [[0, 1]] * len(red),
        }
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        losses = []
        for _ in range(steps):
            J_value, _ = sess.run([J, minimization_op], feed_dict)
            losses.append(J_value)
        losses.append(sess.run(J, feed_dict))
        W_value, b_value = sess.run([W, b])

        def prob_blue(points):
            return sess.run(p, {X: points})[:, 0]

    return np.array(losses), prob_blue, W_value, b_value


def accuracy(prob_blue, red, blue):
    return float(np.mean(np.concatenate([prob_blue(blue) > 0.5, prob_blue(red) < 0.5])))


def save_pictures(out_dir, name, red, blue, prob_blue, losses, title):
    """`{name}_boundary.png` (probability of blue with the 0.5 contour, over the points) and `{name}_loss.png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    points = np.concatenate([red, blue])
    lo, hi = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    xs, ys = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
    prob = prob_blue(grid).reshape(xs.shape)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(xs, ys, prob, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.4)
    ax.contour(xs, ys, prob, levels=[0.5], colors="k")
    ax.scatter(red[:, 0], red[:, 1], color="red", s=12, label="red")
    ax.scatter(blue[:, 0], blue[:, 1], color="blue", s=12, label="blue")
    ax.set_title(f"{title}: decision boundary")
    ax.legend()
    fig.tight_layout()
    boundary = out_dir / f"{name}_boundary.png"
    fig.savefig(boundary, dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(len(losses)), losses)
    ax.set_xlabel("step")
    ax.set_ylabel("J (cross-entropy, summed over the points)")
    ax.set_title(f"{title}: loss")
    fig.tight_layout()
    loss = out_dir / f"{name}_loss.png"
    fig.savefig(loss, dpi=100)
    plt.close(fig)
    return [boundary, loss]


def main(out_dir="symgrad-examples/first_text", steps=100):
    red, blue = two_clouds()
    losses, prob_blue, W, b = train(red, blue, steps)
    acc = accuracy(prob_blue, red, blue)
    print(f"perceptron: J {losses[0]:.4g} -> {losses[-1]:.4g} after {steps} steps; accuracy {acc:.3f}")
    print(f"W = {W.tolist()}, b = {b.tolist()}")
    paths = save_pictures(out_dir, "perceptron", red, blue, prob_blue, losses, "perceptron")
    for p in paths:
        print(f"saved {p}")
    return dict(losses=losses, accuracy=acc, paths=paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="symgrad-examples/first_text")
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    main(args.output, args.steps)
