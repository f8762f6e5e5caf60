"""examples/digits_mlp.py trains a matrix MLP with generated kernels to ≥ 95 % held-out accuracy."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="the digits example needs the optional 'data' extra (scikit-learn)")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_mlp.py"


def _example():
    spec = importlib.util.spec_from_file_location("digits_mlp", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_digits_mlp_reaches_95_percent_held_out(optimizer):
    ex = _example()
    opt = ex.SGD(0.5) if optimizer == "sgd" else ex.Adam(0.01)
    history, accuracy = ex.train(opt, epochs=25)
    assert accuracy >= 0.95, history["accuracy"]
    assert history["loss"][-1] < history["loss"][0] / 5


def test_digits_example_saves_the_plot(tmp_path):
    ex = _example()
    histories = ex.main(["--epochs", "2", "--optimizer", "adam", "-o", str(tmp_path)])
    assert (tmp_path / "digits_loss_accuracy.png").stat().st_size > 1000
    assert len(histories["adam"]["accuracy"]) == 2
