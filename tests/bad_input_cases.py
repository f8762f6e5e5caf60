"""The bad-input table: every case, the exception class, and the exact message a user sees.

`docs/errors.md` is generated from this file (`PYTHONPATH=. python tests/bad_input_cases.py`),
and `tests/test_errors.py` fails when the document is stale or a case stops raising what it says.
"""

from pathlib import Path

import numpy as np
import sympy as sp

import symgrad
from symgrad import autodiff

x, y, w, b, z = sp.symbols("x y w b z", real=True)
LOSS = (symgrad.sigmoid(w * x + b) - y) ** 2
GOOD = {x: np.array([0.5, -1.0, 2.0]), y: np.array([1.0, 0.0, 1.0]), w: 0.3, b: 0.1}
DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def kernel(loss=LOSS, **kw):
    return symgrad.compile(loss, wrt=[w, b], inputs=[x, y], cache=False, **kw)


def bad(changes):
    return {**GOOD, **changes}


def _without_y():
    values = dict(GOOD)
    del values[y]
    return values


def _dask(values, chunks=2, **rechunk):
    """GOOD with its data as dask arrays (chunked by `chunks`; `rechunk` gives some other chunks)."""
    import dask.array as da

    out = {k: da.from_array(v, chunks=chunks) if np.ndim(v) else v for k, v in values.items()}
    return {**out, **{sp.Symbol(k, real=True): out[sp.Symbol(k, real=True)].rechunk(c) for k, c in rechunk.items()}}


def _unknown_chunks():
    values = _dask(GOOD)
    keep = values[x] > -10  # boolean indexing: dask no longer knows the lengths
    return {k: v[keep] if np.ndim(v) else v for k, v in values.items()}


def _matrix_kernel(**kw):
    from symgrad import nn

    return symgrad.compile(nn.matrix_mlp([2, 2], **kw), cache=False)


def _feature_chunks():
    import dask.array as da

    model = symgrad.nn.matrix_mlp([2, 2], mean=False)
    values = {model.inputs[0]: da.ones((4, 2), chunks=(2, 1)), model.targets[0]: da.ones((4, 2), chunks=(2, 2))}
    return _matrix_kernel(mean=False).loss({**values, **model.initial_values()})


def _batch_mean():
    import dask.array as da

    model = symgrad.nn.matrix_mlp([2, 2])
    values = {model.inputs[0]: da.ones((4, 2), chunks=(2, 2)), model.targets[0]: da.ones((4, 2), chunks=(2, 2))}
    return _matrix_kernel().loss({**values, **model.initial_values()})


def _worker_without_numpy():
    from symgrad import remote

    source = kernel().source.replace("import numpy as np", "import numpy_missing as np")
    return remote.KernelSpec(False, "kernel", source, remote.digest(source), None, (w, b), (x, y), "float64").kernel()


# (case, code that triggers it, exception class it must raise)
CASES = [
    ("unsupported function for a target", lambda: kernel(sp.erf(w * x) + b * y), symgrad.UnsupportedError),
    ("unknown target", lambda: symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y], target="fortran"), symgrad.UnsupportedError),
    ("unbound symbol in the model", lambda: kernel(LOSS + z), symgrad.UnboundSymbolError),
    ("unbound symbol in the values", lambda: kernel().loss(_without_y()), symgrad.UnboundSymbolError),
    ("unbound symbol (autodiff)", lambda: autodiff.grad(LOSS, [w], {w: 1.0}), symgrad.UnboundSymbolError),
    ("data arrays of different lengths", lambda: kernel().grad(bad({y: np.ones(2)})), symgrad.ShapeError),
    ("data with more than one axis", lambda: kernel().grad(bad({x: np.ones((3, 2)), y: np.ones((3, 2))})), symgrad.ShapeError),
    ("parameter given as an array", lambda: kernel().grad(bad({w: np.ones(3)})), symgrad.ShapeError),
    ("empty batch", lambda: kernel().grad(bad({x: np.array([]), y: np.array([])})), symgrad.ShapeError),
    ("NaN in data (nonfinite='raise', the default)", lambda: kernel().grad(bad({x: np.array([0.5, np.nan, 2.0])})), symgrad.NonFiniteError),
    ("Inf in a parameter", lambda: kernel().grad(bad({w: np.inf})), symgrad.NonFiniteError),
    ("NaN or Inf computed from finite data", lambda: kernel(sp.log(w * x) + b * y).grad(bad({x: np.array([0.0, 1.0, 2.0])})), symgrad.NonFiniteError),
    ("unknown nonfinite policy", lambda: kernel().grad(GOOD, nonfinite="ignore"), symgrad.InvalidArgumentError),
    ("complex data", lambda: kernel().grad(bad({x: np.array([1j, 0, 1])})), symgrad.DTypeError),
    ("complex parameter", lambda: kernel().grad(bad({w: 1 + 2j})), symgrad.DTypeError),
    ("complex constant in the model (autodiff)", lambda: autodiff.grad(LOSS + sp.I * w, [w], GOOD), symgrad.DTypeError),
    ("strings as data", lambda: kernel().grad(bad({x: np.array(["a", "b", "c"])})), symgrad.DTypeError),
    ("objects as data", lambda: kernel().grad(bad({x: np.array([None, 1, 2], dtype=object)})), symgrad.DTypeError),
    ("unsupported kernel dtype", lambda: kernel(dtype="float16"), symgrad.InvalidArgumentError),
    ("wrt entry that is not a symbol", lambda: symgrad.grad(LOSS, [w * 2]), symgrad.InvalidArgumentError),
    ("symbol both parameter and input", lambda: symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y, w]), symgrad.InvalidArgumentError),
    ("expression over the size limit", lambda: kernel(max_ops=10), symgrad.SizeLimitError),
    ("unknown rewrite rule", lambda: kernel(rewrites=["log_of_everything"]), symgrad.InvalidArgumentError),
    ("not an expression", lambda: symgrad.grad("x +", [w]), symgrad.InvalidArgumentError),
    ("dask data chunked differently", lambda: kernel().loss(_dask(GOOD, y=1)), symgrad.ShapeError),
    ("dask data with unknown chunk sizes", lambda: kernel().loss(_unknown_chunks()), symgrad.ShapeError),
    ("numpy and dask data mixed", lambda: kernel().loss({**_dask(GOOD), y: GOOD[y]}), symgrad.InvalidArgumentError),
    ("dask matrix chunked across its feature axis", _feature_chunks, symgrad.ShapeError),
    ("mean over the batch on dask data", _batch_mean, symgrad.UnsupportedError),
    ("Dask worker that cannot load the kernel", _worker_without_numpy, symgrad.WorkerError),
]

