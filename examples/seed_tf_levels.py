"""The second seed text's 4-3-1 sigmoid MLP at its three TensorFlow levels, through `symgrad.tf`.

    python examples/seed_tf_levels.py [-o DIR] [--epochs N]

- low level (TF1): `tf.gradients` of E = Σ(yp − yt)² and `sess.run(..., feed_dict=...)` feeding
  the weights; the update is done by hand in numpy. Batch size N, samples in columns (X.T), as the
  text feeds them. (The text updates W_h before computing dE/db_h, and so on; that is a different
  algorithm from gradient descent, so here all four gradients come from one run.)
- medium level (TF1): `GradientDescentOptimizer(0.1).compute_gradients/apply_gradients`, batch N.
- medium level (TF2): `GradientTape` over a Keras model, Keras `SGD(0.1)`, batch size 1.
- high level (Keras): `compile(loss=mse, optimizer=SGD(0.1))` and `train_on_batch`, batch size 1.

Every level starts from the weights of `symgrad.models.seed()` and must follow the trajectory of
`symgrad.train.gradient_descent` on the seed's generated kernel (batch N or batch 1); `main` returns
each level's per-epoch loss and final weights next to that reference. Pictures: the loss curves of
all levels, and each sample's prediction against its target.
"""

import argparse
from pathlib import Path

import numpy as np

import symgrad
import symgrad.tf as tf
from symgrad import models
from symgrad.train import gradient_descent

X_DATA, Y_DATA = models.SEED_X, models.SEED_Y
LR = 0.1


def seed_weights():
    """The seed model's initial weights as the text's matrices: W_h (3×4), b_h (3×1), W_o (1×3), b_o (1×1)."""
    model = models.seed()
    init = model.initial_values()
    by_name = {str(s): v for s, v in init.items()}
    W_h = np.array([[by_name[f"W1_{i}_{j}"] for i in range(4)] for j in range(3)])
    b_h = np.array([[by_name[f"b1_{j}"]] for j in range(3)])
    W_o = np.array([[by_name[f"W2_{j}_0"] for j in range(3)]])
    b_o = np.array([[by_name["b2_0"]]])
    return [W_h, b_h, W_o, b_o]


def seed_params(weights):
    """Inverse of `seed_weights`: the seed model's parameter dict from the four matrices."""
    W_h, b_h, W_o, b_o = weights
    values = {f"W1_{i}_{j}": W_h[j, i] for i in range(4) for j in range(3)}
    values.update({f"b1_{j}": b_h[j, 0] for j in range(3)})
    values.update({f"W2_{j}_0": W_o[0, j] for j in range(3)})
    values["b2_0"] = b_o[0, 0]
    return values


def reference(epochs, batch_size):
    """The scalar-level trajectory: the seed's generated kernel trained by `gradient_descent`."""
    model = models.seed()
    kernel = symgrad.compile(model)
    data = models.data_values(model, X_DATA, Y_DATA)
    params, losses = gradient_descent(kernel, model.initial_values(), data, LR, epochs, batch_size)
    return losses, {str(k): v for k, v in params.items()}


def _column_model(X, W_h, b_h, W_o, b_o):
    """The text's TF1 graph: samples in columns."""
    h = tf.sigmoid(tf.matmul(W_h, X) + b_h)
    return tf.sigmoid(tf.matmul(W_o, h) + b_o)


def low_level(epochs):
    with tf.Graph().as_default():
        X = tf.placeholder(tf.float64, shape=(4, None), name="X")
        Y = tf.placeholder(tf.float64, shape=(1, None), name="Y")
        W_h = tf.placeholder(tf.float64, shape=(3, 4), name="W_h")
        b_h = tf.placeholder(tf.float64, shape=(3, 1), name="b_h")
        W_o = tf.placeholder(tf.float64, shape=(1, 3), name="W_o")
        b_o = tf.placeholder(tf.float64, shape=(1, 1), name="b_o")
        ypred = _column_model(X, W_h, b_h, W_o, b_o)
        E = tf.reduce_sum(tf.pow(ypred - Y, 2))
        dE_dW_h = tf.gradients(E, [W_h])
        dE_db_h = tf.gradients(E, [b_h])
        dE_dW_o = tf.gradients(E, [W_o])
        dE_db_o = tf.gradients(E, [b_o])
        W_h_i, b_h_i, W_o_i, b_o_i = seed_weights()
        losses = []
        with tf.Session() as sess:
            for _ in range(epochs):
                feed = {W_h: W_h_i, b_h: b_h_i, W_o: W_o_i, b_o: b_o_i, X: X_DATA.T, Y: Y_DATA.T}
                g_W_h, g_b_h, g_W_o, g_b_o = sess.run([dE_dW_h, dE_db_h, dE_dW_o, dE_db_o], feed_dict=feed)
                W_h_i = W_h_i - LR * g_W_h[0]
                b_h_i = b_h_i - LR * g_b_h[0]
                W_o_i = W_o_i - LR * g_W_o[0]
                b_o_i = b_o_i - LR * g_b_o[0]
                feed = {W_h: W_h_i, b_h: b_h_i, W_o: W_o_i, b_o: b_o_i, X: X_DATA.T, Y: Y_DATA.T}
                losses.append(sess.run(E, feed_dict=feed))
            preds = sess.run(ypred, feed_dict=feed)[0]
    return np.array(losses), [W_h_i, b_h_i, W_o_i, b_o_i], preds


