"""The `symgrad` command line."""

import subprocess
import sys
from pathlib import Path

from symgrad.cli import main

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
