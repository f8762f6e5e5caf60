"""One training step (forward, backward, SGD update) of an MLP with softmax cross-entropy.

    PYTHONPATH=. python bench/mlp_step.py [--quick]

generated numpy (symgrad.compile of symgrad.nn.matrix_mlp; its module's `grad`, the gradients only as
hand-written backprop computes them, its `loss_and_grad`, and the documented `kernel.loss_and_grad(values)`) vs hand-written numpy backprop vs PyTorch eager CPU (vs JAX
jit when installed), for the rows of CASES: 784-256-10 tanh at batch 256 and 4096, sigmoid MLPs at batch 256, 64-32-10 at batch 4096; float32 and float64. Every implementation runs
single-threaded (BLAS and torch), their repeats taken in turn; after checking that the generated and
hand-written gradients agree, medians, ratios to hand-written numpy, and the fraction of this machine's
matmul peak (FLOPs of the step's products / step time, against a measured large square matmul). Then
the derivation + generation time for several widths (sizes symbolic until the call).
"""

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, median_seconds  # noqa: E402

import symgrad  # noqa: E402

LR = 0.1
# (sizes, activation, batch): each runs in float32 and float64
CASES = [((784, 256, 10), "tanh", 256), ((784, 256, 10), "tanh", 4096),
         ((64, 64, 10), "sigmoid", 256), ((784, 256, 10), "sigmoid", 256),
         ((64, 32, 10), "tanh", 4096), ((64, 32, 10), "sigmoid", 4096)]
HAND_ACTIVATIONS = {  # (activation, its derivative from the activation's value), as people write them
    "tanh": (np.tanh, lambda h: 1 - h * h),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda h: h * (1 - h)),
}


def hand_grads(activation, X, Y, W1, b1, W2, b2):
    """Textbook backprop, written by hand: the gradients."""
    act, dact = HAND_ACTIVATIONS[activation]
    n = X.shape[0]
    h1 = act(X @ W1 + b1)
    z2 = h1 @ W2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    d2 = (p - Y) / n
    dW2 = h1.T @ d2
    db2 = d2.sum(axis=0, keepdims=True)
    d1 = (d2 @ W2.T) * dact(h1)
    dW1 = X.T @ d1
    db1 = d1.sum(axis=0, keepdims=True)
    return [dW1, db1, dW2, db2]


def hand_step(activation, X, Y, *params):
    for p_, g in zip(params, hand_grads(activation, X, Y, *params), strict=True):
        p_ -= LR * g


def generated_step(kernel):
    """The module's `grad` (the gradients only, as hand-written backprop computes) and an SGD update."""
    fn = kernel.module.grad

    def step(X, Y, *params):
        for p_, g in zip(params, fn(X, Y, *params), strict=True):
            p_ -= LR * g

    return step


def generated_loss_step(kernel):
    """The same update from the module's `loss_and_grad`: the loss too, as a loop that reports it."""
    fn = kernel.module.loss_and_grad

    def step(X, Y, *params):
        _, grads = fn(X, Y, *params)
        for p_, g in zip(params, grads, strict=True):
            p_ -= LR * g

    return step


def documented_step(kernel):
    """The same step through `kernel.loss_and_grad(values)`: checked binding, results in each parameter's shape."""
    symbols = kernel.inputs + kernel.wrt

    def step(X, Y, *params):
        _, grads = kernel.loss_and_grad(dict(zip(symbols, (X, Y, *params), strict=True)))
        for p_, g in zip(params, grads, strict=True):
            p_ -= LR * g

    return step


def torch_step(activation):
    import torch

    torch.set_num_threads(1)
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]

    def make(X, Y, *params):
        tX, labels = torch.from_numpy(X), torch.from_numpy(Y.argmax(axis=1))
        tp = [torch.from_numpy(p.copy()).requires_grad_() for p in params]

        def step():
            W1, b1, W2, b2 = tp
            loss = torch.nn.functional.cross_entropy(act(tX @ W1 + b1) @ W2 + b2, labels)
            grads = torch.autograd.grad(loss, tp)
            with torch.no_grad():
                for p_, g in zip(tp, grads, strict=True):
                    p_ -= LR * g

        return step

    return make


