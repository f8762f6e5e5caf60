"""Two matrix-level constructs issue 7's Hypothesis test found broken, timed against hand-written numpy.

(a) `sum(X W V)`: the gradient Xᵀ·1·Vᵀ has a ones matrix inside a product; symgrad lowers it to a
column sum times a row sum. Baseline: the same gradient with the ones matrix materialized and
multiplied (N×k ones, two gemms), and hand-written reductions.
(b) `sum((X A³)²)`: a matrix power (sympy writes `X*A*A*A` as `X*A**3`). Baseline: hand-written
numpy backprop, and torch autograd when installed. Median of repeats, same run, results checked
against each other before timing.

    python bench/matrix_power_ones.py [--samples 100000] [--width 64] [--repeats 7]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from _timing import median_seconds, table  # noqa: E402

import symgrad  # noqa: E402
from symgrad.matrix import SumAll  # noqa: E402


def ones_inside(n, k, repeats, rng):
    N = sp.Symbol("N", integer=True, positive=True)
    X, W, V = sp.MatrixSymbol("X", N, k), sp.MatrixSymbol("W", k, k), sp.MatrixSymbol("V", k, k)
    kernel = symgrad.compile(SumAll(X * W * V), wrt=[W, V], inputs=[X], cache=False)
    x, w, v = rng.normal(size=(n, k)), rng.normal(size=(k, k)) / k, rng.normal(size=(k, k)) / k

    def materialized():
        xw = x @ w
        ones = np.ones((n, k))
        return (xw @ v).sum(), [x.T @ ones @ v.T, xw.T @ ones]

    def reductions():
        xw = x @ w
        col = xw.sum(axis=0)
        return col @ v.sum(axis=1), [np.outer(x.sum(axis=0), v.sum(axis=1)), np.broadcast_to(col[:, None], (k, k))]

    generated = kernel.module.loss_and_grad
    _agree([generated(x, w, v), materialized(), reductions()])
    return {"symgrad generated": median_seconds(lambda: generated(x, w, v), repeats),
            "numpy, ones materialized": median_seconds(materialized, repeats),
            "numpy, hand reductions": median_seconds(reductions, repeats)}


def matrix_power(n, k, repeats, rng):
    N = sp.Symbol("N", integer=True, positive=True)
    X, A = sp.MatrixSymbol("X", N, k), sp.MatrixSymbol("A", k, k)
    kernel = symgrad.compile(SumAll(sp.HadamardPower(X * A * A * A, 2)), wrt=[A], inputs=[X], cache=False)
    x, a = rng.normal(size=(n, k)), rng.normal(size=(k, k)) / np.sqrt(k)

    def hand():
        a2 = a @ a
        z = x @ (a2 @ a)
        g = x.T @ (2 * z)
        return (z * z).sum(), [g @ a2.T + a.T @ g @ a.T + a2.T @ g]

    generated = kernel.module.loss_and_grad
    rows = [generated(x, a), hand()]
    times = {"symgrad generated": median_seconds(lambda: generated(x, a), repeats),
             "numpy, hand backprop": median_seconds(hand, repeats)}
    try:
        import torch
    except ImportError:
        times["torch autograd"] = None
    else:
        xt, at = torch.tensor(x), torch.tensor(a, requires_grad=True)

        def autograd():
            at.grad = None
            loss = ((xt @ torch.linalg.matrix_power(at, 3)) ** 2).sum()
            loss.backward()
            return loss.item(), [at.grad.numpy()]

        rows.append(autograd())
        times["torch autograd"] = median_seconds(autograd, repeats)
    _agree(rows)
    return times


def _agree(results):
    (value, grads), *others = results
    for v, gs in others:
        assert np.isclose(v, value, rtol=1e-9), (v, value)
        for g, e in zip(gs, grads, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-8 * np.max(np.abs(e)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"(a) loss and gradient of sum(X W V), X {args.samples}x{args.width}, W and V {args.width}x{args.width}")
    table(ones_inside(args.samples, args.width, args.repeats, rng), "symgrad generated")
    print(f"\n(b) loss and gradient of sum((X A^3)^2), X {args.samples // 10}x{args.width}, A {args.width}x{args.width}")
    table(matrix_power(args.samples // 10, args.width, args.repeats, rng), "symgrad generated")


if __name__ == "__main__":
    main()
