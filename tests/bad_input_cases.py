"""The bad-input table: every case, the exception class, and the exact message a user sees.

`docs/errors.md` is generated from this file (`PYTHONPATH=. python tests/bad_input_cases.py`),
and `tests/test_errors.py` fails when the document is stale or a case stops raising what it says.
"""

from pathlib import Path

import numpy as np
import sympy as sp

import symgrad
from symgrad import autodiff, cli
from symgrad import demo as symgrad_demo
from symgrad.comparison import compare
from symgrad.matrix import SumAll, logdet
from symgrad.nn import Model

x, y, w, b, z = sp.symbols("x y w b z", real=True)
LOSS = (symgrad.sigmoid(w * x + b) - y) ** 2
GOOD = {x: np.array([0.5, -1.0, 2.0]), y: np.array([1.0, 0.0, 1.0]), w: 0.3, b: 0.1}
A = sp.MatrixSymbol("A", 2, 2)
r, s = sp.symbols("r s", real=True)
DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def kernel(loss=LOSS, **kw):
    return symgrad.compile(loss, wrt=[w, b], inputs=[x, y], cache=False, **kw)


def bad(changes):
    return {**GOOD, **changes}


def _without_y():
    values = dict(GOOD)
    del values[y]
    return values


def _user_function(name):
    """A user's own sympy Function class (a leaky ReLU, say) that happens to share a name with ours."""
    def fdiff(self, argindex=1):
        return sp.Piecewise((1, self.args[0] > 0), (sp.Rational(1, 10), True))

    return type(name, (sp.Function,), {"nargs": 1, "fdiff": fdiff, "__module__": "users_model"})


X_MAT, W_MAT = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("W", 2, 1)
_MATRIX_NEGATIVE = {X_MAT: -np.ones((3, 2)), W_MAT: np.ones((2, 1))}


def _matrix_log_kernel():
    loss = SumAll((X_MAT * W_MAT).applyfunc(sp.log))
    return symgrad.compile(loss, wrt=[W_MAT], inputs=[X_MAT], cache=False)


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


def _squared_batch_mean():
    import dask.array as da

    from symgrad.model import Model

    mean = symgrad.nn.matrix_mlp([2, 2])
    model = Model("squared_mean", mean.loss**2, mean.params, mean.inputs, mean.targets, mean.outputs, mean.init)
    values = {model.inputs[0]: da.ones((4, 2), chunks=(2, 2)), model.targets[0]: da.ones((4, 2), chunks=(2, 2))}
    return symgrad.compile(model, cache=False).loss({**values, **model.initial_values()})


def _worker_without_numpy():
    from symgrad import remote

    source = kernel().source.replace("import numpy as np", "import numpy_missing as np")
    return remote.KernelSpec("kernel", source, remote.digest(source), None, (w, b), (x, y), "float64").kernel()


# (case, code that triggers it, exception class it must raise)
CASES = [
    ("unsupported function for a target", lambda: kernel(sp.gamma(w * x) + b * y), symgrad.UnsupportedError),
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
    ("matrix model over the size limit", lambda: symgrad.compile(symgrad.nn.matrix_mlp([2, 2]), max_ops=10, cache=False),
     symgrad.SizeLimitError),
    ("method with no matrix form", lambda: symgrad.compile(symgrad.nn.matrix_mlp([2, 2]), method="diff", cache=False),
     symgrad.UnsupportedError),
    ("not an expression", lambda: symgrad.grad("x +", [w]), symgrad.InvalidArgumentError),
    ("predict on a kernel compiled without outputs", lambda: kernel().predict(GOOD), symgrad.InvalidArgumentError),
    ("hand-built Model without init, asked for initial values",
     lambda: Model("mine", LOSS, (w, b), (x,), (y,), ()).initial_values(), symgrad.InvalidArgumentError),
    ("unknown loss name", lambda: symgrad.nn.mlp([2, 1], loss="hinge"), symgrad.InvalidArgumentError),
    ("demo with fewer than one epoch", lambda: symgrad_demo.run("never-written", epochs=0), symgrad.InvalidArgumentError),
    ("compare with a width that is not a positive integer", lambda: compare("seed", widths=[3, "x"]),
     symgrad.InvalidArgumentError),
    ("matrix inverse in a CUDA kernel", lambda: symgrad.compile(SumAll(sp.Inverse(A)), wrt=[A], target="cuda", cache=False),
     symgrad.UnsupportedError),
    ("log-determinant of a non-square matrix", lambda: logdet(sp.MatrixSymbol("R", 2, 3)), symgrad.ShapeError),
    ("symbolic index into a matrix", lambda: symgrad.grad(A[sp.Symbol("i", integer=True), 0] ** 2, [A]), symgrad.UnsupportedError),
    ("symbolic matrix power", lambda: symgrad.grad(SumAll(sp.MatPow(A, w)), [w]), symgrad.UnsupportedError),
    ("explicit matrix over the size limit", lambda: symgrad.grad(SumAll(sp.Matrix(20, 20, lambda i, j: w * (i + j))), [w]),
     symgrad.UnsupportedError),
    ("a function matrix closing over a parameter",
     lambda: symgrad.grad(SumAll(sp.FunctionMatrix(2, 2, sp.Lambda((r, s), w * r)) * A), [w]), symgrad.UnsupportedError),
    ("gradient check where the loss is undefined (Piecewise with no branch holding)",
     lambda: symgrad.check(sp.Piecewise((w * x, x > 0)), [w], GOOD), symgrad.NonFiniteError),
    ("predict without an input the outputs read", lambda: kernel(outputs=[w * x + b]).predict({w: 0.3, b: 0.1, y: GOOD[y]}),
     symgrad.UnboundSymbolError),
    ("complex constant in the model (kernel)", lambda: kernel(LOSS + sp.I * w), symgrad.DTypeError),
    ("infinite constant in the model", lambda: kernel(LOSS + sp.oo * x).loss(GOOD), symgrad.NonFiniteError),
    ("division by a parameter that is 0", lambda: kernel(x / w + b * y).grad(bad({w: 0.0})), symgrad.NonFiniteError),
    ("NaN computed by a matrix kernel", lambda: _matrix_log_kernel().loss_and_grad(_MATRIX_NEGATIVE), symgrad.NonFiniteError),
    ("a user's Function named like one of symgrad's", lambda: kernel(_user_function("relu")(w * x) + b * y), symgrad.UnsupportedError),
    ("dask data chunked differently", lambda: kernel().loss(_dask(GOOD, y=1)), symgrad.ShapeError),
    ("dask data with unknown chunk sizes", lambda: kernel().loss(_unknown_chunks()), symgrad.ShapeError),
    ("numpy and dask data mixed", lambda: kernel().loss({**_dask(GOOD), y: GOOD[y]}), symgrad.InvalidArgumentError),
    ("dask matrix chunked across its feature axis", _feature_chunks, symgrad.ShapeError),
    ("a squared batch mean on dask data", _squared_batch_mean, symgrad.UnsupportedError),
    ("Dask worker that cannot load the kernel", _worker_without_numpy, symgrad.WorkerError),
]

