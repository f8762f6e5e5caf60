"""The generated CUDA kernels' arithmetic, checked on the CPU through the host emulation.

The same `.cu` text and the same generated launcher run here as on a GPU, with the numpy target
(and numeric autodiff) as the references. The emulation runs a block's threads as fibers with a
real barrier, so the shared-memory reductions and their fixed order are exercised as written.
"""

import numpy as np
import pytest
from cuda_cases import CASES, DTYPES, emulated, needs_cxx

import symgrad
from symgrad import autodiff, models
from symgrad.cuda_emu import Backend
from symgrad.errors import ShapeError, SymgradError
from symgrad.targets.cuda.scalar import MAX_BLOCKS

pytestmark = needs_cxx
N = 700  # 11 blocks of 64: a partial last block


def _bound(case, dtype, n):
    """Reference per-sample gradients (float64 numpy) bound the rounding error of a float32 sum."""
    values = case.values(n, np.random.default_rng(3))
    per_sample = case.compile("numpy", "float64").per_sample_grad(values)
    return values, np.abs(per_sample).sum(axis=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_emulated_loss_and_gradient_match_the_numpy_target(case, dtype):
    values, magnitude = _bound(case, dtype, N)
    want_loss, want_grad = case.compile("numpy", "float64").loss_and_grad(values)
    kernel = emulated(case, dtype)
    kernel.block = 64
    got_loss, got_grad = kernel.loss_and_grad(values)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    assert got_loss == pytest.approx(want_loss, rel=rtol)
    error = np.abs(np.array(got_grad) - want_grad)
    assert np.all(error <= rtol * magnitude + 1e-300), (error / magnitude).max()
    assert kernel.loss(values) == pytest.approx(want_loss, rel=rtol)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_emulated_per_sample_gradients_and_predictions_match_the_numpy_target(case):
    values = case.values(300, np.random.default_rng(4))
    reference, kernel = case.compile("numpy"), emulated(case)
    np.testing.assert_allclose(kernel.per_sample_grad(values), reference.per_sample_grad(values), rtol=1e-12, atol=1e-14)
    for got, want in zip(kernel.predict(values), reference.predict(values), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_emulated_seed_gradient_agrees_with_autodiff():
    """An oracle independent of the lowering and of both printers."""
    model = models.seed()
    values = CASES[0].values(500, np.random.default_rng(5))
    expected = autodiff.backward(model.loss, list(model.params), values)
    np.testing.assert_allclose(emulated(CASES[0]).grad(values), expected.grads, rtol=1e-11, atol=1e-13)


def _fixed_order_sums(per_sample, block, grid):
    """Column sums in exactly the kernels' order: per thread (grid-stride), a tree per block,
    then sg_reduce: per thread over blocks (stride `block`), a tree."""

    def tree(v):
        v = v.copy()
        stride = len(v) // 2
        while stride:
            v[:stride] = v[:stride] + v[stride : 2 * stride]
            stride //= 2
        return v[0]

    n, outputs = per_sample.shape
    threads = np.zeros((grid * block, outputs))
    for i in range(n):  # sequential adds, as each thread accumulates
        threads[i % (grid * block)] += per_sample[i]
    partials = np.array([tree(threads[g * block : (g + 1) * block]) for g in range(grid)])
    lanes = np.zeros((block, outputs))
    for g in range(grid):
        lanes[g % block] += partials[g]
    return tree(lanes)


@pytest.mark.parametrize("n, block", [(1000, 32), (2500, 1)])  # the second: MAX_BLOCKS blocks, grid-stride
def test_deterministic_reduction_follows_the_documented_order_bit_for_bit(n, block):
    kernel = emulated(CASES[0])
    launcher = kernel.launcher
    args = kernel.arguments(CASES[0].values(n, np.random.default_rng(6)))
    data, params = args[: len(kernel.inputs)], np.array(args[len(kernel.inputs) :])
    per_sample = np.asarray(launcher.per_sample_grad(data, params))  # the same arithmetic per sample
    want = _fixed_order_sums(per_sample, block, min((n + block - 1) // block, MAX_BLOCKS))
    _, grads = launcher.loss_and_grad(data, params, deterministic=True, block=block)
    assert np.asarray(grads).tobytes() == want.tobytes()


def test_atomic_reduction_agrees_with_the_deterministic_one():
    case = CASES[0]
    kernel = emulated(case)
    values = case.values(N, np.random.default_rng(7))
    deterministic = kernel.loss_and_grad(values)
    kernel.deterministic = False
    atomic = kernel.loss_and_grad(values)
    assert atomic[0] == pytest.approx(deterministic[0], rel=1e-13)
    np.testing.assert_allclose(atomic[1], deterministic[1], rtol=1e-12, atol=1e-14)


def test_stable_forms_hold_at_extreme_data_in_the_fused_kernel():
    case = CASES[2]
    values = case.values(200, np.random.default_rng(8), scale=300.0)  # softplus(±300·a), sigmoid(...)...
    reference = case.compile("numpy").loss_and_grad(values)
    got = emulated(case).loss_and_grad(values)
    assert np.isfinite(got[0]) and np.all(np.isfinite(got[1]))
    assert got[0] == pytest.approx(reference[0], rel=1e-12)
    np.testing.assert_allclose(got[1], reference[1], rtol=1e-11)


def test_launcher_rejects_wrong_dtypes_shapes_counts_and_blocks():
    kernel = emulated(CASES[0])
    launcher = kernel.launcher
    args = kernel.arguments(CASES[0].values(10, np.random.default_rng(9)))
    data, params = args[:5], np.array(args[5:])
    with pytest.raises(TypeError, match="dtype float32; this kernel was generated for float64"):
        launcher.loss(data[:4] + [data[4].astype(np.float32)], params)
    with pytest.raises(ValueError, match=r"data y0 has shape \(9,\), expected \(10,\)"):
        launcher.loss(data[:4] + [data[4][:9]], params)
    with pytest.raises(TypeError, match="expected 5 data arrays"):
        launcher.loss(data[:4], params)
    with pytest.raises(ValueError, match=r"params has shape \(18,\)"):
        launcher.loss(data, params[:18])
    with pytest.raises(ValueError, match="power of two"):
        launcher.loss(data, params, block=48)
    with pytest.raises(ValueError, match="empty batch"):
        launcher.loss([d[:0] for d in data], params)


def test_kernel_interface_checks_values_with_our_errors():
    kernel = emulated(CASES[0])
    values = CASES[0].values(10, np.random.default_rng(10))
    values[models.seed().inputs[0]] = np.ones(9)
    with pytest.raises(ShapeError):
        kernel.grad(values)


def test_a_barrier_not_reached_by_every_thread_is_reported():
    source = """
    typedef double sg_real;
    extern "C" __global__ void sg_bad(sg_real* out) {
        if (threadIdx.x == 0) return;
        __syncthreads();
        out[threadIdx.x] = 1.0;
    }
    """
    bad = Backend().RawModule(code=source).get_function("sg_bad")
    with pytest.raises(SymgradError, match="__syncthreads"):
        bad((1,), (4,), (np.zeros(4),))


def test_emulated_shared_memory_is_shared_by_the_threads_of_a_block():
    """Each thread writes its slot, waits, then reads its neighbour's: wrong without a shared array
    or a real barrier."""
    source = """
    typedef double sg_real;
    extern "C" __global__ void sg_rotate(const sg_real* in, sg_real* out) {
        __shared__ sg_real slots[8];
        const unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
        slots[t] = in[i];
        __syncthreads();
        out[i] = slots[(t + 1) % blockDim.x];
    }
    """
    rotate = Backend().RawModule(code=source).get_function("sg_rotate")
    values, out = np.arange(16.0), np.zeros(16)
    rotate((2,), (8,), (values, out))
    np.testing.assert_array_equal(out, np.concatenate([np.roll(np.arange(8.0), -1), np.roll(np.arange(8.0, 16.0), -1)]))


def test_compiling_for_cuda_needs_no_cupy_until_the_kernel_runs():
    kernel = symgrad.compile(models.seed(), target="cuda", cache=False)
    assert 'extern "C" __global__ void sg_loss_grad(' in kernel.source
    assert "class Launcher" in kernel.launcher_source
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(symgrad.UnsupportedError, match=r"pip install 'symgrad\[cuda\]'"):
            kernel.grad(CASES[0].values(4, np.random.default_rng(0)))
