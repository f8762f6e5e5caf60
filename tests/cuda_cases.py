"""Models, data and runners shared by the CUDA tests (PTX, host emulation, GPU)."""

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import models
from symgrad.cuda_emu import Backend, compiler
from symgrad.targets.cuda.printer import CudaExprPrinter
from symgrad.targets.cuda.scalar import TEMPLATES
from symgrad.targets.templates import render

NVCC = shutil.which("nvcc")
HAVE_CXX = compiler() is not None
ARCHS = ("sm_80", "sm_90")
DTYPES = ("float64", "float32")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc (CUDA toolkit) is not installed; PTX checks need it")
needs_cxx = pytest.mark.skipif(not HAVE_CXX, reason="no host C++20 compiler for the CUDA emulation")

a, b, c, x, y = sp.symbols("a b c x y", real=True)


def functions_loss():
    """Every function the CUDA printer has a rule for, in the loss and (so) in its gradient."""
    return (
        symgrad.softplus(a * x + b) - y * symgrad.logsigmoid(c * x) + symgrad.relu(a * x - c)
        + sp.tanh(b * x) * y + sp.Rational(1, 3) * (a * x) ** 2 + sp.pi * sp.sqrt(x**2 + a**2)
        + symgrad.logsumexp(a * x, b * y, c) + sp.log(1 + a**2 * x**2) + sp.exp(-c * x * x)
        + 1 / (1 + c**2) + symgrad.sigmoid(a * y - b) * x
    )


@dataclass(frozen=True)
class Case:
    """A kernel family: how to compile it and how to draw its values."""

    name: str

    def compile(self, target="numpy", dtype="float64"):
        return _compiled(self.name, target, dtype)

    def values(self, n, rng, scale=1.0):
        if self.name == "functions":
            xs = scale * rng.normal(size=n)
            xs[: min(n, 3)] = 0.0  # exact zeros: relu's kink, Heaviside's convention
            return {x: xs, y: rng.normal(size=n), a: 0.3, b: -0.2, c: 0.7}
        model = models.BUNDLED[self.name]()
        X = scale * rng.normal(size=(n, len(model.inputs)))
        Y = rng.uniform(size=(n, len(model.targets)))
        return {**model.initial_values(), **models.data_values(model, X, Y)}


CASES = [Case("seed"), Case("perceptron"), Case("functions")]


@cache
def _compiled(name, target, dtype):
    if name == "functions":
        return symgrad.compile(functions_loss(), wrt=[a, b, c], inputs=[x, y], target=target, dtype=dtype,
                               outputs=[functions_loss()], cache=False)
    return symgrad.compile(models.BUNDLED[name](), target=target, dtype=dtype, cache=False)


def emulated(case, dtype="float64"):
    """The case's CUDA kernel, run through the host emulation."""
    return case.compile("cuda", dtype).on(Backend())


def ptx(source, arch, tmp_path):
    """`nvcc -ptx` of a kernel source for `arch`, warnings as errors; returns the PTX text."""
    cu, out = tmp_path / f"kernel_{arch}.cu", tmp_path / f"kernel_{arch}.ptx"
    cu.write_text(source)
    done = subprocess.run([NVCC, "-ptx", f"-arch={arch}", "-Werror", "all-warnings", str(cu), "-o", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out.read_text()


def emulate_expressions(exprs, symbols, columns, dtype="float64"):
    """Evaluate each of `exprs` per sample as the CUDA printer prints it, in one emulated kernel.

    Returns the len(exprs) × n values and the kernel source.
    """
    printer = CudaExprPrinter(dtype)
    printed = [printer.doprint(e) for e in exprs]
    names = [str(s) for s in symbols]
    source = render(
        TEMPLATES, "kernel.cu.j2", title="printer check", version="", source_hash="", regenerate="", dtype=dtype,
        c_type="double" if dtype == "float64" else "float", literal=printer.literal_suffix, max_block=32,
        data_names="", param_names="", helpers=[printer.helpers[h] for h in sorted(printer.helpers)], functions=[],
        kernels=[dict(
            name="sg_eval", doc="expression check",
            args=[f"const sg_real* __restrict__ {s}_" for s in names] + ["long long sg_n", "sg_real* sg_out"],
            prologue=[],
            body=[f"const sg_real {s} = {s}_[sg_i];" for s in names]
            + [f"sg_out[{k} * sg_n + sg_i] = {text};" for k, text in enumerate(printed)],
            epilogue=[],
        )],
    )
    arrays = [np.ascontiguousarray(col, dtype=dtype) for col in columns]
    n = len(arrays[0])
    out = np.empty((len(exprs), n), dtype=dtype)
    Backend().RawModule(code=source).get_function("sg_eval")((2,), (32,), (*arrays, np.int64(n), out))
    return out, source
