"""Closed-form generated Hessians and Hessian-vector products vs PyTorch vs the numeric route.

    PYTHONPATH=. python bench/hessian_bench.py [--sizes 100,1000] [--repeats 5]

For x^T A x, least squares ||M x - b||^2 and logistic regression (softplus(X w) - y * X w, i.e.
binary cross-entropy of sigmoid(X w)), with n parameters and N = 2n rows, float64:
- generated: `symgrad.matrix.compile_hessian` (the closed form: A + A^T, M^T (2 M), X^T (D * X));
- hand-written numpy: the same closed forms typed by hand (`X.T @ (X * (s * (1 - s)))`);
- torch: `torch.autograd.functional.hessian` of the same loss written in torch (default loop over
  n backward passes, and `vectorize=True`), and `torch.autograd.functional.hvp`;
- numeric: central differences of the generated gradient, one column per basis direction
  (2n gradient calls; for H·V two calls).
Median of repeats; ratios to the generated kernel. The values of every route are compared first.
Every route runs single-threaded (BLAS and torch): on a shared, loaded machine multithreaded BLAS
swings by 100x from call to call (a 1000x1000 matvec measured 48 ms threaded vs 0.19 ms not).
"""

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, median_seconds  # noqa: E402

from symgrad.matrix import SumAll, compile_hessian, layers  # noqa: E402

n, N = layers.size("n"), layers.size("N")
x = sp.MatrixSymbol("x", n, 1)
A, M, X = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("M", N, n), sp.MatrixSymbol("X", N, n)
b, y = sp.MatrixSymbol("b", N, 1), sp.MatrixSymbol("y", N, 1)


def _torch_losses(torch):
    return {
        "x^T A x": lambda d: lambda w: w @ d["A"] @ w,
        "least squares": lambda d: lambda w: ((d["M"] @ w - d["b"]) ** 2).sum(),
        "logistic regression": lambda d: lambda w: (torch.nn.functional.softplus(d["X"] @ w) - d["y"] * (d["X"] @ w)).sum(),
    }


PROBLEMS = {
    "x^T A x": (x.T * A * x, [A]),
    "least squares": (SumAll(sp.HadamardPower(M * x - b, 2)), [M, b]),
    "logistic regression": (layers.binary_cross_entropy_logits(X * x, y), [X, y]),
}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


HAND_HESSIANS = {  # the closed forms as a person writes them in numpy
    "x^T A x": lambda v: v[A] + v[A].T,
    "least squares": lambda v: 2 * (v[M].T @ v[M]),
    "logistic regression": lambda v: (lambda s: v[X].T @ (v[X] * (s * (1 - s))))(_sigmoid(v[X] @ v[x])),
}


def _values(size, seed=0):
    rng = np.random.default_rng(seed)
    rows = 2 * size
    return {x: rng.normal(size=(size, 1)) / np.sqrt(size), A: rng.normal(size=(size, size)),
            M: rng.normal(size=(rows, size)), b: rng.normal(size=(rows, 1)),
            X: rng.normal(size=(rows, size)), y: rng.integers(0, 2, size=(rows, 1)).astype(float)}


def _numeric_hessian(kernel, args, size, h=1e-5):
    """Central differences of the generated gradient along each basis direction."""
    grad = kernel.module.loss_and_grad
    out = np.empty((size, size))
    w = args[-1]
    for j in range(size):
        w[j, 0] += h
        g_plus = grad(*args)[1][0]
        w[j, 0] -= 2 * h
        g_minus = grad(*args)[1][0]
        w[j, 0] += h
        out[:, j] = (g_plus - g_minus)[:, 0] / (2 * h)
    return out


def _numeric_hvp(kernel, args, v, h=1e-5):
    grad = kernel.module.loss_and_grad
    *rest, w = args
    return (grad(*rest, w + h * v)[1][0] - grad(*rest, w - h * v)[1][0]) / (2 * h)


def _row(name, sec, base):
    shown = "n/a" if sec is None else f"{sec * 1e3:11.3f} ms"
    ratio = "n/a" if sec is None else f"{sec / base:9.1f}x"
    print(f"  {name:<52}{shown:>15}{ratio:>11}")


