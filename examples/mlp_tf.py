"""The first seed text's multi-layer perceptron on points no line separates, through `symgrad.tf`.

    python examples/mlp_tf.py [-o DIR] [--steps N]

Four small clusters in an XOR pattern: red around (0, 0) and (1, 1), blue around (0, 1) and
(1, 0). One sigmoid hidden layer, a softmax output, J = −Σ c·log p, gradient descent, as the text
builds it. Saves the decision boundary over the points and the loss curve.
"""

import argparse

import numpy as np
from perceptron_tf import accuracy, save_pictures

import symgrad.tf as tf


def xor_clusters(n_per_cluster=25, seed=0):
    rng = np.random.default_rng(seed)

    def cluster(center):
        return 0.2 * rng.normal(size=(n_per_cluster, 2)) + np.array(center)

    red = np.concatenate([cluster([0, 0]), cluster([1, 1])])
    blue = np.concatenate([cluster([0, 1]), cluster([1, 0])])
    return red, blue


def train(red, blue, steps=1000, learning_rate=0.03, hidden=2, seed=1):
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        X = tf.placeholder(tf.float64, shape=(None, 2), name="X")
        c = tf.placeholder(tf.float64, shape=(None, 2), name="c")
        W_hidden = tf.Variable(rng.normal(size=(2, hidden)), name="W_hidden")
        b_hidden = tf.Variable(rng.normal(size=hidden), name="b_hidden")
        p_hidden = tf.sigmoid(tf.add(tf.matmul(X, W_hidden), b_hidden))
        W_output = tf.Variable(rng.normal(size=(hidden, 2)), name="W_output")
        b_output = tf.Variable(rng.normal(size=2), name="b_output")
        p_output = tf.nn.softmax(tf.add(tf.matmul(p_hidden, W_output), b_output))
        J = tf.negative(tf.reduce_sum(tf.reduce_sum(tf.multiply(c, tf.log(p_output)), axis=1)))
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

        def prob_blue(points):
            return sess.run(p_output, {X: points})[:, 0]

    return np.array(losses), prob_blue


def main(out_dir="symgrad-examples/first_text", steps=1000):
    red, blue = xor_clusters()
    losses, prob_blue = train(red, blue, steps)
    acc = accuracy(prob_blue, red, blue)
    print(f"multi-layer perceptron: J {losses[0]:.4g} -> {losses[-1]:.4g} after {steps} steps; accuracy {acc:.3f}")
    paths = save_pictures(out_dir, "mlp", red, blue, prob_blue, losses, "multi-layer perceptron")
    for p in paths:
        print(f"saved {p}")
    return dict(losses=losses, accuracy=acc, paths=paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="symgrad-examples/first_text")
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    main(args.output, args.steps)
