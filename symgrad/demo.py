"""`symgrad demo`: the seed 4-3-1 MLP end to end (derive, check, generate, train, plot)."""

import numbers
from pathlib import Path

import numpy as np
import sympy as sp

from . import models
from .check import check
from .compiler import compile
from .errors import InvalidArgumentError
from .generate import write_atomic
from .gradient import grad
from .train import gradient_descent


def run(out_dir, epochs=2000, lr=0.1):
    """Print every step and write the module and loss plot to `out_dir`; arguments are checked first."""
    out_dir = Path(out_dir)
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1 or not lr > 0:
        raise InvalidArgumentError(f"demo needs epochs ≥ 1 (an integer) and lr > 0, got epochs={epochs!r}, lr={lr!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidArgumentError(f"demo output {str(out_dir)!r} exists and is not a folder; give a folder")
    model = models.seed()
    values = models.example_values(model)
    data = models.data_values(model, models.SEED_X, models.SEED_Y)

    print("== the seed 4-3-1 sigmoid MLP, E = sum over samples of (yp - yt)^2 ==")
    names = _layer_names(model)
    for node, name in names.items():
        print(f"{name} = {node.xreplace({k: v for k, v in names.items() if k != node})}")
    shown = [p for p in model.params if str(p) in ("W2_0_0", "b2_0", "W1_0_0", "b1_0")]
    print("\nthe gradient by the chain rule (sympy.diff), with the layer outputs named:")
    for p, g in zip(shown, grad(model.loss, shown, method="diff", simplify=True)):
        print(f"  dE/d{p} = {sp.factor_terms(g.xreplace(names))}")
    print()

    print("== symbolic vs autodiff vs finite differences ==")
    report = check(model.loss, model.params, values)
    print(report, "\n")

    kernel = compile(model)
    path = write_atomic(out_dir / "seed_kernel.py", kernel.source)
    print(f"== generated numpy module: {path} ({len(kernel.source.splitlines())} lines) ==\n")

    print(f"== gradient descent, lr {lr}, {epochs} epochs ==")
    curves = {}
    for label, batch_size in (("batch size N", None), ("batch size 1", 1)):
        params, losses = gradient_descent(kernel, model.initial_values(), data, lr, epochs, batch_size, progress=True)
        curves[label] = losses
        preds = kernel.predict({**data, **params})[0]
        print(f"{label}: final loss {losses[-1]:.6g}; predictions {np.round(preds, 4).tolist()} "
              f"for targets {models.SEED_Y[:, 0].tolist()}")

    png = out_dir / "loss_curve.png"
    _plot(curves, png)
    print(f"\nloss curve: {png}")
    return report.ok


def _layer_names(model):
    """Name the hidden activations h0, h1, ... and the output yp, for printing."""
    from .dag import topological
    from .functions import sigmoid

    hidden = [n for n in topological(model.outputs) if isinstance(n, sigmoid) and n not in model.outputs]
    names = {n: sp.Symbol(f"h{j}") for j, n in enumerate(hidden)}
    names[model.outputs[0]] = sp.Symbol("yp")
    return names


def _plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, losses in curves.items():
        ax.semilogy(np.arange(1, len(losses) + 1), losses, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("E (sum of squared errors)")
    ax.set_title("seed 4-3-1 MLP trained with the generated kernel")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
