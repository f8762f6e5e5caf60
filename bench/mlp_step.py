"""One training step (forward, backward, SGD update) of a 784-256-10 tanh MLP, softmax cross-entropy.

    PYTHONPATH=. python bench/mlp_step.py [--quick]

generated numpy (symgrad.compile of symgrad.nn.matrix_mlp) vs hand-written numpy backprop vs PyTorch
eager CPU (vs JAX jit when installed), batch 256 and 4096, float32 and float64: median of repeats,
ratios to hand-written numpy, and the fraction of this machine's matmul peak (FLOPs of the step's
products / step time, against a measured large square matmul). Then the derivation + generation
time for several widths (sizes symbolic until the call).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

import symgrad  # noqa: E402

SIZES = (784, 256, 10)
LR = 0.1


def hand_step(X, Y, W1, b1, W2, b2):
    """Textbook backprop, written by hand."""
    n = X.shape[0]
    h1 = np.tanh(X @ W1 + b1)
    z2 = h1 @ W2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    d2 = (p - Y) / n
    dW2 = h1.T @ d2
    db2 = d2.sum(axis=0, keepdims=True)
    d1 = (d2 @ W2.T) * (1 - h1 * h1)
    dW1 = X.T @ d1
    db1 = d1.sum(axis=0, keepdims=True)
    for p_, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
        p_ -= LR * g


def generated_step(kernel):
    fn = kernel.module.loss_and_grad

    def step(X, Y, *params):
        _, grads = fn(X, Y, *params)
        for p_, g in zip(params, grads, strict=True):
            p_ -= LR * g

    return step


def torch_step(dtype):
    import torch

    def make(X, Y, *params):
        tX, labels = torch.from_numpy(X), torch.from_numpy(Y.argmax(axis=1))
        tp = [torch.from_numpy(p.copy()).requires_grad_() for p in params]

        def step():
            W1, b1, W2, b2 = tp
            loss = torch.nn.functional.cross_entropy(torch.tanh(tX @ W1 + b1) @ W2 + b2, labels)
            grads = torch.autograd.grad(loss, tp)
            with torch.no_grad():
                for p_, g in zip(tp, grads, strict=True):
                    p_ -= LR * g

        return step

    return make


def _params(rng, dtype):
    d, h, k = SIZES
    return [(rng.normal(size=s) * 0.05).astype(dtype) for s in ((d, h), (1, h), (h, k), (1, k))]


def _bound(step, X, Y, params):
    return lambda: step(X, Y, *params)


def matmul_peak(dtype, n=2048):
    a = np.random.default_rng(0).normal(size=(n, n)).astype(dtype)
    b = a.copy()
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats=5, min_time=0.3)


def step_flops(batch):
    d, h, k = SIZES
    return 2 * batch * (d * h + h * k) + 2 * batch * (h * k) * 2 + 2 * batch * d * h  # fwd, dW2+dh1, dW1


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke test)")
    args = parser.parse_args(argv)
    repeats, min_time = (3, 0.05) if args.quick else (7, 0.3)
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
    try:
        import jax  # noqa: F401

        print("JAX is installed but this benchmark has no JAX column yet")
    except ImportError:
        print("JAX is not installed: no JAX jit column")
    print(f"one SGD step of a {'-'.join(map(str, SIZES))} tanh MLP, softmax cross-entropy; "
          f"median of {repeats} repeats; ratio = time / hand-written numpy")
    rows = []
    for dtype in ("float32", "float64"):
        peak = matmul_peak(dtype)
        kernel = symgrad.compile(symgrad.nn.matrix_mlp(list(SIZES), activation="tanh"), dtype=dtype)
        for batch in (256, 4096):
            rng = np.random.default_rng(0)
            X = rng.normal(size=(batch, SIZES[0])).astype(dtype)
            Y = np.eye(SIZES[2], dtype=dtype)[rng.integers(0, SIZES[2], batch)]

            impls = {"hand-written numpy": _bound(hand_step, X, Y, _params(rng, dtype)),
                     "generated numpy": _bound(generated_step(kernel), X, Y, _params(rng, dtype))}
            if has_torch:
                impls["pytorch eager"] = torch_step(dtype)(X, Y, *_params(rng, dtype))
            times = {name: median_seconds(fn, repeats=repeats, min_time=min_time) for name, fn in impls.items()}
            base = times["hand-written numpy"]
            for name, sec in times.items():
                rows.append((dtype, batch, name, sec, sec / base, step_flops(batch) / sec / peak))
        print(f"{dtype} matmul peak (2048² @ 2048²): {peak / 1e9:.1f} GFLOP/s")
    print(f"\n{'dtype':<8}{'batch':>6}  {'implementation':<20}{'ms / step':>10}{'ratio':>8}{'of peak':>9}")
    for dtype, batch, name, sec, ratio, frac in rows:
        print(f"{dtype:<8}{batch:>6}  {name:<20}{sec * 1e3:>10.2f}{ratio:>7.2f}x{frac:>8.0%}")

    print("\nderivation + generation (symgrad.compile, kernel cache off):")
    for sizes in ([784, 16, 10], [784, 256, 10], [784, 4096, 10], ["d", "h", 10], [784, 256, 256, 10]):
        t = time.perf_counter()
        symgrad.compile(symgrad.nn.matrix_mlp(sizes), cache=False)  # derive, lower, render, load
        print(f"  {'-'.join(map(str, sizes)):<20} {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
