"""Building one entrywise symgrad.tf op: the record-made constructor (`tf.sigmoid`, `tf.nn.relu`,
`tf.nn.leaky_relu` with its default parameter) against a node built directly (`ops._unary`, what
the hand-written constructors did), interleaved medians in one run. Eager programs build their
graph again every step, so this is per-op overhead of each step.

    PYTHONPATH=. python bench/tf_op_build.py
"""

from _timing import interleaved_medians

import symgrad.tf as tf
from symgrad.tf import ops


def main():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, (None, 3))
        times = interleaved_medians({
            "node built directly (baseline)": lambda: ops._unary("sigmoid", x),
            "tf.sigmoid(x)": lambda: tf.sigmoid(x),
            "tf.nn.relu(x)": lambda: tf.nn.relu(x),
            "tf.nn.leaky_relu(x)  (alpha=0.2 as a constant input)": lambda: tf.nn.leaky_relu(x),
            "tf.add(x, 1.0)  (hand-written binary, for scale)": lambda: tf.add(x, 1.0),
        })
    base = times["node built directly (baseline)"]
    for name, seconds in times.items():
        print(f"{name:55s} {seconds * 1e6:7.2f} us  {seconds / base:5.2f}x")


if __name__ == "__main__":
    main()
