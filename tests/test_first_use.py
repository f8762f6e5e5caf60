"""What a new user meets first: submodules reachable from `import symgrad`, loss names as
documented, `predict` that says what it needs, and a warning for a loss that cannot learn."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.matrix import SumAll

x, y, w, b = sp.symbols("x y w b", real=True)
VALUES = {x: np.array([0.5, -1.0]), y: np.array([1.0, 0.0]), w: 0.3, b: 0.1}


def test_front_ends_are_reachable_from_import_symgrad_and_cost_nothing_until_used():
    code = (
        "import sys, types, symgrad\n"
        "lazy = symgrad.LAZY_SUBMODULES\n"
        "assert not [m for m in lazy if 'symgrad.' + m in sys.modules], [m for m in lazy if 'symgrad.' + m in sys.modules]\n"
        "assert set(lazy) <= set(dir(symgrad))\n"
        "for m in lazy:\n"
        "    assert isinstance(getattr(symgrad, m), types.ModuleType) and getattr(symgrad, m).__name__ == 'symgrad.' + m\n"
        "try:\n"
        "    symgrad.no_such_thing\n"
        "except AttributeError as e:\n"
        "    assert 'no_such_thing' in str(e)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert set(symgrad.LAZY_SUBMODULES) == {"train", "models", "derivation", "comparison", "tf", "cuda_emu"}


@pytest.mark.parametrize("build", [lambda loss: symgrad.nn.mlp([2, 3, 2], loss=loss),
                                   lambda loss: symgrad.nn.matrix_mlp([2, 3, 2], loss=loss)], ids=["scalar", "matrix"])
def test_mean_squared_error_is_accepted_under_both_names(build):
    long, short = build("mean_squared_error"), build("mse")
    values = symgrad.models.example_values(long)
    assert symgrad.compile(long, cache=False).loss(values) == symgrad.compile(short, cache=False).loss(values)


@pytest.mark.parametrize("level", ["scalar", "matrix"])
def test_predict_without_outputs_names_outputs(level):
    if level == "scalar":
        kernel, values = symgrad.compile((symgrad.sigmoid(w * x + b) - y) ** 2, wrt=[w, b], inputs=[x, y], cache=False), VALUES
    else:
        X, W = sp.MatrixSymbol("X", 4, 2), sp.MatrixSymbol("W", 2, 1)
        kernel = symgrad.compile(SumAll((X * W).applyfunc(sp.tanh)), wrt=[W], inputs=[X], cache=False)
        values = {X: np.ones((4, 2)), W: np.ones((2, 1))}
    with pytest.raises(symgrad.InvalidArgumentError, match=r"no outputs to predict: pass .*outputs=\[\.\.\.\]"):
        kernel.predict(values)


def _one_output_softmax_scalar():
    return symgrad.nn.mlp([2, 3, 1], output_activation="identity", loss="softmax_cross_entropy")


def _one_output_softmax_matrix():
    return symgrad.nn.matrix_mlp([2, 3, 1])


@pytest.mark.parametrize("make,what", [
    (_one_output_softmax_scalar, "is identically zero"),
    (_one_output_softmax_matrix, "takes a row softmax over a single column"),
    (lambda: ((x - y) ** 2, [w]), r"does not depend on any parameter \(w\)"),
], ids=["softmax over one output", "matrix softmax over one column", "no parameter in the loss"])
def test_a_loss_that_cannot_learn_compiles_with_a_warning(make, what):
    made = make()
    args = (made,) if isinstance(made, symgrad.nn.Model) else (made[0],)
    kw = {} if isinstance(made, symgrad.nn.Model) else {"wrt": made[1], "inputs": [x, y]}
    with pytest.warns(symgrad.ConstantLossWarning, match=what):
        symgrad.compile(*args, cache=False, **kw)


def test_models_that_learn_compile_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", symgrad.SymgradWarning)
        symgrad.compile(symgrad.models.seed(), cache=False)
        symgrad.compile(symgrad.models.perceptron(), cache=False)
        symgrad.compile(symgrad.models.mlp_matrix(), cache=False)
        symgrad.compile(symgrad.nn.mlp([2, 3, 1], loss="binary_cross_entropy_with_logits", output_activation="identity"), cache=False)
        symgrad.compile(sp.S.Zero, wrt=[], inputs=[x], outputs=[2 * x], cache=False)  # outputs only: nothing to train
    assert issubclass(symgrad.ConstantLossWarning, UserWarning)
