"""Speed of the CUDA target on a GPU: medians of repeats, ratios against baselines in the same run.

    python bench/gpu_bench.py [--repeats 20] [--elements 100000000] [--samples 1000000]

(a) a long fused elementwise chain over 10^8 elements: achieved bandwidth (bytes read + written
    per second) as a fraction of the card's device-to-device copy bandwidth, measured here; target ≥ 80 %.
(b) the seed 4-3-1 MLP, 10^6 samples, one full-batch training step (loss, gradient, SGD update):
    the fused kernel vs PyTorch CUDA eager; target ≥ 10× faster.
(c) a 784-256-10 matrix MLP, batch 4096, float32, one training step vs PyTorch CUDA eager;
    target ≤ 1.1× its time.

Needs CuPy and an NVIDIA GPU (PyTorch with CUDA for the baselines of (b) and (c)); without them it
prints why and exits 0 having measured nothing. Times come from CUDA events, after warm-up.
"""

import argparse
import statistics
import sys

import numpy as np
import sympy as sp

import symgrad
from symgrad import models


def _gpu():
    """(cupy, torch or None), or None with the reason printed."""
    try:
        import cupy as cp

        if cp.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
    except Exception as exc:  # noqa: BLE001 - any failure means: no GPU to measure on
        print(f"gpu_bench: no GPU available ({type(exc).__name__}: {exc}); nothing measured")
        return None
    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    return cp, torch


def _median_ms(cp, fn, repeats):
    """Median wall time of fn() on the device in milliseconds (CUDA events), after two warm-ups."""
    fn(), fn()
    times = []
    for _ in range(repeats):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def chain_bandwidth(cp, elements, repeats, dtype="float32", length=24):
    """(a): predict of a `length`-step chain of affine maps and activations of one input."""
    x = sp.Symbol("x", real=True)
    z = x
    for k in range(length):
        act = (symgrad.sigmoid, sp.tanh, symgrad.softplus)[k % 3]
        z = act(sp.Float(0.9 + 0.01 * k) * z + sp.Float(0.1))
    kernel = symgrad.compile(z, wrt=[], inputs=[x], outputs=[z], target="cuda", dtype=dtype, cache=False)
    launcher = kernel.launcher
    data = [cp.random.standard_normal(elements, dtype=np.float32).astype(dtype)]
    params = cp.zeros(0, dtype=dtype)
    copy_out = cp.empty_like(data[0])
    nbytes = data[0].nbytes
    chain_ms = _median_ms(cp, lambda: launcher.predict(data, params), repeats)
    copy_ms = _median_ms(cp, lambda: copy_out.data.copy_from_device(data[0].data, nbytes), repeats)
    chain_bw, copy_bw = 2 * nbytes / chain_ms / 1e6, 2 * nbytes / copy_ms / 1e6  # GB/s, read + write
    return [(f"(a) fused chain, {length} steps, {dtype}, {elements:.0e} elements", chain_ms, copy_ms,
             f"{chain_bw:.0f} GB/s vs copy {copy_bw:.0f} GB/s = {chain_bw / copy_bw:.0%} (target >= 80%)")]


