"""A user's own sympy Function is never printed as one of ours or sympy's because of its name.

sympy's printers dispatch on class names: a user's leaky ReLU class called `relu` once printed as
symgrad's relu. Every name any kernel printer dispatches on is tried here as a user class; each
must be our UnsupportedError at compile time, on every printer and target.
"""

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.errors import UnsupportedError
from symgrad.matrix import SumAll
from symgrad.primitives import RECORDS
from symgrad.targets.cuda.printer import CudaExprPrinter
from symgrad.targets.numpy.linear import LinearPrinter
from symgrad.targets.python_printers import MathExprPrinter, NumpyExprPrinter

PRINTERS = {
    "numpy": lambda: LinearPrinter(NumpyExprPrinter(), "np"),
    "math": lambda: LinearPrinter(MathExprPrinter(), "math"),
    "numpy (sympy printer)": NumpyExprPrinter,
    "cuda float64": lambda: CudaExprPrinter("float64"),
    "cuda float32": lambda: CudaExprPrinter("float32"),
}


def _dispatched_names():
    """Every class name a kernel printer has a rule for (the primitive records, its `_print_<name>`
    methods and sympy's tables)."""
    names = {r.name for r in RECORDS.values()}
    for make in (NumpyExprPrinter, MathExprPrinter, lambda: CudaExprPrinter("float64")):
        printer = make()
        names |= {m[len("_print_"):] for m in dir(printer) if m.startswith("_print_")}
        names |= set(getattr(printer, "known_functions", {}))
    return sorted(n for n in names if n.isidentifier())


NAMES = _dispatched_names()
x, w = sp.symbols("x w")


def _user_class(name):
    """A leaky ReLU with its own derivative, under someone else's name."""

    def fdiff(self, argindex=1):
        return sp.Piecewise((1, self.args[0] > 0), (sp.Rational(1, 10), True))

    return type(name, (sp.Function,), {"nargs": 1, "fdiff": fdiff, "__module__": "users_model"})


def test_the_printers_dispatch_on_the_names_this_test_tries():
    assert {"relu", "sigmoid", "softplus", "logsumexp", "exp", "log", "Heaviside", "Max"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_user_class_spelled_like_a_known_function_is_refused_by_every_printer(name):
    for make in PRINTERS.values():
        with pytest.raises(UnsupportedError, match="defined outside sympy and symgrad"):
            make().doprint(_user_class(name)(x) + 1)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "exp", "Abs"])
@pytest.mark.parametrize("target", ["numpy", "cuda"])
def test_compiling_a_loss_with_a_user_class_is_our_error(name, target):
    f = _user_class(name)
    with pytest.raises(UnsupportedError, match=name):
        symgrad.compile(f(w * x), wrt=[w], inputs=[x], target=target, cache=False)
    X, W = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("W", 2, 1)
    with pytest.raises(UnsupportedError, match=name):
        symgrad.compile(SumAll((X * W).applyfunc(f)), wrt=[W], inputs=[X], target=target, cache=False)


def test_an_undefined_function_named_like_ours_is_refused():
    with pytest.raises(UnsupportedError, match="relu"):
        symgrad.compile(sp.Function("relu")(w * x), wrt=[w], inputs=[x], cache=False)


def test_symgrad_and_sympy_functions_still_print():
    loss = symgrad.relu(w * x) + symgrad.sigmoid(w) + sp.exp(-x * w) + sp.Abs(w - x)
    kernel = symgrad.compile(loss, wrt=[w], inputs=[x], cache=False)
    value = kernel.loss({w: 0.5, x: np.array([-1.0, 2.0])})
    expected = sum(max(0.5 * v, 0) + 1 / (1 + np.exp(-0.5)) + np.exp(-0.5 * v) + abs(0.5 - v) for v in (-1.0, 2.0))
    assert value == pytest.approx(expected, rel=1e-14)
