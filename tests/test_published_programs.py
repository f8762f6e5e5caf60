"""The published MNIST programs in examples/programs/ (only their import and data lines
changed) run on the padded digits and learn. Each runs here with fewer steps: the test rewrites
the program's own step-count line (`num_steps = 500` → `num_steps = 60`) before running it."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import symgrad.tf as tf

PROGRAMS = Path(__file__).resolve().parent.parent / "examples" / "programs"
pytest.importorskip("sklearn", reason="scikit-learn is not installed (the programs' digits)")


def run_program(name, **settings):
    """Run examples/programs/<name>.py as a script with `settings` replacing its `name = value` lines."""
    path = PROGRAMS / f"{name}.py"
    source = path.read_text()
    for key, value in settings.items():
        source, count = re.subn(rf"^{key} = [^\n]*$", f"{key} = {value!r}", source, flags=re.M)
        assert count == 1, f"{name}.py has no single line `{key} = ...`"
    tf.reset_default_graph()
    tf.random.set_seed(0)
    sys.path.insert(0, str(PROGRAMS))
    try:
        namespace = {"__name__": "__main__", "__file__": str(path)}
        exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the program, as `python name.py` runs it
        return namespace
    finally:
        sys.path.remove(str(PROGRAMS))
        sys.modules.pop("mnist_digits", None)


def _numbers(pattern, text):
    return [float(m) for m in re.findall(pattern, text)]


def test_tf1_mlp_with_placeholders(capsys):
    run_program("tf1_mlp_placeholders", training_epochs=3)
    out = capsys.readouterr().out
    costs = _numbers(r"cost=([\d.]+)", out)
    assert len(costs) == 3 and costs[-1] < 0.7 * costs[0]
    assert _numbers(r"Accuracy: ([\d.]+)", out)[0] > 0.5  # chance is 0.1


def test_tf1_raw_network(capsys):
    run_program("tf1_raw_network", num_steps=60, display_step=20)
    out = capsys.readouterr().out
    losses = _numbers(r"Minibatch Loss= ([\d.]+)", out)
    assert len(losses) == 4 and losses[-1] < 0.1 * losses[0]
    assert _numbers(r"Testing Accuracy: ([\d.]+)", out)[0] > 0.6


def test_tf1_autoencoder_784_256_128_256_784(capsys):
    ns = run_program("tf1_autoencoder", num_steps=150, display_step=50)
    losses = _numbers(r"Minibatch Loss: ([\d.]+)", capsys.readouterr().out)
    assert len(losses) == 4 and losses[-1] < 0.75 * losses[0]  # TF1's RMSProp starts slowly (mean square at 1)
    assert [w.shape for w in ns["weights"].values()] == [(784, 256), (256, 128), (128, 256), (256, 784)]
    assert ns["canvas_recon"].shape == (112, 112) and np.all(np.isfinite(ns["canvas_recon"]))


def test_tf2_gradient_tape_raw_network(capsys):
    """At the published learning rate 0.1 its loss (summed over the batch, not averaged) diverges on
    the padded digits, in TensorFlow as here (the predictions pin at the clip); 0.01 learns."""
    run_program("tf2_gradient_tape_raw", training_steps=400, display_step=100, learning_rate=0.01)
    out = capsys.readouterr().out
    losses = _numbers(r"loss: ([\d.]+)", out)
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]
    assert _numbers(r"Test Accuracy: ([\d.]+)", out)[0] > 0.25  # chance is 0.1


def test_keras_mlp_with_dropout_and_rmsprop(capsys):
    ns = run_program("keras_mnist_mlp", epochs=2)
    out = capsys.readouterr().out
    assert "Total params: 669,706" in out and out.count("Epoch ") == 2
    history = ns["history"].history
    assert list(history) == ["accuracy", "loss", "val_accuracy", "val_loss"] and len(history["loss"]) == 2
    assert history["loss"][1] < history["loss"][0]
    score = ns["score"]
    assert score[0] == pytest.approx(history["val_loss"][-1], rel=1e-6) and score[1] > 0.8


def test_tensorflow_quickstart_runs_unchanged(capsys):
    """The TF documentation's first program (784-128-10 with Flatten, Dropout and logits) at its
    published settings: 5 epochs."""
    ns = run_program("keras_quickstart")
    out = capsys.readouterr().out
    assert out.startswith("TensorFlow version: 2.") and out.count("Epoch ") == 5
    evaluation = re.search(r"15/15 - \d+s - \d+(us|ms|s)/step - accuracy: ([\d.]+) - loss: ([\d.]+)\n", out)
    assert evaluation and float(evaluation.group(2)) > 0.8
    probabilities = ns["probability_model"](ns["x_test"][:5]).numpy()
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    logits = ns["model"](ns["x_test"][:5]).numpy()
    np.testing.assert_allclose(probabilities, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), rtol=1e-5)
