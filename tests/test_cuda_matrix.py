"""Matrix-level models on the CUDA target: products on cuBLAS (CuPy's matmul), one generated
kernel per fused entrywise block, checked without a GPU (PTX for sm_80/sm_90, host emulation
against the numpy target and matrix autodiff) and, marked `gpu`, through CuPy on a GPU."""

import re

import numpy as np
import pytest
import sympy as sp
from cuda_cases import ARCHS, DTYPES, NVCC, needs_cxx, needs_nvcc, ptx
from test_matrix_codegen import MODELS, OTHER, N, _data, s

import symgrad
from symgrad.cuda_emu import Backend
from symgrad.ir import FusedElementwise
from symgrad.matrix import SumAll


def _cuda(model_or_loss, dtype="float64", **kwargs):
    return symgrad.compile(model_or_loss, target="cuda", dtype=dtype, cache=False, **kwargs)


def _values(model):
    return {**model.initial_values(), **_data(model.inputs + model.targets, n=37)}


def test_every_fused_block_is_one_generated_kernel_and_products_go_to_cublas():
    kernel = _cuda(MODELS["mlp-tanh-softmax-ce"]())
    blocks = [st for st in kernel.ir.statements if isinstance(st, FusedElementwise)]
    on_host = [b for b in blocks if f"\n        {b.outputs[0]} = self.DTYPE.type(" in kernel.launcher_source]
    assert len(re.findall(r'extern "C" __global__ void sg_fused_\d+\(', kernel.source)) == len(blocks) - len(on_host)
    assert "z1 = xp.matmul(X, W1)  # cuBLAS" in kernel.launcher_source
    assert "d_W1 = xp.matmul(X.T, d_z1)  # cuBLAS" in kernel.launcher_source
    assert "const sg_real h1 = tanh(b1 + z1);" in kernel.source  # registers, readable names


def test_scalars_of_sizes_alone_are_computed_on_the_host_not_by_a_one_entry_kernel():
    """The mean's 1/N is a launcher line; the kernels that read it take it by value, like N."""
    kernel = _cuda(MODELS["mlp-tanh-softmax-ce"]())
    assert "t = self.DTYPE.type(1/N)" in kernel.launcher_source
    assert "1.0/N" not in kernel.source and "const sg_real t," in kernel.source
    assert not re.search(r"from nothing \(\w+, 1x1\)", kernel.source)  # no kernel reads sizes alone


@needs_nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_matrix_kernels_compile_to_ptx(name, dtype, arch, tmp_path):
    kernel = _cuda(MODELS[name](), dtype)
    text = ptx(kernel.source, arch, tmp_path)
    assert text.count(".entry sg_fused_") == kernel.source.count("__global__")
    if dtype == "float32":
        assert not re.search(r"\.f64\b", text), "float32 kernel computes in double"


@needs_cxx
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_emulated_matrix_kernels_match_the_numpy_target_and_autodiff(name, dtype, tol):
    model = MODELS[name]()
    values = _values(model)
    reference = symgrad.compile(model, dtype=dtype, cache=False)
    kernel = _cuda(model, dtype).on(Backend())
    value, grads = kernel.loss_and_grad(values)
    want_value, want_grads = reference.loss_and_grad(values)
    assert value == pytest.approx(want_value, rel=tol)
    expected = symgrad.autodiff.backward(model.loss, model.params, values)
    for g, w, e in zip(grads, want_grads, expected.grads, strict=True):
        assert g.shape == w.shape and g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
        np.testing.assert_allclose(g, e, rtol=50 * tol, atol=50 * tol)
    assert kernel.loss(values) == pytest.approx(want_value, rel=tol)
    for got, want in zip(kernel.predict(values), reference.predict(values), strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@needs_cxx
@pytest.mark.parametrize("loss, wrt", OTHER)
def test_emulated_kernels_for_other_node_types_match_autodiff(loss, wrt, tmp_path):
    syms = sorted(symgrad.matrix.graph.matrix_symbols([loss]) - {N}, key=str)
    values = {**_data([m for m in syms if isinstance(m, sp.MatrixSymbol)]), s: 0.3}
    kernel = _cuda(loss, wrt=wrt, inputs=[m for m in syms if m not in wrt])
    value, grads = kernel.on(Backend()).loss_and_grad(values)
    expected = symgrad.autodiff.backward(loss, wrt, values)
    assert value == pytest.approx(float(expected.value), rel=1e-12)
    for g, e in zip(grads, expected.grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    if NVCC:
        ptx(kernel.source, "sm_90", tmp_path)


@needs_cxx
def test_matrix_launcher_rejects_wrong_dtypes_and_shapes():
    model = MODELS["mlp-sigmoid-mse"]()
    launcher = _cuda(model).on(Backend()).launcher
    values = _values(model)
    args = [values[sym] for sym in [*model.inputs, *model.targets, *model.params]]
    with pytest.raises(TypeError, match="this kernel was generated for float64"):
        launcher.loss(*[a.astype(np.float32) for a in args])
    with pytest.raises(ValueError, match=r"W1 has shape"):
        launcher.loss(*args[:2], args[2][:, :2], *args[3:])


@pytest.mark.gpu
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-11), ("float32", 1e-4)])
def test_gpu_matrix_mlp_matches_the_numpy_target(dtype, tol):
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'symgrad[cuda]')")
    if cp.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device")
    model = symgrad.nn.matrix_mlp([784, 256, 10], activation="relu")
    values = {**model.initial_values(), **_data(model.inputs + model.targets, n=512)}
    want_value, want_grads = symgrad.compile(model, dtype=dtype, cache=False).loss_and_grad(values)
    value, grads = _cuda(model, dtype).loss_and_grad(values)
    assert value == pytest.approx(want_value, rel=tol)
    for g, w in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@needs_cxx
def test_hostile_matrix_names_give_safe_cuda_that_stays_correct(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch = f"__import__('os').system('touch {tmp_path / 'PWNED'}')"
    X = sp.MatrixSymbol(f"x); {touch}; //", N, 3)
    W = sp.MatrixSymbol("exp", 3, 2)
    b = sp.MatrixSymbol("threadIdx\n*/", 1, 2)
    loss = SumAll(sp.HadamardPower((X * W + sp.OneMatrix(N, 1) * b).applyfunc(sp.tanh), 2))
    kernel = _cuda(loss, wrt=[W, b], inputs=[X])
    code = "\n".join(line.split("//")[0] for line in kernel.source.splitlines())
    assert not {"system", "__import__", "PWNED"} & set(re.findall(r"\w+", code))
    compile(kernel.launcher_source, "<launcher>", "exec")  # valid Python, names only inside literals
    values = {X: np.random.default_rng(0).normal(size=(9, 3)), W: np.full((3, 2), 0.3), b: np.full((1, 2), -0.1)}
    grads = kernel.on(Backend()).grad(values)
    for g, e in zip(grads, symgrad.autodiff.backward(loss, [W, b], values).grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-13)
    if NVCC:
        ptx(kernel.source, "sm_80", tmp_path)
    numpy_grads = symgrad.compile(loss, wrt=[W, b], inputs=[X], cache=False).grad(values)  # names spelled safely there too
    for g, e in zip(grads, numpy_grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    assert not (tmp_path / "PWNED").exists(), "a name was executed"
