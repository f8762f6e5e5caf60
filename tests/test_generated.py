"""`generated/` must be exactly what the current code renders (byte for byte)."""

import difflib
from pathlib import Path

import pytest

from symgrad import models
from symgrad.generate import RENDERERS, module_files

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "symgrad generate all -o generated"


@pytest.mark.parametrize("name", sorted(models.BUNDLED))
@pytest.mark.parametrize("target", sorted(RENDERERS))
def test_generated_module_is_fresh(name, target):
    for suffix, want in module_files(models.load(name), target).items():  # cuda: the .cu and its launcher
        path = ROOT / "generated" / target / f"{name}{suffix}"
        assert path.exists(), f"{path} is missing; run `{COMMAND}`"
        have = path.read_text()
        if have != want:
            diff = "".join(difflib.unified_diff(have.splitlines(True), want.splitlines(True), str(path), "rendered", n=1))
            pytest.fail(f"{path} is stale; run `{COMMAND}`\n{diff[:3000]}")


def test_generated_module_runs_like_compile():
    import numpy as np

    import symgrad
    from symgrad.runtime import load_module

    model = models.seed()
    module = load_module((ROOT / "generated" / "numpy" / "seed.py").read_text(), "seed_checked_in")
    kernel = symgrad.compile(model)
    args = kernel.arguments(models.example_values(model))
    np.testing.assert_allclose(module.loss_and_grad(*args)[1], kernel.module.loss_and_grad(*args)[1], rtol=0)