def seed_step(cp, torch, samples, repeats, lr=1e-6):
    """(b): one full-batch step of the seed MLP: symgrad's fused kernel vs PyTorch CUDA eager."""
    model = models.seed()
    kernel = symgrad.compile(model, target="cuda", cache=False)
    launcher = kernel.launcher
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(samples, 4)), rng.uniform(size=(samples, 1))
    data = [cp.asarray(col) for col in [*X.T, *Y.T]]
    params = cp.asarray([model.init[p] for p in model.params])

    def ours():
        _, grads = launcher.loss_and_grad(data, params)
        params[...] -= lr * grads

    ours_ms = _median_ms(cp, ours, repeats)
    rows = []
    if torch is None:
        return [("(b) seed 4-3-1 step, 1e6 samples", ours_ms, None, "PyTorch CUDA unavailable: no ratio")]
    dev = "cuda"
    Xt, Yt = torch.tensor(X, device=dev), torch.tensor(Y, device=dev)
    init = [model.init[p] for p in model.params]
    W1 = torch.tensor(init[:12], device=dev, dtype=torch.float64).reshape(4, 3).requires_grad_()
    b1 = torch.tensor(init[12:15], device=dev, dtype=torch.float64).requires_grad_()
    W2 = torch.tensor(init[15:18], device=dev, dtype=torch.float64).reshape(3, 1).requires_grad_()
    b2 = torch.tensor(init[18:], device=dev, dtype=torch.float64).requires_grad_()
    weights = [W1, b1, W2, b2]

    def theirs():
        loss = ((torch.sigmoid(torch.sigmoid(Xt @ W1 + b1) @ W2 + b2) - Yt) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            for w in weights:
                w -= lr * w.grad
                w.grad = None

    torch_ms = _median_ms(cp, theirs, repeats)
    rows.append((f"(b) seed 4-3-1 step, float64, {samples:.0e} samples", ours_ms, torch_ms,
                 f"{torch_ms / ours_ms:.1f}x faster than PyTorch CUDA (target >= 10x)"))
    return rows


def matrix_step(cp, torch, repeats, batch=4096, lr=1e-3):
    """(c): one step of a 784-256-10 relu MLP with softmax cross-entropy (mean), float32:
    symgrad's launcher (cuBLAS products, generated fused kernels) vs PyTorch CUDA eager."""
    model = symgrad.nn.matrix_mlp([784, 256, 10], activation="relu")
    launcher = symgrad.compile(model, target="cuda", dtype="float32", cache=False).launcher
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, 784)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    init = model.initial_values()
    params = [cp.asarray(np.asarray(init[p], dtype=np.float32)) for p in model.params]
    Xd, Yd = cp.asarray(X), cp.asarray(Y)

    def ours():
        _, grads = launcher.loss_and_grad(Xd, Yd, *params)
        for p, g in zip(params, grads, strict=True):
            p -= lr * g

    ours_ms = _median_ms(cp, ours, repeats)
    label = f"(c) 784-256-10 matrix MLP step, float32, batch {batch}"
    if torch is None:
        return [(label, ours_ms, None, "PyTorch CUDA unavailable: no ratio")]
    weights = [torch.tensor(np.asarray(init[p], dtype=np.float32), device="cuda").requires_grad_() for p in model.params]
    Xt, Yt = torch.tensor(X, device="cuda"), torch.tensor(Y, device="cuda")

    def theirs():
        W1, b1, W2, b2 = weights
        logits = torch.relu(Xt @ W1 + b1) @ W2 + b2
        loss = torch.nn.functional.cross_entropy(logits, Yt)
        loss.backward()
        with torch.no_grad():
            for w in weights:
                w -= lr * w.grad
                w.grad = None

    torch_ms = _median_ms(cp, theirs, repeats)
    return [(label, ours_ms, torch_ms, f"{ours_ms / torch_ms:.2f}x PyTorch's time (target <= 1.1x)")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--elements", type=int, default=100_000_000)
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    found = _gpu()
    if found is None:
        return 0
    cp, torch = found
    print(f"device: {cp.cuda.runtime.getDeviceProperties(0)['name'].decode()}, medians of {args.repeats} repeats")
    rows = chain_bandwidth(cp, args.elements, args.repeats)
    rows += chain_bandwidth(cp, args.elements // 2, args.repeats, dtype="float64")
    rows += seed_step(cp, torch, args.samples, args.repeats)
    rows += matrix_step(cp, torch, args.repeats)
    print(f"{'case':<48} {'symgrad ms':>11} {'baseline ms':>12}  result")
    for name, ours, base, note in rows:
        fmt = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        print(f"{name:<48} {fmt(ours):>11} {fmt(base):>12}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
