"""One full-batch training step of the seed 4-3-1 MLP: generated module vs hand-written numpy
backprop vs sympy.lambdify(cse=True) vs PyTorch eager. Median of repeats; ratios printed.

Then the cost of the documented calls `kernel.loss_and_grad(values)`, `kernel.grad(values)` and
`kernel.predict(values)` (checks, binding, results as floats) over the generated module's own
function on the same inputs, timed in turn in CPU time; the goal is at most 2 µs + 10 %.

    python bench/seed_step.py
"""

import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds, table  # noqa: E402

import symgrad  # noqa: E402
from symgrad import models  # noqa: E402

LR = 0.1


def generated_step(model, X, Y):
    kernel = symgrad.compile(model)
    args = kernel.arguments({**model.initial_values(), **models.data_values(model, X, Y)})
    n_data = len(kernel.inputs)
    data, theta = args[:n_data], list(args[n_data:])
    fn = kernel.module.loss_and_grad

    def step():
        nonlocal theta
        _, grads = fn(*data, *theta)
        theta = [t - LR * g for t, g in zip(theta, grads)]

    return step


def cpu_medians(fns, rounds=41, calls=2000):
    """Median per-call CPU seconds of each of `fns` (name -> callable) over `rounds` samples of `calls`
    calls, the samples taken in turn. The process's CPU time leaves out the time other jobs hold the
    core, which on a loaded machine is many times the few microseconds a wrapper adds."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.process_time()
            for _ in range(calls):
                fn()
            times[name].append((time.process_time() - t) / calls)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def wrapper_overhead(model, X, Y):
    """Median CPU seconds of each documented call (`loss_and_grad`, `grad`, `predict` with `values`)
    and of the module function it calls, all timed in turn."""
    kernel = symgrad.compile(model)
    values = {**model.initial_values(), **models.data_values(model, X, Y)}
    args = kernel.arguments(values)
    want = kernel.module.loss_and_grad(*args)
    got = kernel.loss_and_grad(values)
    assert got[0] == float(want[0]) and got[1] == [float(g) for g in want[1]], "wrapper and module disagree"
    assert kernel.grad(values) == got[1], "grad and loss_and_grad disagree"
    outputs = kernel.module.predict(*args)
    assert all(np.array_equal(a, b) for a, b in zip(kernel.predict(values), outputs, strict=True)), "predict disagrees"
    fn, predict = kernel.module.loss_and_grad, kernel.module.predict
    return cpu_medians({
        "module": lambda: fn(*args), "loss_and_grad": lambda: kernel.loss_and_grad(values),
        "grad": lambda: kernel.grad(values),
        "module predict": lambda: predict(*args), "predict": lambda: kernel.predict(values),
    })


def hand_numpy_step(model, X, Y):
    v = {str(k): val for k, val in model.initial_values().items()}
    Wh = np.array([[v[f"W1_{i}_{j}"] for j in range(3)] for i in range(4)])
    bh = np.array([v[f"b1_{j}"] for j in range(3)])
    Wo = np.array([[v[f"W2_{j}_0"]] for j in range(3)])
    bo = np.array([v["b2_0"]])

    def step():
        nonlocal Wh, bh, Wo, bo
        h = 1 / (1 + np.exp(-(X @ Wh + bh)))
        yp = 1 / (1 + np.exp(-(h @ Wo + bo)))
        d_out = 2 * (yp - Y) * yp * (1 - yp)
        d_hid = (d_out @ Wo.T) * h * (1 - h)
        Wh = Wh - LR * (X.T @ d_hid)
        bh = bh - LR * d_hid.sum(0)
        Wo = Wo - LR * (h.T @ d_out)
        bo = bo - LR * d_out.sum(0)

    return step


def lambdify_step(model, X, Y):
    # lambdify knows only sympy's functions: write sigmoid out as 1/(1+exp(-z))
    grads = [sp.diff(model.loss, p).replace(symgrad.sigmoid, lambda a: 1 / (1 + sp.exp(-a))) for p in model.params]
    fn = sp.lambdify([*model.data, *model.params], grads, modules="numpy", cse=True)
    data = [X[:, i] for i in range(4)] + [Y[:, 0]]
    theta = [model.initial_values()[p] for p in model.params]

    def step():
        nonlocal theta
        g = fn(*data, *theta)
        theta = [t - LR * np.sum(gi) for t, gi in zip(theta, g)]

    return step


def torch_step(model, X, Y):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    v = {str(k): val for k, val in model.initial_values().items()}
    Wh = torch.tensor([[v[f"W1_{i}_{j}"] for j in range(3)] for i in range(4)], dtype=torch.float64, requires_grad=True)
    bh = torch.tensor([v[f"b1_{j}"] for j in range(3)], dtype=torch.float64, requires_grad=True)
    Wo = torch.tensor([[v[f"W2_{j}_0"]] for j in range(3)], dtype=torch.float64, requires_grad=True)
    bo = torch.tensor([v["b2_0"]], dtype=torch.float64, requires_grad=True)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    params = [Wh, bh, Wo, bo]

    def step():
        yp = torch.sigmoid(torch.sigmoid(Xt @ Wh + bh) @ Wo + bo)
        loss = ((yp - Yt) ** 2).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= LR * g

    return step


def main():
    model = models.seed()
    X, Y = models.SEED_X, models.SEED_Y
    rows = {
        "symgrad generated module": median_seconds(generated_step(model, X, Y)),
        "hand-written numpy backprop": median_seconds(hand_numpy_step(model, X, Y)),
        "sympy.lambdify(cse=True)": median_seconds(lambdify_step(model, X, Y)),
    }
    torch = torch_step(model, X, Y)
    rows["PyTorch eager (CPU, 1 thread)"] = median_seconds(torch) if torch else None
    print("seed 4-3-1 MLP, N = 3 samples, one full-batch gradient-descent step (median of 7)")
    table(rows, "hand-written numpy backprop")
    gen = rows["symgrad generated module"]
    if rows["PyTorch eager (CPU, 1 thread)"]:
        print(f"\ngenerated is {rows['PyTorch eager (CPU, 1 thread)'] / gen:.1f}x faster than PyTorch eager")
    t = wrapper_overhead(model, X, Y)
    print("\nthe documented calls against the module functions they wrap (median CPU time of 41 samples taken in turn)")
    for call, module, function in (("loss_and_grad", "module", "loss_and_grad"), ("grad", "module", "loss_and_grad"),
                                   ("predict", "module predict", "predict")):
        extra, goal = t[call] - t[module], 2e-6 + 0.1 * t[module]
        print(f"kernel.{call}(values) {t[call] * 1e6:.1f} us vs kernel.module.{function}(*args) "
              f"{t[module] * 1e6:.1f} us: the documented call adds {extra * 1e6:.1f} us "
              f"(goal <= 2 us + 10 % = {goal * 1e6:.1f} us: {'met' if extra <= goal else 'NOT met'})")

if __name__ == "__main__":
    main()
