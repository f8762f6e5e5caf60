"""The `symgrad` command line."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symgrad.cli import main
from symgrad.errors import InvalidArgumentError

USER_MODEL = '''
import sympy as sp
import symgrad
from symgrad.nn import Model

x, y, w = sp.symbols("x y w")
model = Model("user", (symgrad.sigmoid(w * x) - y) ** 2, (w,), (x,), (y,), (symgrad.sigmoid(w * x),), {w: 0.5})
'''


def test_check_bundled_models(capsys):
    assert main(["check", "seed"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "W1_0_0" in out and "finite diff" in out
    assert main(["check", "perceptron"]) == 0


def test_check_user_model_file(tmp_path, capsys):
    path = tmp_path / "mymodel.py"
    path.write_text(USER_MODEL)
    assert main(["check", str(path)]) == 0
    assert "PASS" in capsys.readouterr().out


def test_generate_writes_module(tmp_path):
    assert main(["generate", "seed", "--target", "numpy", "-o", str(tmp_path)]) == 0
    text = (tmp_path / "numpy" / "seed.py").read_text()
    compile(text, "seed.py", "exec")
    assert "def loss_and_grad" in text


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["check", "no-such-model"]) == 2
    assert "no bundled model or file named 'no-such-model'" in capsys.readouterr().err


def test_demo_runs_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "symgrad", "demo", "-o", str(tmp_path), "--epochs", "200"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr
    assert "dE/dW2_0_0 = 2*h0*yp*(1 - yp)*(-y0 + yp)" in proc.stdout
    assert "PASS" in proc.stdout and "batch size 1: final loss" in proc.stdout
    assert (tmp_path / "loss_curve.png").stat().st_size > 1000
    assert (tmp_path / "seed_kernel.py").exists()


def test_generate_all_writes_every_target(tmp_path):
    """`symgrad generate all -o DIR` is the one command that rebuilds generated/ for every target."""
    from symgrad import models

    assert main(["generate", "all", "-o", str(tmp_path)]) == 0
    for name in models.BUNDLED:
        assert (tmp_path / "numpy" / f"{name}.py").exists()
        assert (tmp_path / "cuda" / f"{name}.cu").exists()


def test_generated_files_are_written_atomically_with_normal_permissions(tmp_path):
    import os
    import stat

    from symgrad.generate import write_atomic

    path = write_atomic(tmp_path / "sub" / "module.py", "x = 1\n")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_text() == "x = 1\n"
    assert [p.name for p in path.parent.iterdir()] == ["module.py"]  # no temporary left behind
    mtime = path.stat().st_mtime_ns
    write_atomic(path, "x = 1\n")  # unchanged text: the file is not rewritten
    assert path.stat().st_mtime_ns == mtime


def _run(*argv, timeout=120):
    return subprocess.run([sys.executable, "-m", "symgrad", *argv], capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)


def test_bad_arguments_end_before_any_work_with_one_line_and_status_2(tmp_path):
    existing = tmp_path / "a-file"
    existing.write_text("keep me")
    for argv in (["demo", "--epochs", "0", "-o", str(tmp_path / "demo")], ["demo", "-o", str(existing)],
                 ["generate", "seed", "-o", str(existing)], ["compare", "seed", "--widths", "3,x"]):
        proc = _run(*argv, timeout=60)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == "", (argv, proc.stderr)
        assert proc.stderr.strip().splitlines()[-1].startswith(f"symgrad {argv[0]}: error: argument "), proc.stderr
    assert existing.read_text() == "keep me" and not (tmp_path / "demo").exists()


def test_check_help_lists_every_bundled_model(capsys):
    from symgrad import models

    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in models.BUNDLED), text


NO_INIT_MODEL = '''
import sympy as sp
import symgrad
from symgrad.nn import Model

x, y, w, b = sp.symbols("x y w b")
model = Model("no_init", (symgrad.sigmoid(w * x + b) - y) ** 2, (w, b), (x,), (y,), (symgrad.sigmoid(w * x + b),))
'''


def test_check_model_without_init_draws_values_and_says_so(tmp_path, capsys):
    path = tmp_path / "noinit.py"
    path.write_text(NO_INIT_MODEL)
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "PASS" in out
    assert "has no `init` for w, b; checking at seeded random values" in err


def test_example_values_keep_given_init_and_draw_the_rest():
    import sympy as sp

    from symgrad import models
    from symgrad.nn import Model

    x, y, w, b = sp.symbols("x y w b")
    model = Model("partial", (w * x + b - y) ** 2, (w, b), (x,), (y,), (), {w: 0.25})
    first, again = models.example_values(model), models.example_values(model)
    assert first[w] == 0.25 and np.isfinite(first[b]) and first[b] == again[b]  # seeded: reproducible
    assert models.uninitialized(model) == [b]


def test_demo_refuses_bad_arguments_before_writing(tmp_path):
    from symgrad import demo

    for kw in ({"epochs": 0}, {"epochs": 2.5}, {"epochs": True}, {"lr": 0.0}):
        with pytest.raises(InvalidArgumentError, match="demo needs epochs"):
            demo.run(tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="0123456789,-+ x.", max_size=12))
def test_widths_argument_is_positive_integers_or_a_usage_error(text):
    import argparse

    from symgrad.cli import widths

    try:
        got = widths(text)
    except argparse.ArgumentTypeError as exc:
        assert repr(text) in str(exc)
    else:
        assert got and all(isinstance(v, int) and v >= 1 for v in got)
        assert got == [int(part) for part in text.split(",")]
