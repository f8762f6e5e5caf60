"""Every kernel entry point binds values by one rule: a value the computation reads must be given.

`predict` once filled every missing input with zeros (it compared user symbols with the IR's
identifiers, so nothing ever matched) and returned numbers as if the input were 0. Only inputs the
outputs never read (targets) may be omitted; anything else is our `UnboundSymbolError`, as for
`loss` and `grad`.
"""

import itertools

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import nn
from symgrad.errors import UnboundSymbolError
from symgrad.matrix.layers import matrix_mlp


@pytest.fixture(scope="module", params=["off", "cache"])
def scalar_kernel(request, tmp_path_factory):
    model = nn.mlp([2, 4, 1])
    cache = False if request.param == "off" else tmp_path_factory.mktemp("binding-cache")
    symgrad.compile(model, cache=cache)  # a second compile below is a cache hit when on
    return model, symgrad.compile(model, cache=cache)


def _data(model, n=5, seed=0):
    rng = np.random.default_rng(seed)
    return {s: rng.normal(size=n) for s in model.data}


def test_scalar_predict_without_targets_equals_predict_with_them(scalar_kernel):
    model, kernel = scalar_kernel
    data = _data(model)
    full = kernel.predict({**model.init, **data})
    inputs_only = kernel.predict({**model.init, **{s: v for s, v in data.items() if s not in model.targets}})
    np.testing.assert_array_equal(full[0], inputs_only[0])


@pytest.mark.parametrize("entry", ["loss", "grad", "loss_and_grad", "predict", "per_sample_grad"])
def test_every_scalar_entry_point_rejects_each_missing_input_it_reads(scalar_kernel, entry):
    model, kernel = scalar_kernel
    data = _data(model)
    read = [s for s in model.data if s not in model.targets] if entry == "predict" else list(model.data)
    for r in range(1, len(read) + 1):
        for missing in itertools.combinations(read, r):
            values = {**model.init, **{s: v for s, v in data.items() if s not in missing}}
            with pytest.raises(UnboundSymbolError, match=str(missing[0])):
                getattr(kernel, entry)(values)
    for p in model.params[:3]:
        with pytest.raises(UnboundSymbolError, match=str(p)):
            getattr(kernel, entry)({**{q: v for q, v in model.init.items() if q != p}, **data})


def test_scalar_predict_of_an_output_reading_a_target_needs_that_target():
    x, y, w = sp.symbols("x y w")
    kernel = symgrad.compile((w * x - y) ** 2, wrt=[w], inputs=[x, y], outputs=[w * x - y], cache=False)
    with pytest.raises(UnboundSymbolError, match="y"):
        kernel.predict({w: 2.0, x: np.ones(3)})
    np.testing.assert_allclose(kernel.predict({w: 2.0, x: np.ones(3), y: np.zeros(3)})[0], 2.0)


def test_matrix_predict_needs_the_inputs_its_outputs_read():
    model = matrix_mlp([3, 4, 2], batch=5)
    kernel = symgrad.compile(model, cache=False)
    (X,), (Y,) = model.inputs, model.targets
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=(5, 3)), np.eye(2)[rng.integers(0, 2, size=5)]
    with pytest.raises(UnboundSymbolError, match="X"):
        kernel.predict({**model.init, Y: yv})
    np.testing.assert_array_equal(kernel.predict({**model.init, X: xv})[0], kernel.predict({**model.init, X: xv, Y: yv})[0])
