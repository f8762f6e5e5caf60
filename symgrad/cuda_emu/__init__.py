"""Running generated CUDA kernels on a CPU, for tests and for users without a GPU.

`Backend()` stands in for the `cupy` module in a generated launcher: `RawModule(code=...)`
compiles the kernel source with the host C++ compiler after `cuda_emu.h` (CUDA's built-ins;
blocks in turn, the threads of a block as fibers, `__syncthreads` a barrier over them), its
functions are called like CuPy's (`kernel(grid, block, args)`), and arrays are numpy arrays.
The same launcher code and the same kernel text run here as on a GPU.
"""

import ctypes
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import SymgradError, UnsupportedError
from ..targets.templates import render, templates_beside

HEADER = Path(__file__).with_name("cuda_emu.h")
TEMPLATES = templates_beside(__file__)
COMPILERS = ("g++", "clang++", "c++")
FLAGS = ("-std=c++20", "-O1", "-shared", "-fPIC")
_KERNEL = re.compile(r'extern "C" __global__ void (\w+)\(')

# the C type of each scalar argument kind a launcher passes
SCALARS = {np.int64: ctypes.c_int64, np.int32: ctypes.c_int32, np.float64: ctypes.c_double, np.float32: ctypes.c_float}

_built = {}  # source digest -> loaded library, for this process
_workdir = None


def compiler():
    """The host C++ compiler the emulation uses, or None."""
    return next((path for path in map(shutil.which, COMPILERS) if path), None)


def _build(code):
    global _workdir
    digest = hashlib.sha256(code.encode() + HEADER.read_bytes()).hexdigest()[:24]
    if digest in _built:
        return _built[digest]
    cxx = compiler()
    if cxx is None:
        raise UnsupportedError(f"the CUDA emulation needs a C++20 compiler ({', '.join(COMPILERS)}); none found")
    if _workdir is None:
        _workdir = tempfile.TemporaryDirectory(prefix="symgrad-cuda-emu-")
    folder = Path(_workdir.name)
    (folder / f"{digest}.cu").write_text(code)
    harness = render(TEMPLATES, "emulation.cpp.j2", kernel_file=f"{digest}.cu", kernels=_KERNEL.findall(code))
    (folder / f"{digest}.cpp").write_text(harness)
    library = folder / f"{digest}.so"
    command = [cxx, *FLAGS, f"-I{HEADER.parent}", str(folder / f"{digest}.cpp"), "-o", str(library)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SymgradError(f"the host compiler rejected the kernel source (emulation build):\n{done.stderr[-4000:]}")
    _built[digest] = ctypes.CDLL(str(library))
    return _built[digest]


def _argument(value):
    """A ctypes object holding one kernel argument, as the device would receive it."""
    if isinstance(value, np.ndarray):
        if not value.flags.c_contiguous:
            raise ValueError("kernel array arguments must be contiguous")
        return ctypes.c_void_p(value.ctypes.data)
    for kind, ctype in SCALARS.items():
        if isinstance(value, kind):
            return ctype(value.item())
    raise TypeError(f"cannot pass {type(value).__name__} to a kernel; use numpy arrays and numpy scalars")


class Function:
    """One `__global__` function of an emulated module, called like a CuPy RawKernel."""

    def __init__(self, name, launch):
        self.name, self._launch = name, launch

    def __call__(self, grid, block, args):
        (grid, *grid_rest), (block, *block_rest) = tuple(grid), tuple(block)
        if any(d != 1 for d in grid_rest + block_rest):
            raise ValueError("the emulation runs one-dimensional grids and blocks only")
        holders = [_argument(a) for a in args]
        pointers = (ctypes.c_void_p * len(holders))(*[ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders])
        if self._launch(ctypes.c_uint(grid), ctypes.c_uint(block), pointers):
            raise SymgradError(
                f"{self.name}: some threads of a block waited at __syncthreads while others had returned "
                "(undefined behaviour on a GPU)"
            )


class RawModule:
    """Compiles `code` once (per process) for the host; like `cupy.RawModule`."""

    def __init__(self, code, options=()):
        self._library = _build(code)

    def get_function(self, name):
        return Function(name, getattr(self._library, f"sg_emu_launch_{name}"))


class Backend:
    """The part of the `cupy` module a generated launcher uses, on numpy arrays."""

    RawModule = RawModule

    @staticmethod
    def asnumpy(array):
        return np.asarray(array)

    def __getattr__(self, name):
        return getattr(np, name)
