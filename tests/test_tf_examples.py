"""The tutorials in examples/ run, learn, save their pictures, and (the second text's three
levels) follow the scalar-level generated kernel's trajectory to 1e-10."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG = b"\x89PNG"


def _load(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


def _pictures(paths):
    assert paths
    for p in paths:
        assert Path(p).read_bytes()[:4] == PNG, p


def test_seed_mlp_three_levels_follow_the_scalar_kernel(tmp_path):
    example = _load("seed_tf_levels")
    results, paths = example.main(tmp_path, epochs=30)
    assert len(results) == 4
    for label, r in results.items():
        np.testing.assert_allclose(r["losses"], r["reference_losses"], rtol=0, atol=1e-10, err_msg=label)
        for name, value in r["params"].items():
            assert abs(value - r["reference_params"][name]) < 1e-10, (label, name)
        assert r["losses"][-1] < r["losses"][0]
    _pictures(paths)


def test_first_text_perceptron_separates_the_clouds(tmp_path):
    result = _load("perceptron_tf").main(tmp_path, steps=60)
    assert result["accuracy"] == 1.0
    assert result["losses"][-1] < 0.2 * result["losses"][0]
    _pictures(result["paths"])


def test_first_text_mlp_learns_the_xor_clusters(tmp_path):
    result = _load("mlp_tf").main(tmp_path, steps=1000)
    assert result["accuracy"] >= 0.98
    assert result["losses"][-1] < 0.1 * result["losses"][0]
    _pictures(result["paths"])


@pytest.mark.slow
def test_seed_levels_full_2000_epochs(tmp_path):
    results, _ = _load("seed_tf_levels").main(tmp_path, epochs=2000)
    for r in results.values():
        assert r["max_gap"] < 1e-10


@pytest.mark.parametrize("name", ["tf1_mnist_mlp", "keras_mlp"])
def test_mnist_style_programs_learn_the_padded_digits(tmp_path, name):
    pytest.importorskip("sklearn", reason="the digits need the optional 'data' extra (scikit-learn)")
    result = _load(name).main(tmp_path, epochs=3)
    assert result["losses"][-1] < 0.5 * result["losses"][0]
    assert result["accuracy"] >= 0.8
    png, csv = result["paths"]
    _pictures([png])
    assert len(Path(csv).read_text().splitlines()) == 4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tf1_mnist_mlp", "keras_mlp"])
def test_mnist_style_programs_reach_95_percent_held_out(tmp_path, name):
    pytest.importorskip("sklearn", reason="the digits need the optional 'data' extra (scikit-learn)")
    assert _load(name).main(tmp_path, epochs=30)["accuracy"] >= 0.95
