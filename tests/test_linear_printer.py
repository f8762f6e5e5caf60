"""The linear-time printer computes the same numbers as sympy's printers, statement by statement."""

import math

import numpy as np
import pytest
import sympy as sp

from symgrad import models, nn
from symgrad.compiler import build_ir
from symgrad.ir import Assign
from symgrad.primitives import RECORDS, Helper
from symgrad.targets.numpy.linear import LinearPrinter
from symgrad.targets.python_printers import STEP, MathExprPrinter, NumpyExprPrinter

MODELS = {
    "seed": models.seed,
    "perceptron": models.perceptron,
    "tanh/softplus": lambda: nn.mlp([3, 4, 2], activation="tanh", output_activation="softplus"),
    "relu/logits": lambda: nn.mlp([3, 4, 1], activation="relu", output_activation="identity",
                                  loss="binary_cross_entropy_with_logits"),
    "logsigmoid/mse": lambda: nn.mlp([2, 3, 2], activation="logsigmoid", loss="mse"),
}
TARGETS = {"np": (NumpyExprPrinter, 0), "math": (MathExprPrinter, 1)}


def namespace(module):
    env = {"np": np, "math": math}
    target = "numpy" if module == "np" else "loop"
    texts = [STEP[module != "np"]] + [getattr(getattr(r, target), target) for r in RECORDS.values()
                                      if isinstance(getattr(r, target), Helper)]
    for text in texts:
        exec(text, env)  # noqa: S102 - our own helper text
    return env


@pytest.mark.parametrize("module", sorted(TARGETS))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_statement_evaluates_as_with_sympys_printer(name, module):
    printer_class, _ = TARGETS[module]
    rng = np.random.default_rng(0)
    env = namespace(module)
    for st in build_ir(MODELS[name]()).statements:
        if not isinstance(st, Assign):  # the batch sums (`Reduce`) have no expression
            continue
        ours = LinearPrinter(printer_class(), module).doprint(st.expr)
        reference = printer_class().doprint(st.expr)
        values = {s.name: float(rng.normal()) for s in st.expr.free_symbols}
        got, expected = eval(ours, {**env, **values}), eval(reference, {**env, **values})  # noqa: S307
        assert got == pytest.approx(expected, rel=1e-13, abs=1e-300), (ours, reference)


def test_parentheses_keep_the_ir_evaluation_order():
    a, b, c, d = sp.symbols("a b c d")
    printer = LinearPrinter(NumpyExprPrinter(), "np")
    prod = sp.Mul._from_args([sp.Mul._from_args([a, b]), sp.Mul._from_args([c, d])])
    assert printer.doprint(prod) == "a*b*(c*d)"
    total = sp.Add._from_args([a, sp.Add._from_args([b, c])])
    assert printer.doprint(total) == "a + (b + c)"
    assert printer.doprint(sp.Add._from_args([sp.Mul._from_args([sp.S.NegativeOne, d]), a])) == "a - d"
    assert printer.doprint(sp.Pow(a + b, -1, evaluate=False)) == "1/(a + b)"
    assert printer.doprint(sp.Pow(sp.Mul._from_args([sp.S.NegativeOne, a]), 2, evaluate=False)) == "(-a)**2"