# non-differentiable points: (expression, the point, what every path gives there, why)
r, s = sp.symbols("r s", real=True)
KINKS = [
    ("Abs(r)", sp.Abs(r), {r: 0.0}, "sign(0) = 0"),
    ("relu(r)", symgrad.relu(r), {r: 0.0}, "Heaviside(r, 0): 0 at 0"),
    ("r*Heaviside(r)", r * sp.Heaviside(r), {r: 0.0}, "a step is flat: its Dirac delta is dropped; Heaviside(0) = 1/2"),
    ("sign(r)*r", sp.sign(r) * r, {r: 0.0}, "sign is flat: d sign = 0"),
    ("Max(r, 1 - r)", sp.Max(r, 1 - r), {r: 0.5}, "the first argument attaining the maximum (sympy's order) gets it all"),
    ("Max(r, 0.5)", sp.Max(r, sp.Rational(1, 2)), {r: 0.5}, "the constant comes first in sympy's order: 0"),
    ("Min(r, 1 - r)", sp.Min(r, 1 - r), {r: 0.5}, "the first argument attaining the minimum gets it all"),
    ("Piecewise((r, r < 1), (3*r, True))", sp.Piecewise((r, r < 1), (3 * r, True)), {r: 1.0},
     "the first branch whose condition holds (here the second)"),
    ("Piecewise((r, r <= 1), (3*r, True))", sp.Piecewise((r, r <= 1), (3 * r, True)), {r: 1.0},
     "the first branch whose condition holds (here the first)"),
]


def kink_values(expr, point):
    """d expr/d r at `point` from symbolic reverse mode, autodiff and a generated kernel."""
    (sym,) = symgrad.grad(expr, [r])
    sym_value = float(sym.subs(point))
    (ad,) = autodiff.grad(expr, [r], point)
    k = symgrad.compile(expr + 0 * s, wrt=[r], inputs=[s], cache=False)
    (kern,) = k.grad({**point, s: [0.0]})
    (kern_vec,) = k.grad({**point, s: [0.0] * 20})
    return {"symbolic": sym_value, "autodiff": float(ad), "kernel (loop)": kern, "kernel (numpy)": kern_vec / 20}


def message(trigger, expected):
    try:
        trigger()
    except expected as exc:
        return str(exc)
    raise AssertionError(f"{trigger} did not raise {expected.__name__}")


def render():
    lines = [
        "# Errors and edge cases",
        "",
        "Generated by `PYTHONPATH=. python tests/bad_input_cases.py` from the cases that",
        "`tests/test_errors.py` runs; do not edit by hand. Every error is a subclass of",
        "`symgrad.SymgradError` (and of the matching builtin: `ValueError`, `KeyError`, `TypeError`,",
        "`FloatingPointError`, `NotImplementedError`), so `except symgrad.SymgradError` catches them all.",
        "",
        "| case | exception | message |",
        "|---|---|---|",
    ]
    for case, trigger, expected in CASES:
        text = message(trigger, expected).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {case} | `{expected.__name__}` | {text} |")
    lines += [
        "",
        "## NaN and Inf",
        "",
        "Every numeric entry point takes `nonfinite=\"raise\"` (default) or `\"propagate\"`. With",
        "`\"raise\"`, NaN or Inf in the data is refused, and a kernel also refuses to hand back a NaN",
        "or Inf loss, gradient or output computed from finite data. With `\"propagate\"` the data is",
        "used as given and IEEE results come back (the per-sample loop and the vectorized path agree:",
        "where Python's `math` would raise, the kernel redoes the batch with numpy).",
        "",
        "## Non-differentiable points (the subgradient convention)",
        "",
        "Symbolic reverse mode (`symgrad.grad`, the default), numeric autodiff and generated kernels",
        "use the same convention; `tests/test_errors.py` checks that all of them give these values.",
        "`method=\"diff\"` keeps sympy's own derivatives except that Dirac deltas are dropped.",
        "",
        "| expression | at | d/dr (every path) | convention |",
        "|---|---|---|---|",
    ]
    for label, expr, point, why in KINKS:
        vals = kink_values(expr, point)
        (v,) = set(vals.values()) if len(set(vals.values())) == 1 else (vals,)
        at = ", ".join(f"{k} = {val}" for k, val in point.items())
        lines.append(f"| `{label}` | {at} | {v} | {why} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    DOC.write_text(render())
    print(DOC)
