"""The bundled matrix-level model `mlp_matrix`: its checked-in module computes what autodiff
computes, and `symgrad check mlp_matrix` passes (freshness is in test_generated.py)."""

from pathlib import Path

import numpy as np

import symgrad
from symgrad import cli, models
from symgrad.runtime import load_module

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_mlp_matrix_module_matches_autodiff():
    model = models.load("mlp_matrix")
    values = models.example_values(model)
    module = load_module((ROOT / "generated" / "numpy" / "mlp_matrix.py").read_text(), "mlp_matrix_checked_in")
    args = symgrad.compile(model, cache=False).arguments(values)
    value, grads = module.loss_and_grad(*args)
    expected = symgrad.autodiff.backward(model.loss, model.params, values)
    assert np.isclose(value, float(expected.value), rtol=1e-12)
    for p, g, e in zip(model.params, grads, expected.grads, strict=True):
        assert g.shape == e.shape, p
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=str(p))


def test_example_values_bind_whole_matrices():
    model = models.load("mlp_matrix")
    values = models.example_values(model)
    X, Y = model.inputs[0], model.targets[0]
    assert values[X].shape == (24, 4) and values[Y].shape == (24, 3)
    np.testing.assert_array_equal(values[Y].sum(axis=1), 1.0)


def test_cli_check_mlp_matrix_passes(capsys):
    assert cli.main(["check", "mlp_matrix"]) == 0
    assert "PASS" in capsys.readouterr().out