def medium_level_tf1(epochs):
    with tf.Graph().as_default():
        X = tf.placeholder(tf.float64, shape=(4, None), name="X")
        Y = tf.placeholder(tf.float64, shape=(1, None), name="Y")
        W_h, b_h, W_o, b_o = (tf.Variable(w, name=n) for w, n in zip(seed_weights(), ["W_h", "b_h", "W_o", "b_o"], strict=True))
        ypred = _column_model(X, W_h, b_h, W_o, b_o)
        E = tf.reduce_sum(tf.pow(ypred - Y, 2))
        optimizer = tf.train.GradientDescentOptimizer(LR)
        grads = optimizer.compute_gradients(E, [W_h, b_h, W_o, b_o])
        updates = optimizer.apply_gradients(grads)
        feed = {X: X_DATA.T, Y: Y_DATA.T}
        losses = []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(epochs):
                sess.run(updates, feed_dict=feed)
                losses.append(sess.run(E, feed_dict=feed))
            weights = sess.run([W_h, b_h, W_o, b_o])
            preds = sess.run(ypred, feed_dict=feed)[0]
    return np.array(losses), weights, preds


def keras_model():
    """Keras's Dense layers hold W_h.T and b_h as a vector: the same numbers, rows are samples."""
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(3, activation="sigmoid", input_shape=(4,)),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    W_h, b_h, W_o, b_o = seed_weights()
    model.build(4)
    model.set_weights([W_h.T, b_h[:, 0], W_o.T, b_o[:, 0]])
    return model


def _keras_result(model, losses):
    k_h, c_h, k_o, c_o = model.get_weights()
    return np.array(losses), [k_h.T, c_h[:, None], k_o.T, c_o[:, None]], model.predict(X_DATA, verbose=0)[:, 0]


def _full_loss(model):
    return float(np.sum((model.predict(X_DATA, verbose=0) - Y_DATA) ** 2))


def medium_level_tf2(epochs):
    model = keras_model()
    mse = tf.keras.losses.mse
    optimizer = tf.keras.optimizers.SGD(learning_rate=LR)
    losses = []
    for _ in range(epochs):
        for x, y in zip(X_DATA, Y_DATA, strict=True):
            with tf.GradientTape() as tape:
                x = tf.convert_to_tensor(np.array([x]), dtype=tf.float64)
                y = tf.convert_to_tensor(np.array([y]), dtype=tf.float64)
                ypred = model(x)
                loss = mse(y, ypred)
            gradients = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(gradients, model.trainable_weights, strict=True))
        losses.append(_full_loss(model))
    return _keras_result(model, losses)


def high_level(epochs):
    model = keras_model()
    model.compile(loss=tf.keras.losses.mse, optimizer=tf.keras.optimizers.SGD(learning_rate=LR))
    losses = []
    for _ in range(epochs):
        for x, y in zip(X_DATA, Y_DATA, strict=True):
            model.train_on_batch(np.array([x]), np.array([y]))
        losses.append(_full_loss(model))
    return _keras_result(model, losses)


LEVELS = {
    "low level TF1 (tf.gradients, feed_dict)": (low_level, None),
    "medium level TF1 (compute/apply_gradients)": (medium_level_tf1, None),
    "medium level TF2 (GradientTape, batch 1)": (medium_level_tf2, 1),
    "high level Keras (train_on_batch, batch 1)": (high_level, 1),
}


def main(out_dir="symgrad-examples/seed_tf_levels", epochs=2000):
    out_dir = Path(out_dir)
    results = {}
    for label, (run, batch_size) in LEVELS.items():
        losses, weights, preds = run(epochs)
        ref_losses, ref_params = reference(epochs, batch_size)
        gap = max(np.max(np.abs(losses - ref_losses)),
                  max(abs(v - ref_params[k]) for k, v in seed_params(weights).items()))
        results[label] = dict(losses=losses, params=seed_params(weights), predictions=preds,
                              reference_losses=ref_losses, reference_params=ref_params, max_gap=gap)
        print(f"{label:45s} final E {losses[-1]:.6g}  max |difference| to the scalar kernel {gap:.2e}")
    paths = _plot(results, out_dir)
    for p in paths:
        print(f"saved {p}")
    return results, paths


def _plot(results, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, r in results.items():
        ax.semilogy(np.arange(1, len(r["losses"]) + 1), r["losses"], label=label)
    for batch, style in ((None, "k:"), (1, "k--")):
        ref = next(r["reference_losses"] for lbl, r in results.items() if LEVELS[lbl][1] == batch)
        ax.semilogy(np.arange(1, len(ref) + 1), ref, style, lw=1,
                    label=f"scalar-level kernel, batch {'N' if batch is None else 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("E = sum of squared errors")
    ax.set_title("seed 4-3-1 MLP through symgrad.tf")
    ax.legend(fontsize=7)
    fig.tight_layout()
    loss_png = out_dir / "loss_curves.png"
    fig.savefig(loss_png, dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / (len(results) + 1)
    samples = np.arange(len(Y_DATA))
    ax.bar(samples, Y_DATA[:, 0], width, label="target yt", color="k")
    for k, (label, r) in enumerate(results.items(), start=1):
        ax.bar(samples + k * width, r["predictions"], width, label=label)
    ax.set_xticks(samples + 0.4 - width / 2, [f"sample {i}" for i in samples])
    ax.set_ylabel("network output yp")
    ax.set_title("predictions after training")
    ax.legend(fontsize=7)
    fig.tight_layout()
    pred_png = out_dir / "predictions.png"
    fig.savefig(pred_png, dpi=100)
    plt.close(fig)
    return [loss_png, pred_png]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="symgrad-examples/seed_tf_levels")
    parser.add_argument("--epochs", type=int, default=2000)
    args = parser.parse_args()
    main(args.output, args.epochs)