def _params(rng, sizes, dtype):
    d, h, k = sizes
    return [(rng.normal(size=s) * 0.05).astype(dtype) for s in ((d, h), (1, h), (h, k), (1, k))]


def _bound(step, X, Y, params):
    return lambda: step(X, Y, *params)


def matmul_peak(dtype, n=2048):
    a = np.random.default_rng(0).normal(size=(n, n)).astype(dtype)
    b = a.copy()
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats=5, min_time=0.3)


def step_flops(sizes, batch):
    d, h, k = sizes
    return 2 * batch * (d * h + h * k) + 2 * batch * (h * k) * 2 + 2 * batch * d * h  # fwd, dW2+dh1, dW1


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke test)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--only", default="", help="run the cases whose 'SIZES ACTIVATION BBATCH' (e.g. '64-32-10 tanh B4096') contains this")
    parser.add_argument("--no-derive", action="store_true", help="skip the derivation timings")
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
    print(f"one SGD step of an MLP with softmax cross-entropy, single-threaded; "
          f"median of {repeats} repeats taken in turn; ratio = time / hand-written numpy")
    rows = []
    for dtype in args.dtypes.split(","):
        peak = matmul_peak(dtype)
        print(f"{dtype} matmul peak (2048² @ 2048²): {peak / 1e9:.1f} GFLOP/s")
        for sizes, activation, batch in CASES:
            if args.only not in f"{'-'.join(map(str, sizes))} {activation} B{batch}":
                continue
            kernel = symgrad.compile(symgrad.nn.matrix_mlp(list(sizes), activation=activation), dtype=dtype)
            rng = np.random.default_rng(0)
            X = rng.normal(size=(batch, sizes[0])).astype(dtype)
            Y = np.eye(sizes[2], dtype=dtype)[rng.integers(0, sizes[2], batch)]
            params = _params(rng, sizes, dtype)
            _, got = kernel.module.loss_and_grad(X, Y, *params)
            for g, g_only, want in zip(got, kernel.module.grad(X, Y, *params), hand_grads(activation, X, Y, *params), strict=True):
                np.testing.assert_allclose(g_only, g, rtol=1e-6 if dtype == "float32" else 1e-13)  # less the loss's statements
                np.testing.assert_allclose(g, want, rtol=1e-3 if dtype == "float32" else 1e-9,
                                           atol=1e-5 if dtype == "float32" else 1e-12)
            impls = {"hand-written numpy": _bound(lambda *a, act=activation: hand_step(act, *a), X, Y, [p.copy() for p in params]),
                     "generated grad": _bound(generated_step(kernel), X, Y, [p.copy() for p in params]),
                     "generated loss_and_grad": _bound(generated_loss_step(kernel), X, Y, [p.copy() for p in params]),
                     "loss_and_grad(values)": _bound(documented_step(kernel), X, Y, [p.copy() for p in params])}
            if has_torch:
                impls["pytorch eager"] = torch_step(activation)(X, Y, *params)
            times = interleaved_medians(impls, repeats=repeats, min_time=min_time)
            base = times["hand-written numpy"]
            for name, sec in times.items():
                rows.append((dtype, "-".join(map(str, sizes)), activation, batch, name, sec, sec / base,
                             step_flops(sizes, batch) / sec / peak))
    print(f"\n{'dtype':<8}{'sizes':<12}{'act':<8}{'batch':>6}  {'implementation':<24}{'ms / step':>10}{'ratio':>8}{'of peak':>9}")
    for dtype, sizes, activation, batch, name, sec, ratio, frac in rows:
        print(f"{dtype:<8}{sizes:<12}{activation:<8}{batch:>6}  {name:<24}{sec * 1e3:>10.3f}{ratio:>7.2f}x{frac:>8.0%}")

    if args.no_derive:
        return
    print("\nderivation + generation (symgrad.compile, kernel cache off):")
    for sizes in ([784, 16, 10], [784, 256, 10], [784, 4096, 10], ["d", "h", 10], [784, 256, 256, 10]):
        t = time.perf_counter()
        symgrad.compile(symgrad.nn.matrix_mlp(sizes), cache=False)  # derive, lower, render, load
        print(f"  {'-'.join(map(str, sizes)):<20} {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