def bench(problem, size, repeats, torch):
    loss, data = PROBLEMS[problem]
    values = _values(size)
    kernel = compile_hessian(loss, [x], data)
    args = kernel.arguments(values)
    v = np.random.default_rng(1).normal(size=(size, 1))
    hessian, hvp = kernel.module.hessian, kernel.module.hvp  # looked up once, as a loop would
    H = hessian(*args)
    (Hv,) = hvp(*args, v)
    np.testing.assert_allclose(Hv, H @ v, rtol=1e-8, atol=1e-8 * np.abs(H).max())
    slow = size >= 500
    hand = HAND_HESSIANS[problem]
    np.testing.assert_allclose(hand(values), H, rtol=1e-10, atol=1e-12 * np.abs(H).max())
    t = interleaved_medians({"generated hessian (closed form)": lambda: hessian(*args),
                             "hand-written numpy (closed form)": lambda: hand(values)}, repeats, 0.05)
    num = _numeric_hessian(kernel, [a.copy() if np.ndim(a) else a for a in args], size)
    np.testing.assert_allclose(num, H, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(H).max()))
    t["numeric: differences of generated gradient (2n)"] = median_seconds(
        lambda: _numeric_hessian(kernel, [a.copy() if np.ndim(a) else a for a in args], size), 3 if slow else repeats, 0.0)
    if torch is not None:
        d = {str(k): torch.tensor(val, dtype=torch.float64) for k, val in values.items()}
        d["y"], d["b"], w0 = d["y"][:, 0], d["b"][:, 0], d["x"][:, 0]
        f = _torch_losses(torch)[problem](d)
        th = torch.autograd.functional.hessian(f, w0).numpy()
        np.testing.assert_allclose(th, H, rtol=1e-8, atol=1e-8 * max(1.0, np.abs(H).max()))
        t["torch.autograd.functional.hessian"] = median_seconds(
            lambda: torch.autograd.functional.hessian(f, w0), 3 if slow else repeats, 0.0)
        t["torch.autograd.functional.hessian(vectorize=True)"] = median_seconds(
            lambda: torch.autograd.functional.hessian(f, w0, vectorize=True), 3 if slow else repeats, 0.0)
    print(f"{problem}, n = {size} (N = {2 * size} rows): Hessian")
    base = t["generated hessian (closed form)"]
    for name, sec in t.items():
        _row(name, sec, base)
    hv = {"generated hvp (closed form)": median_seconds(lambda: hvp(*args, v), repeats, 0.05)}
    np.testing.assert_allclose(_numeric_hvp(kernel, args, v), Hv, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(Hv).max()))
    hv["numeric: differences of generated gradient (2)"] = median_seconds(lambda: _numeric_hvp(kernel, args, v), repeats, 0.05)
    if torch is not None:
        tv = torch.tensor(v[:, 0], dtype=torch.float64)
        np.testing.assert_allclose(torch.autograd.functional.hvp(f, w0, tv)[1].numpy(), Hv[:, 0], rtol=1e-8,
                                   atol=1e-8 * max(1.0, np.abs(Hv).max()))
        hv["torch.autograd.functional.hvp"] = median_seconds(lambda: torch.autograd.functional.hvp(f, w0, tv), repeats, 0.05)
    print(f"{problem}, n = {size}: Hessian-vector product")
    base = hv["generated hvp (closed form)"]
    for name, sec in hv.items():
        _row(name, sec, base)
    return t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated subset of the problems")
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
        print("torch is not installed: PyTorch rows are skipped")
    print(f"{'':2}{'route':<52}{'median':>15}{'ratio':>11}")
    summary, hand = [], []
    for size in [int(s) for s in args.sizes.split(",")]:
        for problem in args.problems.split(","):
            t = bench(problem, size, args.repeats, torch)
            hand.append((problem, size, t["generated hessian (closed form)"] / t["hand-written numpy (closed form)"]))
            if torch is not None:
                summary.append((problem, size, t["torch.autograd.functional.hessian"] / t["generated hessian (closed form)"]))
    print("generated Hessian time / hand-written numpy (goal: <= 1.0x)")
    for problem, size, ratio in hand:
        print(f"  {problem:<22} n = {size:<6}{ratio:10.2f}x")
    if summary:
        print("speed-up of the generated Hessian over torch.autograd.functional.hessian (goal at n = 1000: >= 10x)")
        for problem, size, ratio in summary:
            print(f"  {problem:<22} n = {size:<6}{ratio:10.1f}x")


if __name__ == "__main__":
    main()
