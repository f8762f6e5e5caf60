"""The built wheel carries every package's templates/: install it into a fresh venv and render there with
each target's templates and the derivation's."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_and_generates(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = dist.glob("symgrad-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.relative_to(ROOT).as_posix() for p in (ROOT / "symgrad").rglob("*.j2")}
    assert templates and templates - shipped == set()  # a template the wheel lacks fails here, not in a user's run
    env_dir = tmp_path / "venv"
    # dependencies (sympy, numpy, jinja2...) come from the outer environment; symgrad only from the wheel
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import symgrad, sys; from symgrad.cli import main; "
        "assert 'site-packages' in symgrad.__file__, symgrad.__file__; "
        f"main(['generate', 'seed', '-o', {str(out)!r}]); "
        f"main(['generate', 'seed', '--target', 'cuda', '-o', {str(out)!r}]); "
        f"main(['generate', 'mlp_matrix', '-o', {str(out)!r}]); "
        f"sys.exit(main(['derive', 'seed', '-o', {str(out / 'seed.md')!r}]))"
    )
    proc = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "def loss_and_grad" in (out / "numpy" / "seed.py").read_text()
    assert "__global__" in (out / "cuda" / "seed.cu").read_text()
    assert "def loss_and_grad" in (out / "numpy" / "mlp_matrix.py").read_text()
    assert "$$" in (out / "seed.md").read_text()
