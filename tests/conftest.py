import sys

import numpy as np
import pytest

from symgrad.cache import ENV_VAR

PYTHON_RECURSION_LIMIT = sys.getrecursionlimit()  # before any test module imports TensorFlow


@pytest.fixture(autouse=True)
def python_recursion_limit():
    """Importing TensorFlow raises the interpreter's recursion limit for the whole process (to
    3000); every test starts from Python's own, so a recursive pass cannot pass here only because
    a TensorFlow oracle test ran first."""
    sys.setrecursionlimit(PYTHON_RECURSION_LIMIT)
    yield


@pytest.fixture(scope="session", autouse=True)
def kernel_cache_directory(tmp_path_factory):
    """Kernels compiled with the default cache go to a directory of this test session, never the
    user's `~/.cache/symgrad`; tests of the cache itself pass their own directories (or set the
    variable again with monkeypatch), and subprocesses inherit the variable."""
    directory = tmp_path_factory.mktemp("symgrad-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, str(directory))
        yield directory


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
