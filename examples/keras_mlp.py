"""The same 784-256-256-10 MLP as examples/tf1_mnist_mlp.py, written for Keras and trained with `fit`.

    python examples/keras_mlp.py [--epochs 30] [-o DIR]

`Sequential` of `Dense` layers (ReLU, softmax output), `categorical_crossentropy`, Adam, `fit` over
minibatches; the digits padded to 784 features, labels through `keras.utils.to_categorical`. Prints
held-out accuracy and writes the loss curve (PNG and CSV).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import symgrad.tf as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tf1_mnist_mlp import load_digits_784, write_curve  # noqa: E402


def build(dtype="float32"):
    return tf.keras.Sequential([
        tf.keras.layers.Dense(256, activation="relu", input_shape=(784,), dtype=dtype),
        tf.keras.layers.Dense(256, activation="relu", dtype=dtype),
        tf.keras.layers.Dense(10, activation="softmax", dtype=dtype),
    ])


def main(out_dir="symgrad-examples/keras_mlp", epochs=30, batch_size=100, learning_rate=0.001, seed=0):
    """Train; returns dict(losses (per epoch), accuracy (held-out), paths)."""
    X_train, Y_train, X_test, Y_test = load_digits_784(seed)
    labels_train = tf.keras.utils.to_categorical(Y_train.argmax(1), 10)
    tf.random.set_seed(seed)
    model = build()
    model.compile(loss="categorical_crossentropy", optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate))
    history = model.fit(X_train, labels_train, epochs=epochs, batch_size=batch_size, verbose=0)
    losses = history.history["loss"]
    accuracy = float(np.mean(model.predict(X_test).argmax(1) == Y_test.argmax(1)))
    print(f"final training loss {losses[-1]:.6f}, held-out accuracy {accuracy:.4f}")
    paths = write_curve(losses, Path(out_dir), "Keras fit, 784-256-256-10, Adam")
    return dict(losses=np.array(losses), accuracy=accuracy, paths=paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="symgrad-examples/keras_mlp")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    main(args.output, args.epochs)
