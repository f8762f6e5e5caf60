"""The CUDA kernels on a real GPU through CuPy, against the numpy target and PyTorch CUDA.

Marked `gpu` (excluded by default; run with `python -m pytest -m gpu`). Each test skips with the
reason when CuPy or a CUDA device is missing.
"""

import numpy as np
import pytest
from cuda_cases import CASES, DTYPES

from symgrad import models

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cupy():
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'symgrad[cuda]')")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except cp.cuda.runtime.CUDARuntimeError as exc:
        pytest.skip(f"no usable CUDA device: {exc}")
    return cp


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gpu_loss_and_gradient_match_the_numpy_target(cupy, case, dtype):
    values = case.values(100_000, np.random.default_rng(0))
    want_loss, want_grad = case.compile("numpy", "float64").loss_and_grad(values)
    magnitude = np.abs(case.compile("numpy", "float64").per_sample_grad(values)).sum(axis=0)
    kernel = case.compile("cuda", dtype)
    rtol = 1e-11 if dtype == "float64" else 5e-5
    for deterministic in (True, False):
        kernel.deterministic = deterministic
        got_loss, got_grad = kernel.loss_and_grad(values)
        assert got_loss == pytest.approx(want_loss, rel=rtol)
        assert np.all(np.abs(np.array(got_grad) - want_grad) <= rtol * magnitude + 1e-300)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gpu_per_sample_gradients_and_predictions_match_the_numpy_target(cupy, case):
    values = case.values(10_000, np.random.default_rng(1))
    reference, kernel = case.compile("numpy"), case.compile("cuda")
    np.testing.assert_allclose(kernel.per_sample_grad(values), reference.per_sample_grad(values), rtol=1e-11, atol=1e-13)
    for got, want in zip(kernel.predict(values), reference.predict(values), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_gpu_deterministic_reduction_repeats_bit_for_bit(cupy):
    kernel = CASES[0].compile("cuda")
    values = CASES[0].values(1_000_000, np.random.default_rng(2))
    first = kernel.loss_and_grad(values)
    assert all(kernel.loss_and_grad(values) == first for _ in range(5))


def test_gpu_seed_gradient_matches_pytorch_cuda(cupy):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA device (CPU-only build or no GPU)")
    model = models.seed()
    values = CASES[0].values(100_000, np.random.default_rng(3))
    init = model.initial_values()
    W1 = torch.tensor([[init[p] for p in model.params[:12]]], dtype=torch.float64, device="cuda").reshape(4, 3)
    b1 = torch.tensor([init[p] for p in model.params[12:15]], dtype=torch.float64, device="cuda")
    W2 = torch.tensor([init[p] for p in model.params[15:18]], dtype=torch.float64, device="cuda").reshape(3, 1)
    b2 = torch.tensor([init[model.params[18]]], dtype=torch.float64, device="cuda")
    for t in (W1, b1, W2, b2):
        t.requires_grad_(True)
    X = torch.tensor(np.column_stack([values[s] for s in model.inputs]), device="cuda")
    Y = torch.tensor(np.column_stack([values[s] for s in model.targets]), device="cuda")
    loss = ((torch.sigmoid(torch.sigmoid(X @ W1 + b1) @ W2 + b2) - Y) ** 2).sum()
    loss.backward()
    want = np.concatenate([W1.grad.flatten().cpu(), b1.grad.cpu(), W2.grad.flatten().cpu(), b2.grad.cpu()])
    got_loss, got_grad = CASES[0].compile("cuda").loss_and_grad(values)
    assert got_loss == pytest.approx(loss.item(), rel=1e-11)
    np.testing.assert_allclose(got_grad, want, rtol=1e-10, atol=1e-12)
