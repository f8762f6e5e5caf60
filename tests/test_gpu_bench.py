"""bench/gpu_bench.py without a GPU: says why and measures nothing (figures are never invented)."""

import importlib.util
from pathlib import Path

import pytest


def _bench():
    path = Path(__file__).resolve().parent.parent / "bench" / "gpu_bench.py"
    spec = importlib.util.spec_from_file_location("gpu_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_bench_without_a_gpu_reports_the_reason_and_no_figures(capsys):
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a GPU is present: this checks the no-GPU path")
    except Exception:  # noqa: BLE001 - no cupy or no device: the case under test
        pass
    assert _bench().main(["--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "no GPU available" in out and "nothing measured" in out
    assert "ms" not in out and "GB/s" not in out