# compiles, but warns: (case, code that triggers it, warning class it must issue)
WARNING_CASES = [
    ("softmax cross-entropy over one output (scalar level: the loss folds to 0)",
     lambda: symgrad.compile(symgrad.nn.mlp([2, 3, 1], output_activation="identity", loss="softmax_cross_entropy"),
                             cache=False), symgrad.ConstantLossWarning),
    ("softmax cross-entropy over one output (matrix level)",
     lambda: symgrad.compile(symgrad.nn.matrix_mlp([2, 3, 1]), cache=False), symgrad.ConstantLossWarning),
    ("a loss that reads no parameter", lambda: kernel((x - y) ** 2), symgrad.ConstantLossWarning),
]


def warning_message(trigger, expected):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trigger()
    found = [str(c.message) for c in caught if issubclass(c.category, expected)]
    if len(found) != 1:
        raise AssertionError(f"{trigger} issued {len(found)} {expected.__name__}s, not one")
    return found[0]


# command lines refused while parsing, before any work starts: exit status 2, one line on stderr
CLI_CASES = [
    ["demo", "--epochs", "0"],
    ["demo", "-o", "/dev/null"],
    ["generate", "seed", "-o", "/dev/null"],
    ["generate", "seed", "-o", "/dev/null/sub"],
    ["compare", "seed", "--widths", "3,x"],
    ["compare", "seed", "--batch", "-4"],
    ["compare", "seed", "--repeats", "many"],
    ["derive", "seed", "-o", "/"],
]


def cli_message(argv):
    """(exit status, the last stderr line) of `symgrad ARGV` refused by the parser."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            cli.build_parser().parse_args(argv)
        except SystemExit as exc:
            return exc.code, err.getvalue().strip().splitlines()[-1]
    raise AssertionError(f"symgrad {' '.join(argv)} was accepted")

# non-differentiable points: (expression, the point, what every path gives there, why)
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
        "## Warnings",
        "",
        "Models that compile but cannot learn issue a `symgrad.SymgradWarning` subclass (a `UserWarning`).",
        "",
        "| case | warning | message |",
        "|---|---|---|",
    ]
    for case, trigger, expected in WARNING_CASES:
        text = warning_message(trigger, expected).replace("|", "\\|")
        lines.append(f"| {case} | `{expected.__name__}` | {text} |")
    lines += [
        "",
        "## Command line",
        "",
        "`symgrad` checks its arguments while parsing, before any work starts; a bad one is a usage",
        "error: one line on stderr, exit status 2, no traceback (as is any `SymgradError` a command raises).",
        "",
        "| command | message |",
        "|---|---|",
    ]
    for argv in CLI_CASES:
        status, text = cli_message(argv)
        assert status == 2, (argv, status)
        lines.append(f"| `symgrad {' '.join(argv)}` | {text.replace('|', chr(92) + '|')} |")
    lines += [
        "",
        "## NaN and Inf",
        "",
        "Every numeric entry point takes `nonfinite=\"raise\"` (default) or `\"propagate\"`. With",
        "`\"raise\"`, NaN or Inf in the data is refused, and a kernel (scalar, matrix, Hessian or CUDA)",
        "also refuses to hand back a NaN or Inf loss, gradient or output computed from finite data. With",
        "`\"propagate\"` the data is used as given and IEEE results come back (the per-sample loop and",
        "the vectorized path agree: where Python's `math` would raise, the kernel redoes the batch with",
        "numpy, and parameters are numpy scalars there, so 1/0 is inf, never a ZeroDivisionError).",
        "`oo` and `nan` in a model are IEEE constants; a non-real constant (`I`, `zoo`) is refused at",
        "compile time.",
        "",
        "Where the function is undefined over the reals the numbers say so: a `Piecewise` without a",
        "default branch is NaN where no condition holds (as sympy's `nan`), d(b**w)/dw is NaN for a",
        "negative base (and 0 at b = 0, as torch), autodiff's derivative of a NaN value is NaN (d log x",
        "at x = -1 is not 1/x), and `symgrad.check` refuses a point where the loss is not finite",
        "(`NonFiniteError`, above). `tests/test_undefined_points.py` checks every path against sympy's",
        "exact value there.",
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
