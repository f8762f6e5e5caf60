"""Every primitive record × every path, exercised: works, or the record declares the gap.

For each scalar record (`primitives.RECORDS`, a user's `symgrad.register`ed ones included) this
builds the record's sample expression over points inside its `domain` and runs each path of
`primitives.PATHS` for real: the symbolic partials and the numeric VJP against central differences
and each other; the Hessian on dual numbers against reverse-over-reverse and differences; numpy and torch evaluation against mpmath (and torch's autograd against
differences); the mpmath value against sympy's own evalf; the numpy, per-sample loop and CUDA
printers' output run (a numpy module, Python floats, the CUDA host emulation) against mpmath;
`symgrad.compile` on both batch paths against numeric autodiff; the record's `symgrad.tf` ops
traced to the record and evaluated against it (and against TensorFlow where installed).

A path is "ok", a declared "gap" (the record's `gaps` reason, or a path it needs being one),
"skip" (a tool this machine lacks), or "FAIL": a missing rule nobody declared, a wrong number, an
error, or a declared gap on a path that works (a stale declaration). `symgrad coverage` prints the
declared table README holds; `symgrad coverage --run` what the checks found.
"""

import functools
import math
import warnings
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from . import autodiff, numeric
from .compiler import compile as compile_kernel
from .gradient import grad
from .primitives import PATHS, RECORDS, MatrixPrimitive, NumpyBackend, Primitive
from .registry import OWN_PACKAGES
from .second_order import hessian
from .targets.cuda.printer import CudaExprPrinter
from .targets.cuda.scalar import render_expression_kernels
from .targets.python_printers import MathExprPrinter, NumpyExprPrinter

FRACTIONS = (0.08, 0.23, 0.41, 0.57, 0.74, 0.93)  # where in the domain the sample points lie (none mid-way: 0)
SHIFT = 0.006  # of the third argument's points and on (a Max of three has no ties either)
REL, ABS = 1e-12, 1e-14  # a value against the mpmath reference
FD_REL, FD_ABS = 1e-6, 1e-8  # a derivative against central differences
DERIV_REL, DERIV_ABS = 1e-10, 1e-12  # two derivations (or a kernel and autodiff) against each other
DIGITS = 30
TF_REL = 1e-7  # TensorFlow against the record
REPEAT = 4  # the compiled kernel also runs on the points repeated, past the per-sample loop's limit
NEEDS = {"torch_eval": ("numpy_eval",), "hessian": ("symbolic", "vjp"), "compile": ("numpy", "loop")}  # a gap there is one here


MATRIX_NODES = (sp.MatrixExpr, sp.Determinant, sp.Trace)


class Missing(Exception):
    """The record has no rule for the path."""


class Unavailable(Exception):
    """A tool the check needs is not installed here (torch, a C++ compiler)."""


@dataclass(frozen=True)
class Result:
    record: str
    path: str
    status: str  # "ok", "gap", "skip" or "FAIL"
    detail: str = ""


def matrix_level(record):
    """Whether a record is of a matrix node (a matrix value, or a scalar of matrix arguments such as
    a determinant): its arguments are no scalar sample points, its paths are the matrix level's."""
    cls = getattr(record, "function", None)
    return not isinstance(record, Primitive) or isinstance(record, MatrixPrimitive) or not isinstance(cls, type) or issubclass(cls, MATRIX_NODES) \
        or cls.__module__.startswith(("symgrad.matrix", "sympy.matrices"))


def scalar_records(own=False):
    """The records of scalar operations, in registration order (matrix nodes have their own rules);
    `own`: only sympy's and symgrad's (README's table), not the ones users registered."""
    return [r for r in RECORDS.values() if not matrix_level(r) and (not own or _own(r))]


def _own(record):
    return getattr(getattr(record, "function", None), "__module__", "").split(".")[0] in OWN_PACKAGES


def other_records(own=False):
    """Records the scalar table leaves out (matrix-level nodes), by name; `own` as `scalar_records`."""
    return sorted(getattr(r, "name", str(r)) for r in RECORDS.values() if matrix_level(r) and (not own or _own(r)))


