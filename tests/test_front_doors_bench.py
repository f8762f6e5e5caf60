"""bench/front_doors.py runs, and refuses to time implementations that disagree (no speed asserted)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the front-door benchmark compares with torch eager (PyTorch is not installed)")
pytest.importorskip("threadpoolctl", reason="the benchmark pins BLAS to one thread with threadpoolctl")


def _bench():
    path = Path(__file__).resolve().parent.parent / "bench" / "front_doors.py"
    spec = importlib.util.spec_from_file_location("front_doors", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("spec", ["4-3-1", "6-5-3"])
def test_every_symgrad_front_door_agrees_with_torch_and_is_timed(spec):
    bench = _bench()
    names = [n for n in bench.ROWS if n.startswith("symgrad") or n == bench.BASELINE]
    rows = bench.measure(spec, "float64", names, repeats=1, min_time=0.001)
    assert [r[0] for r in rows] == names and all(r[1] > 0 and r[2] > 0 for r in rows)


def test_a_disagreeing_implementation_is_not_timed():
    bench = _bench()
    case = bench.make_case("4-3-1", "float64")
    good = bench.ROWS[bench.BASELINE](case)
    good.step()
    wrong = bench.Runner(lambda: None, lambda: [w + 1e-6 for w in good.weights()])
    with pytest.raises(AssertionError, match="disagrees"):
        bench.check_agree({bench.BASELINE: good, "wrong": wrong}, case)
