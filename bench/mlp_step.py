"""One training step (forward, backward, SGD update) of an MLP with softmax cross-entropy.

    PYTHONPATH=. python bench/mlp_step.py [--quick]

generated numpy (symgrad.compile of symgrad.nn.matrix_mlp; its module's `grad`, the gradients only
as hand-written backprop computes them, its `loss_and_grad`, and the documented
`kernel.loss_and_grad(values)`) vs hand-written numpy backprop vs PyTorch eager CPU vs JAX jit (each
where installed), for the rows of CASES: 784-256-10 tanh at batch 256 and 4096, sigmoid MLPs at batch
256, 64-32-10 at batch 4096; float32 and float64. Every implementation runs single-threaded (BLAS,
torch and XLA threads 1, the process on one core), their repeats taken in turn; after checking that
the generated, hand-written, torch and JAX gradients agree, medians, ratios to hand-written numpy,
and the fraction of this machine's matmul peak (FLOPs of the step's products / step time, against a
measured large square matmul). Then the derivation + generation time for several widths (sizes symbolic until the call).
"""

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
if hasattr(os, "sched_setaffinity"):  # and the process on one core: XLA's CPU runtime starts a thread per
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # core whatever its flags (measured: 2 on 2 cores)
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
    """PyTorch eager: autograd.grad of the mean cross-entropy and an in-place SGD update; returns
    (make the timed step, the gradients at given parameters)."""
    import torch

    torch.set_num_threads(1)
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]

    def leaves(X, Y, params):
        return torch.from_numpy(X), torch.from_numpy(Y.argmax(axis=1)), [torch.from_numpy(p.copy()).requires_grad_() for p in params]

    def grads_of(tX, labels, tp):
        W1, b1, W2, b2 = tp
        return torch.autograd.grad(torch.nn.functional.cross_entropy(act(tX @ W1 + b1) @ W2 + b2, labels), tp)

    def make(X, Y, *params):
        tX, labels, tp = leaves(X, Y, params)

        def step():
            grads = grads_of(tX, labels, tp)
            with torch.no_grad():
                for p_, g in zip(tp, grads, strict=True):
                    p_ -= LR * g

        return step

    return make, lambda X, Y, *params: [g.numpy() for g in grads_of(*leaves(X, Y, params))]


def jax_step(activation):
    """jax.jit of the whole step (jax.grad of the mean cross-entropy and the SGD update), the
    parameters passed through it functionally as JAX code is written; float64 with jax_enable_x64.
    Returns (make the timed step, the gradients at given parameters), as torch_step."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    act = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}[activation]

    def loss(params, X, Y):
        W1, b1, W2, b2 = params
        z2 = act(X @ W1 + b1) @ W2 + b2
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(z2, axis=1), axis=1))

    grads = jax.grad(loss)
    update = jax.jit(lambda params, X, Y: [p_ - LR * g for p_, g in zip(params, grads(params, X, Y), strict=True)])

    def make(X, Y, *params):
        jX, jY = jnp.asarray(X), jnp.asarray(Y)
        state = [[jnp.asarray(p_) for p_ in params]]

        def step():
            state[0] = update(state[0], jX, jY)
            jax.block_until_ready(state[0])

        return step

    return make, lambda X, Y, *params: [np.asarray(g) for g in grads([jnp.asarray(p_) for p_ in params], X, Y)]


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

        has_jax = True
    except ImportError:
        has_jax = False
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
            want = hand_grads(activation, X, Y, *params)
            baselines = {"torch": torch_step(activation) if has_torch else None,
                         "jax": jax_step(activation) if has_jax else None}
            others = [kernel.module.grad(X, Y, *params)] + [b[1](X, Y, *params) for b in baselines.values() if b]
            for g, w_ in zip(got, want, strict=True):
                np.testing.assert_allclose(g, w_, rtol=1e-3 if dtype == "float32" else 1e-9,
                                           atol=1e-5 if dtype == "float32" else 1e-12)
            for grads in others:  # the module's grad (less the loss's statements), torch's and JAX's
                for g, g_other in zip(got, grads, strict=True):
                    np.testing.assert_allclose(np.reshape(g_other, g.shape), g, rtol=1e-3 if dtype == "float32" else 1e-9,
                                               atol=1e-5 if dtype == "float32" else 1e-12)
            impls = {"hand-written numpy": _bound(lambda *a, act=activation: hand_step(act, *a), X, Y, [p.copy() for p in params]),
                     "generated grad": _bound(generated_step(kernel), X, Y, [p.copy() for p in params]),
                     "generated loss_and_grad": _bound(generated_loss_step(kernel), X, Y, [p.copy() for p in params]),
                     "loss_and_grad(values)": _bound(documented_step(kernel), X, Y, [p.copy() for p in params])}
            if has_torch:
                impls["pytorch eager"] = baselines["torch"][0](X, Y, *params)
            if has_jax:
                impls["jax jit"] = baselines["jax"][0](X, Y, *params)
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
