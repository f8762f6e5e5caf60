"""A matrix MLP trained with a generated kernel on scikit-learn's handwritten digits (no download).

    python examples/digits_mlp.py [--epochs 60] [--optimizer adam|sgd|both] [-o digits-out]

64-32-10 tanh network, softmax cross-entropy, minibatches of 64; prints held-out accuracy and saves
a loss/accuracy plot. Needs the optional `data` extra (scikit-learn).
"""

import argparse
from pathlib import Path

import numpy as np

import symgrad


def load(seed=0, test_fraction=0.25):
    """Digits scaled to [0, 1], one-hot labels, a seeded train/test split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float64)
    Y = np.eye(10)[digits.target]
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(len(X) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return X[train], Y[train], X[test], Y[test]


class SGD:
    def __init__(self, lr=0.5):
        self.lr = lr

    def step(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g


class Adam:
    def __init__(self, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, beta1, beta2, eps, 0
        self.m = self.v = None

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            m_hat = m / (1 - self.b1**self.t)
            v_hat = v / (1 - self.b2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def train(optimizer, epochs=60, batch=64, hidden=32, seed=0, dtype="float64"):
    """Train; returns (history dict of per-epoch train loss and test accuracy, final accuracy)."""
    Xtr, Ytr, Xte, Yte = load(seed)
    model = symgrad.nn.matrix_mlp([64, hidden, 10], activation="tanh", loss="softmax_cross_entropy", seed=seed)
    kernel = symgrad.compile(model, dtype=dtype)
    params = [np.array(model.init[p], dtype=dtype) for p in model.params]
    Xtr, Ytr, Xte, Yte = (a.astype(dtype) for a in (Xtr, Ytr, Xte, Yte))
    rng = np.random.default_rng(seed)
    step = kernel.module.loss_and_grad  # the raw generated function: arrays in DATA, PARAMS order
    history = {"loss": [], "accuracy": []}
    for _ in range(epochs):
        order = rng.permutation(len(Xtr))
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            value, grads = step(Xtr[idx], Ytr[idx], *params)
            optimizer.step(params, grads)
            losses.append(float(value))
        (logits,) = kernel.module.predict(Xte, None, *params)
        history["loss"].append(float(np.mean(losses)))
        history["accuracy"].append(float(np.mean(logits.argmax(axis=1) == Yte.argmax(axis=1))))
    return history, history["accuracy"][-1]


def plot(histories, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, h in histories.items():
        epochs = np.arange(1, len(h["loss"]) + 1)
        ax1.plot(epochs, h["loss"], label=label)
        ax2.plot(epochs, h["accuracy"], label=label)
    ax1.set(xlabel="epoch", ylabel="mean minibatch loss (cross-entropy)", yscale="log", title="training loss")
    ax2.set(xlabel="epoch", ylabel="held-out accuracy", title="held-out accuracy")
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--optimizer", choices=["sgd", "adam", "both"], default="both")
    parser.add_argument("-o", "--output", default="digits-out")
    args = parser.parse_args(argv)
    optimizers = {"sgd": lambda: SGD(0.5), "adam": lambda: Adam(0.01)}
    chosen = list(optimizers) if args.optimizer == "both" else [args.optimizer]
    histories = {}
    for name in chosen:
        history, accuracy = train(optimizers[name](), epochs=args.epochs)
        histories[name] = history
        print(f"{name}: final minibatch loss {history['loss'][-1]:.4f}, held-out accuracy {accuracy:.2%}")
    path = Path(args.output) / "digits_loss_accuracy.png"
    plot(histories, path)
    print(f"plot: {path}")
    return histories


if __name__ == "__main__":
    main()
