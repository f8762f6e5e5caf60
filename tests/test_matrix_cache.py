"""Matrix kernels go through the on-disk kernel cache like scalar kernels: a fresh model built the
same way (new Dummies inside applyfunc) hits, a hit computes what a fresh build computes, a
damaged entry is rebuilt, and a different dtype or model is a different entry."""

import numpy as np

import symgrad
from symgrad.cache import KernelCache


def _model(widths=(4, 5, 3)):
    return symgrad.nn.matrix_mlp(list(widths), activation="tanh")


def _values(model, rows=6):
    rng = np.random.default_rng(0)
    X, Y = model.inputs[0], model.targets[0]
    labels = rng.integers(0, int(Y.shape[1]), size=rows)
    return {**model.initial_values(), X: rng.normal(size=(rows, int(X.shape[1]))), Y: np.eye(int(Y.shape[1]))[labels]}


def test_matrix_kernel_cache_miss_then_hit_with_equal_results(tmp_path):
    first = symgrad.compile(_model(), cache=tmp_path)
    second = symgrad.compile(_model(), cache=tmp_path)
    assert (first.cache_status, second.cache_status) == ("miss", "hit")
    assert len(KernelCache(tmp_path).entries()) == 1
    model = _model()
    values = _values(model)
    v1, g1 = first.loss_and_grad(values)
    v2, g2 = second.loss_and_grad(values)
    assert v1 == v2
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_array_equal(a, b)
    without_targets = {**model.initial_values(), model.inputs[0]: values[model.inputs[0]]}
    np.testing.assert_array_equal(first.predict(without_targets)[0], second.predict(without_targets)[0])
    assert second.source == first.source


def test_matrix_kernel_cache_keys_dtype_and_model(tmp_path):
    assert symgrad.compile(_model(), cache=tmp_path).cache_status == "miss"
    assert symgrad.compile(_model(), cache=tmp_path, dtype="float32").cache_status == "miss"
    assert symgrad.compile(_model((4, 6, 3)), cache=tmp_path).cache_status == "miss"
    assert symgrad.compile(_model(), cache=False).cache_status == "off"
    assert len(KernelCache(tmp_path).entries()) == 3


def test_damaged_matrix_cache_entry_is_rebuilt_not_run(tmp_path):
    symgrad.compile(_model(), cache=tmp_path)
    (entry,) = KernelCache(tmp_path).entries()
    entry.write_text(entry.read_text().replace("loss_and_grad", "loss_and_grad_x"))
    again = symgrad.compile(_model(), cache=tmp_path)
    assert again.cache_status == "rebuilt"
    values = _values(_model())
    expected = symgrad.autodiff.backward(_model().loss, _model().params, values)
    for g, e in zip(again.grad(values), expected.grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    assert symgrad.compile(_model(), cache=tmp_path).cache_status == "hit"