def arity(record):
    """How many arguments the sample expression takes."""
    if record.sample is not None:
        return record.sample.__code__.co_argcount
    nargs = getattr(record.function, "nargs", None)
    if isinstance(nargs, sp.FiniteSet):
        return int(min(nargs))
    return 2  # variadic (Add, Max, logsumexp): two arguments


class Case:
    """A record's sample expression, its symbols, points inside its domain and reference values."""

    def __init__(self, record):
        self.record = record
        n = arity(record)
        self.symbols = sp.symbols(f"x0:{n}", real=True)
        self.expr = record.sample(*self.symbols) if record.sample else record.function(*self.symbols)
        domains = record.domain if isinstance(record.domain[0], tuple) else (record.domain,) * n
        self.points = []
        for i, (lo, hi) in enumerate(domains):  # every other argument's reversed, later ones shifted: no ties
            fractions = [f + SHIFT * (i // 2) for f in (FRACTIONS[::-1] if i % 2 else FRACTIONS)]
            self.points.append(np.array([lo + (hi - lo) * f for f in fractions]))
        self.values = dict(zip(self.symbols, self.points, strict=True))
        # arguments the function fills in itself (elu's alpha = 1) follow the sampled ones
        filled = self.expr.args[n:] if self.expr.func is record.function else ()
        self.constants = tuple(float(c) for c in filled)
        self._reference = None

    def reference(self):
        """The sample expression at `DIGITS` digits (lambdify over mpmath and the records' mpmath
        values), or numpy evaluation where some function in it has no mpmath value."""
        if self._reference is None:
            table = {r.name: r.mpmath for r in RECORDS.values() if getattr(r, "mpmath", None) is not None}
            try:
                fn = sp.lambdify(self.symbols, self.expr, modules=[table, "mpmath"])
                with mpmath.workdps(DIGITS):
                    self._reference = np.array([float(fn(*map(mpmath.mpf, p))) for p in zip(*self.points, strict=True)])
            except Exception:  # noqa: BLE001 - a function lambdify cannot send to mpmath
                self._reference = np.asarray(numeric.evaluate([self.expr], self.values)[0], dtype=float)
        return self._reference

    def evaluate(self, backend=None):
        return numeric.evaluate([self.expr], self.values, backend)[0]

    def differences(self, f=None):
        """∂(sample)/∂x_i per point by central differences of `f` (numpy evaluation by default)."""
        f = f or (lambda values: np.asarray(numeric.evaluate([self.expr], values)[0], dtype=float))
        out = []
        for s, x in self.values.items():
            h = 1e-6 * np.maximum(1.0, np.abs(x))
            plus, minus = dict(self.values), dict(self.values)
            plus[s], minus[s] = x + h, x - h
            out.append((f(plus) - f(minus)) / (2 * h))
        return out


def close(got, want, rel, abs_, what):
    got, want = np.broadcast_arrays(np.asarray(got, dtype=float), np.asarray(want, dtype=float))  # a constant partial is one number
    same = np.isclose(got, want, rtol=rel, atol=abs_) | (np.isnan(got) & np.isnan(want))
    if not np.all(same):
        i = int(np.argmin(same))
        raise AssertionError(f"{what}: {got.ravel()[i]!r} where {want.ravel()[i]!r} is right")


def _need(value, what):
    if value is None:
        raise Missing(f"the record has no {what}")


# -- the paths ------------------------------------------------------------------------------------
def check_symbolic(case):
    _need(case.record.partials, "partials")
    partials = grad(case.expr, list(case.symbols))
    got = numeric.evaluate(list(partials), case.values)
    for i, (g, d) in enumerate(zip(got, case.differences(), strict=True)):
        close(g, d, FD_REL, FD_ABS, f"symbolic ∂/∂x{i} against central differences")


def check_vjp(case):
    _need(case.record.vjp, "vjp")
    got = autodiff.grad(case.expr, list(case.symbols), case.values)
    differences = case.differences()
    symbolic = numeric.evaluate(list(grad(case.expr, list(case.symbols))), case.values) if case.record.partials else None
    for i, g in enumerate(got):
        close(g, differences[i], FD_REL, FD_ABS, f"VJP ∂/∂x{i} against central differences")
        if symbolic is not None:
            close(g, symbolic[i], DERIV_REL, DERIV_ABS, f"VJP ∂/∂x{i} against the symbolic partial")


def shifted(case):
    """(Σ sample(x + w), the w symbols, values at w = 0): parameters moving every argument, the points as data."""
    ws = sp.symbols(f"w0:{len(case.symbols)}", real=True)
    loss = case.expr.xreplace({s: s + w for s, w in zip(case.symbols, ws, strict=True)})
    return loss, list(ws), dict(case.values) | dict.fromkeys(ws, 0.0)


def check_hessian(case):
    """The Hessian of Σ sample(x + w) in w: forward-over-reverse on dual numbers (the VJPs) against
    reverse-over-reverse (the partials, `symgrad.hessian`) and central differences of the gradient."""
    loss, ws, values = shifted(case)
    dual = autodiff.hessian(loss, ws, values)
    n = len(case.points[0])  # an entry that is a constant is that constant for each sample
    symbolic = np.array([[np.sum(np.broadcast_to(v, n)) for v in numeric.evaluate(row, values)] for row in hessian(loss, ws)])
    for j, w in enumerate(ws):
        def gradient(delta, w=w):
            return np.array(autodiff.grad(loss, ws, values | {w: delta}), dtype=float)
        column = (gradient(1e-6) - gradient(-1e-6)) / 2e-6
        close(dual[:, j], column, FD_REL, FD_ABS * n, f"the Hessian's column {j} against differences")
    close(dual, symbolic, DERIV_REL, DERIV_ABS, "the dual-number Hessian against the symbolic one")


def check_numpy_eval(case):
    _need(case.record.evaluate, "evaluate")
    close(case.evaluate(), case.reference(), REL, ABS, "numpy evaluation against mpmath")


def check_torch_eval(case):
    if case.record.evaluate is None and case.record.torch is None:
        raise Missing("the record has no evaluate (nor torch)")
    try:
        import torch
    except ImportError:
        raise Unavailable("torch is not installed") from None
    backend = numeric.TorchBackend()
    tensors = {s: torch.tensor(p, dtype=torch.float64, requires_grad=True) for s, p in case.values.items()}
    value = numeric.evaluate([case.expr], tensors, backend)[0]
    close(value.detach().numpy(), case.reference(), REL, ABS, "torch evaluation against mpmath")
    if not value.requires_grad:  # a step: torch's graph holds no derivative, which is right where it is flat
        value = value + 0.0 * sum(tensors.values())
    grads = torch.autograd.grad(value.sum(), list(tensors.values()), allow_unused=True)
    for i, (g, d) in enumerate(zip(grads, case.differences(), strict=True)):
        close(0.0 if g is None else g.numpy(), d, FD_REL, FD_ABS, f"torch autograd ∂/∂x{i} against central differences")


def check_mpmath(case):
    record = case.record
    _need(record.mpmath, "mpmath value")
    args = list(zip(*case.points, strict=True))
    with mpmath.workdps(DIGITS):
        got = np.array([float(record.mpmath(*map(mpmath.mpf, (*p, *case.constants)))) for p in args])
    node = [record.function(*map(sp.Float, p)) for p in args]
    if all(v.is_Number for v in node):  # sympy's own evaluation: independent of the record
        want, rel = np.array([float(sp.N(v, DIGITS)) for v in node]), REL
    else:
        want, rel = record.evaluate(NumpyBackend, *case.points, *case.constants), 1e-10
    close(got, want, rel, ABS, "the record's mpmath value against " + ("sympy's evalf" if rel == REL else "numpy"))


def _python_namespace(printer):
    namespace = {"np": np, "math": math}
    for text in printer.helpers.values():
        exec(text, namespace)  # noqa: S102 - the records' helper definitions, as a generated module holds them
    return namespace


def check_numpy(case):
    printer = NumpyExprPrinter()
    text = printer.doprint(case.expr)
    namespace = _python_namespace(printer)
    got = eval(text, namespace, {str(s): p for s, p in case.values.items()})  # noqa: S307 - printed by us
    close(got, case.reference(), REL, ABS, f"the numpy printer's {text}")


def check_loop(case):
    printer = MathExprPrinter()
    text = printer.doprint(case.expr)
    namespace = _python_namespace(printer)
    code = compile(text, "<loop>", "eval")
    got = [eval(code, namespace, {str(s): float(v) for s, v in zip(case.symbols, p, strict=True)})  # noqa: S307
           for p in zip(*case.points, strict=True)]
    close(got, case.reference(), REL, ABS, f"the loop printer's {text}")


def check_compile(case):
    """The loss Σ sample(x + w) compiled, its gradient in w (at w = 0) against numeric autodiff,
    on the per-sample loop (the points) and the vectorized path (the points repeated)."""
    loss, ws, _ = shifted(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = compile_kernel(loss, wrt=ws, inputs=list(case.symbols), cache=False)
        for repeat in (1, REPEAT):
            values = {s: np.tile(p, repeat) for s, p in case.values.items()} | dict.fromkeys(ws, 0.0)
            got_loss, got = kernel.loss_and_grad(values)
            want = autodiff.grad(loss, ws, values)
            close(got_loss, repeat * case.reference().sum(), REL, ABS, f"compiled loss (batch {repeat * len(case.points[0])})")
            for i, (g, d) in enumerate(zip(got, want, strict=True)):
                close(g, d, DERIV_REL, DERIV_ABS, f"compiled ∂/∂w{i} against autodiff (batch {repeat * len(case.points[0])})")


def check_tf(case, oracle=None):
    """Each op name the record gives: found in symgrad.tf, traced to the record's function, its
    value the record's (and TensorFlow's, `oracle`, where installed)."""
    from . import tf as stf
    from .errors import UnsupportedError
    from .tf.trace import Traced, rule

    record = case.record
    if not record.tf:
        raise Missing("the record names no symgrad.tf op")
    for name in record.tf:
        op = next((getattr(ns, name) for ns in (stf, stf.math, stf.nn) if hasattr(ns, name)), None)
        if op is None:
            raise AssertionError(f"the record names the TF op {name}, which symgrad.tf does not have")
        node = op(*[stf.placeholder(stf.float64, shape=()) for _ in case.symbols])
        try:
            traced = rule(node.op)
        except UnsupportedError:
            raise AssertionError(f"symgrad.tf.{name} is computed outside the traced kernel (op {node.op!r})") from None
        built = traced(node, *[Traced(s, ()) for s in case.symbols]).expr
        if not built.has(record.function):
            raise AssertionError(f"symgrad.tf.{name} builds {built}, not the record's {record.name}")
        params = tuple(record.tf_params.values()) or case.constants  # TensorFlow's defaults (leaky_relu's 0.2)
        want = record.evaluate(NumpyBackend, *case.points, *params)
        got = stf.Session().run(op(*[stf.constant(p) for p in case.points]))
        close(got, want, REL, ABS, f"symgrad.tf.{name} against the record's evaluation")
        if oracle is not None:
            spaces = (oracle.math, oracle.nn, oracle, oracle.keras.activations)
            real = next((getattr(ns, name) for ns in spaces if hasattr(ns, name)), None)
            if real is None:
                raise AssertionError(f"TensorFlow has no op {name}")
            # TensorFlow's float64 kernels are not all correctly rounded (its gelu is 6e-8 off mpmath)
            close(np.asarray(real(*case.points)), want, TF_REL, ABS, f"TensorFlow's {name} against the record")


# -- CUDA: every record's sample in one emulated module ----------------------------------------------
def cuda_results(cases):
    """record name -> None (agrees) or the exception its CUDA check raised, all records' samples
    printed into one kernel source, built once by the host emulation and run."""
    from . import cuda_emu

    if cuda_emu.compiler() is None:
        return dict.fromkeys((c.record.name for c in cases), Unavailable("no host C++ compiler for the CUDA emulation"))
    out, printed, helpers = {}, [], {}
    for i, case in enumerate(cases):
        printer = CudaExprPrinter("float64")
        try:
            text = printer.doprint(case.expr)
        except Exception as exc:  # noqa: BLE001 - the printer's refusal is this record's result
            out[case.record.name] = exc
            continue
        helpers.update(printer.helpers)
        printed.append((case, {"name": f"sg_coverage_{i}", "args": [str(s) for s in case.symbols], "expr": text}))
    source = render_expression_kernels(helpers.values(), [k for _, k in printed])
    module = cuda_emu.RawModule(code=source)
    for case, kernel in printed:
        try:
            n = len(case.points[0])
            data = np.ascontiguousarray(np.concatenate(case.points))
            result = np.zeros(n)
            module.get_function(kernel["name"])((1,), (n,), (data, result, np.int32(n)))
            close(result, case.reference(), REL, ABS, f"the CUDA printer's {kernel['expr']} (host emulation)")
            out[case.record.name] = None
        except Exception as exc:  # noqa: BLE001
            out[case.record.name] = exc
    return out


CHECKS = {"symbolic": check_symbolic, "vjp": check_vjp, "hessian": check_hessian, "numpy_eval": check_numpy_eval,
          "torch_eval": check_torch_eval,
          "mpmath": check_mpmath, "numpy": check_numpy, "loop": check_loop, "compile": check_compile, "tf": check_tf}


def _cuda_check(found):
    """The CUDA path's check: what `cuda_results` found for the case's record."""
    def check(case):
        exc = found.get(case.record.name, Missing("the record has no cuda spelling"))
        if exc is not None:
            raise exc

    return check


def declared(record, path):
    """The declared gap of `path` (its reason, or one of a path it needs), or None."""
    if path in record.gaps:
        return record.gaps[path]
    for need in NEEDS.get(path, ()):
        if need in record.gaps:
            return f"needs {need}: {record.gaps[need]}"
    return None


def outcome(case, path, check):
    """Run `check(case)`: its Result, held against what the record declares."""
    record = case.record
    gap = declared(record, path)
    if path not in record.gaps and gap is not None:
        return Result(record.name, path, "gap", gap)  # follows from another path's gap
    try:
        check(case)
    except Missing as exc:
        return Result(record.name, path, "gap", gap) if gap else Result(record.name, path, "FAIL", f"undeclared gap: {exc}")
    except Unavailable as exc:
        return Result(record.name, path, "skip", str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure of the path is its result
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return Result(record.name, path, "gap", gap) if gap else Result(record.name, path, "FAIL", detail)
    if gap:
        return Result(record.name, path, "FAIL", f"declared gap ({gap}) but the path works: remove it from the record")
    return Result(record.name, path, "ok")


def tensorflow():
    """The installed TensorFlow module (the oracle of the tf path), or None."""
    try:
        import tensorflow as tf  # noqa: PLC0415
    except ImportError:
        return None
    return tf


def run(records=None, paths=PATHS, oracle=None):
    """Result of every path of every record (scalar records of the registry by default)."""
    records = scalar_records() if records is None else records
    cases, out = {}, []
    for record in records:
        try:
            cases[record.name] = Case(record)
        except Exception as exc:  # noqa: BLE001 - a record whose sample cannot be built fails every path
            out += [Result(record.name, p, "FAIL", f"cannot build its sample: {type(exc).__name__}: {exc}") for p in paths]
    cuda = cuda_results([cases[r.name] for r in records if r.name in cases and "cuda" not in r.gaps]) \
        if "cuda" in paths else {}
    checks = {**CHECKS, "cuda": _cuda_check(cuda), "tf": functools.partial(check_tf, oracle=oracle)}
    out += [outcome(cases[r.name], path, checks[path]) for r in records if r.name in cases for path in paths]
    return out


# -- the table -----------------------------------------------------------------------------------
def declared_results(records=None):
    """What the records declare, as Results: "ok" where no gap is declared."""
    records = scalar_records() if records is None else records
    return [Result(r.name, p, "gap", declared(r, p)) if declared(r, p) else Result(r.name, p, "ok")
            for r in records for p in PATHS]


def table(results, others=()):
    """The primitive × path table in markdown: ✓, a numbered footnote for each gap's reason, and a
    line naming the matrix-level records `others` it leaves out."""
    rows, notes = {}, {}
    for r in results:
        if r.status == "ok":
            cell = "✓"
        elif r.status == "gap":
            cell = f"gap [{notes.setdefault(r.detail, len(notes) + 1)}]"
        else:
            cell = f"{r.status}: {r.detail}" if r.status == "skip" else f"**FAIL**: {r.detail}"
        rows.setdefault(r.record, {})[r.path] = cell.replace("|", "\\|")
    lines = ["| primitive | " + " | ".join(PATHS) + " |", "|---|" + "---|" * len(PATHS)]
    lines += [f"| `{name}` | " + " | ".join(cells.get(p, "") for p in PATHS) + " |" for name, cells in rows.items()]
    lines.append("")
    lines += [f"{n}. {reason}" for reason, n in notes.items()]
    if others:
        lines += ["", f"Matrix-level records, checked by their own tests and not in this table: {', '.join(others)}."]
    return "\n".join(lines) + "\n"


# the matrix paths a matrix-node record serves (its `numpy_call` is a spelling its `lower` may use)
MATRIX_COLUMNS = ("adjoint", "array_vjp", "forward", "tangent", "linear", "lower", "cuda")


def matrix_records(own=False):
    """The matrix-node records (`MatrixPrimitive`), by name; `own` as `scalar_records`."""
    return sorted((r for r in RECORDS.values() if isinstance(r, MatrixPrimitive) and (not own or _own(r))),
                  key=lambda r: r.name)


def matrix_status(record, path):
    """("ok" | "gap" | "missing", reason) for one matrix record and path: what the record declares.
    CUDA prints what `lower` emits unless a gap says otherwise."""
    if path in record.gaps:
        return "gap", record.gaps[path]
    if path == "cuda":
        return ("ok", "") if record.lower is not None else ("missing", "no lower rule for the CUDA kernel")
    if getattr(record, path) is not None:
        return "ok", ""
    return "missing", f"no {path} rule and no declared gap"


def matrix_table(records):
    """The matrix-node × matrix-path table in markdown (footnotes numbered after the scalar table's)."""
    notes, lines = {}, ["| matrix node | " + " | ".join(MATRIX_COLUMNS) + " |", "|---|" + "---|" * len(MATRIX_COLUMNS)]
    for r in records:
        cells = []
        for path in MATRIX_COLUMNS:
            status, why = matrix_status(r, path)
            cells.append("✓" if status == "ok" else f"gap [{notes.setdefault(why, len(notes) + 1)}]"
                         if status == "gap" else f"**missing**: {why}")
        lines.append(f"| `{r.name}` | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *(f"{n}. {reason}" for reason, n in notes.items())]) + "\n"


def report(checked=False):
    """(markdown tables, exit status) of symgrad's own records: what they declare, or with `checked`
    what every scalar check finds (status 1 if any path fails or a matrix record leaves a path
    undeclared). Matrix records' rules are proven by their own tests (tests/test_matrix_*.py)."""
    records = scalar_records(own=True)
    results = run(records, oracle=tensorflow()) if checked else declared_results(records)
    matrix = matrix_records(own=True)
    missing = any(matrix_status(r, p)[0] == "missing" for r in matrix for p in MATRIX_COLUMNS)
    text = table(results) + "\nMatrix nodes (each rule tested in tests/test_matrix_*.py):\n\n" + matrix_table(matrix)
    return text, 1 if missing or any(r.status == "FAIL" for r in results) else 0
