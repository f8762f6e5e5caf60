"""The seeds' front doors at real sizes: scalar `nn.mlp` kernels vs hand-written numpy backprop.

    PYTHONPATH=. python bench/front_doors_scalar.py [--quick] [--sizes 4-3-1,16-64-64-1]

Scalar rows (issue 12, part 4): sigmoid MLPs with squared error built by `symgrad.nn.mlp` (one
symbol per weight), batch 256, float64. For each size: the lifted kernel's module called directly
(the dense layers as matrix products, `kernel.level.matrix_half.module.loss_and_grad`), the documented call
`kernel.loss_and_grad(values)` (values and gradients per scalar symbol), the documented vector call
`kernel.objective(values)(theta)` (the data bound once; θ and the gradient one float array each in
`wrt` order), the scalar-only kernel's
module (one line per weight, only where it compiles in reasonable time) and hand-written numpy
backprop; all single-threaded, results checked equal before timing, medians of repeats taken in
turn, ratios to hand-written numpy. Then the time to build the model and compile it.
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
from _timing import interleaved_medians  # noqa: E402

import symgrad  # noqa: E402
from symgrad import models, nn  # noqa: E402

SCALAR_SIZES = ["4-3-1", "4-16-1", "8-32-32-1", "16-64-64-1", "64-64-1"]
BATCH = 256
SCALAR_ONLY_MAX_PARAMS = 200  # the unlifted scalar kernel compiles in seconds up to about this size


def _mlp_data(sizes, rng):
    X = rng.normal(size=(BATCH, sizes[0]))
    Y = rng.uniform(size=(BATCH, sizes[-1]))
    return X, Y


def _layers(model, values):
    """The model's weights and biases as numpy matrices (W: fan-in × units, b: 1 × units)."""
    out = []
    for layer in model.structure.layers:
        W = np.array([[values[w] for w in row] for row in layer.weights])
        b = np.array([[values[v] for v in layer.biases]])
        out.append((W, b))
    return out


def hand_numpy(model, values, X, Y):
    """Textbook backprop of Σ (σ(...) − y)², written by hand; returns a step function and the gradients."""
    params = _layers(model, values)

    def loss_and_grad():
        hs = [X]
        for W, b in params:
            hs.append(1 / (1 + np.exp(-(hs[-1] @ W + b))))
        err = hs[-1] - Y
        loss = (err * err).sum()
        d = 2 * err * hs[-1] * (1 - hs[-1])
        grads = []
        for k in range(len(params) - 1, -1, -1):
            grads.append((hs[k].T @ d, d.sum(axis=0, keepdims=True)))
            if k:
                d = (d @ params[k][0].T) * hs[k] * (1 - hs[k])
        return loss, [g for pair in reversed(grads) for g in pair]

    return loss_and_grad


def lifted_module(kernel, values):
    """The lifted kernel's matrix module called directly on matrix arguments."""
    args = kernel.calls._matrix_arguments(kernel.arguments(values))
    fn = kernel.level.matrix_half.module.loss_and_grad
    return lambda: fn(*args)


def documented_call(kernel, values):
    """`kernel.loss_and_grad(values)`: scalar values in, one float per weight out."""
    return lambda: kernel.loss_and_grad(values)


def objective_call(kernel, values):
    """`kernel.objective(values)` (made once, outside the timing) called on θ: one float array of
    the parameters in `wrt` order in, the loss and one gradient array out."""
    objective = kernel.objective(values)
    theta = objective.x0
    return lambda: objective(theta)


def scalar_module(model, values):
    """The unlifted scalar kernel's module (one numpy line per weight and sample array)."""
    kernel = symgrad.compile(model.loss, wrt=list(model.params), inputs=list(model.data), cache=False)
    args = kernel.arguments(values)
    fn = kernel.module.loss_and_grad
    return lambda: fn(*args)


def _flat(grads):
    return np.concatenate([np.ravel(g) for g in grads])


def scalar_rows(size_text, repeats, min_time):
    sizes = [int(s) for s in size_text.split("-")]
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    model = nn.mlp(sizes, activation="sigmoid", loss="squared_error", seed=0)
    built = time.perf_counter() - t
    t = time.perf_counter()
    kernel = symgrad.compile(model, cache=False)
    kernel.level.matrix_half  # noqa: B018 - small models compile their matrix kernel on first use: count it here
    compiled = time.perf_counter() - t
    X, Y = _mlp_data(sizes, rng)
    values = {**model.initial_values(), **models.data_values(model, X, Y)}
    impls = {"hand-written numpy backprop": hand_numpy(model, values, X, Y),
             "lifted kernel, module called": lifted_module(kernel, values),
             "kernel.loss_and_grad(values)": documented_call(kernel, values),
             "kernel.objective(values)(theta)": objective_call(kernel, values)}
    if len(model.params) <= SCALAR_ONLY_MAX_PARAMS:
        impls["scalar-only kernel, module"] = scalar_module(model, values)
    want_loss, want = impls["hand-written numpy backprop"]()
    for name, fn in impls.items():
        loss, grads = fn()
        np.testing.assert_allclose(loss, want_loss, rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(_flat(grads), _flat(want), rtol=1e-8, atol=1e-12 * np.abs(_flat(want)).max(),
                                   err_msg=name)
    times = interleaved_medians(impls, repeats=repeats, min_time=min_time)
    return times, built, compiled, len(model.params)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke test)")
    parser.add_argument("--sizes", default=",".join(SCALAR_SIZES))
    args = parser.parse_args(argv)
    repeats, min_time = (3, 0.05) if args.quick else (7, 0.2)
    print(f"scalar nn.mlp sigmoid MLPs, squared error, batch {BATCH}, float64, single-threaded; "
          f"median of {repeats} repeats taken in turn; ratio = time / hand-written numpy backprop")
    print(f"{'sizes':<12}{'params':>7}  {'implementation':<34}{'us / call':>11}{'ratio':>9}")
    builds = []
    for size_text in args.sizes.split(","):
        times, built, compiled, n_params = scalar_rows(size_text, repeats, min_time)
        base = times["hand-written numpy backprop"]
        for name, sec in times.items():
            print(f"{size_text:<12}{n_params:>7}  {name:<34}{sec * 1e6:>11.1f}{sec / base:>8.2f}x")
        builds.append((size_text, built, compiled))
    print("\nbuilding the model (nn.mlp) and compiling it (symgrad.compile, cache off, matrix kernel included):")
    for size_text, built, compiled in builds:
        print(f"  {size_text:<12} build {built:7.3f} s   compile {compiled:7.3f} s   total {built + compiled:7.3f} s")


if __name__ == "__main__":
    main()
