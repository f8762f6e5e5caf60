"""Per-sample gradients (the N×P matrix) for 10,000 samples of a 4-16-16-1 sigmoid MLP.

symgrad's generated `per_sample_grad` next to hand-vectorized numpy per-sample backprop (matrix
products for the forward pass, outer products per sample for the weight gradients) and, when
installed, PyTorch's `torch.func.vmap(grad)`; median of repeats, measured in the same run. Every
implementation's matrix is checked against symgrad's before it is timed.

    python bench/per_sample.py [--samples 10000] [--repeats 7]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from _timing import median_seconds, table  # noqa: E402

import symgrad  # noqa: E402
from symgrad import nn  # noqa: E402

SIZES = [4, 16, 16, 1]


def layer_arrays(model, values):
    """(W, b) per layer as numpy arrays, from the model's scalar parameters (W{l}_{i}_{j}, b{l}_{j})."""
    by_name = {p.name: values[p] for p in model.params}
    layers = []
    for layer, (fan_in, units) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True), start=1):
        W = np.array([[by_name[f"W{layer}_{i}_{j}"] for j in range(units)] for i in range(fan_in)])
        b = np.array([by_name[f"b{layer}_{j}"] for j in range(units)])
        layers.append((W, b))
    return layers


def sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def numpy_per_sample(layers, X, Y):
    """Hand-vectorized backprop keeping the sample axis: one row of gradients per sample."""
    hs = [X]
    for W, b in layers:
        hs.append(sigmoid(hs[-1] @ W + b))
    delta = 2.0 * (hs[-1] - Y) * hs[-1] * (1.0 - hs[-1])
    grads = []
    for k in range(len(layers) - 1, -1, -1):
        W, _ = layers[k]
        h_in = hs[k]
        gW = (h_in[:, :, None] * delta[:, None, :]).reshape(len(X), -1)
        grads = [gW, delta] + grads
        if k:
            delta = (delta @ W.T) * h_in * (1.0 - h_in)
    return np.concatenate(grads, axis=1)


def torch_per_sample(layers, X, Y):
    """PyTorch's vmap over per-sample grad, or None when torch is not installed."""
    try:
        import torch
        from torch.func import grad, vmap
    except ImportError:
        return None
    params = [torch.tensor(a) for W, b in layers for a in (W, b)]
    Xt, Yt = torch.tensor(X), torch.tensor(Y)

    def loss(params, x, y):
        h = x
        for W, b in zip(params[0::2], params[1::2], strict=True):
            h = torch.sigmoid(h @ W + b)
        return ((h - y) ** 2).sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))

    def run():
        gs = per_sample(params, Xt, Yt)
        return torch.cat([g.reshape(len(X), -1) for g in gs], dim=1).numpy()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    model = nn.mlp(SIZES)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(args.samples, SIZES[0])), rng.uniform(size=(args.samples, SIZES[-1]))
    values = {**model.initial_values(), **{s: X[:, i] for i, s in enumerate(model.inputs)},
              **{s: Y[:, i] for i, s in enumerate(model.targets)}}
    kernel = symgrad.compile(model, cache=False)
    call_args = kernel.arguments(values)
    layers = layer_arrays(model, values)

    expected = kernel.per_sample_grad(values)
    assert expected.shape == (args.samples, len(model.params))
    np.testing.assert_allclose(expected.sum(axis=0), kernel.grad(values), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(numpy_per_sample(layers, X, Y), expected, rtol=1e-9, atol=1e-12)
    rows = {
        "symgrad per_sample_grad (module)": median_seconds(lambda: kernel.module.per_sample_grad(*call_args), args.repeats),
        "symgrad Kernel.per_sample_grad": median_seconds(lambda: kernel.per_sample_grad(values), args.repeats),
        "hand-vectorized numpy backprop": median_seconds(lambda: numpy_per_sample(layers, X, Y), args.repeats),
    }
    run_torch = torch_per_sample(layers, X, Y)
    if run_torch is not None:
        np.testing.assert_allclose(run_torch(), expected, rtol=1e-9, atol=1e-12)
        rows["torch.func vmap(grad) (CPU)"] = median_seconds(run_torch, args.repeats)
    print(f"per-sample gradients: {args.samples} samples x {len(model.params)} parameters "
          f"({'-'.join(map(str, SIZES))} sigmoid MLP, squared error), float64")
    table(rows, "hand-vectorized numpy backprop")


if __name__ == "__main__":
    main()
