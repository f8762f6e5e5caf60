"""The CUDA target's generated text: PTX for sm_80/sm_90, determinism, hostile names, CLI.

(Freshness of generated/cuda is checked with the other targets in test_generated.py.)
"""

import re
from pathlib import Path

import numpy as np
import pytest
from cuda_cases import ARCHS, CASES, DTYPES, HAVE_CXX, NVCC, needs_nvcc, ptx
from test_hostile_names import SENTINEL, _model, _values, hostile_names

import symgrad
from symgrad import autodiff, models
from symgrad.cli import main
from symgrad.compiler import build_ir
from symgrad.cuda_emu import Backend
from symgrad.cuda_launcher import MatrixLauncher, SampleLauncher
from symgrad.ir import Assign
from symgrad.matrix.graph import is_matrix_level
from symgrad.matrix.kernel import build_matrix_ir
from symgrad.targets.cuda.matrix import render_cuda_matrix
from symgrad.targets.cuda.scalar import render_cuda

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ("sg_reduce", "sg_loss", "sg_loss_grad", "sg_per_sample_grad", "sg_predict")


@needs_nvcc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_generated_kernel_compiles_to_ptx(case, dtype, arch, tmp_path):
    text = ptx(case.compile("cuda", dtype).source, arch, tmp_path)
    assert f".target {arch}" in text
    for name in KERNELS:
        assert f".entry {name}(" in text
    if dtype == "float32":  # no silent promotion to double anywhere
        assert not re.search(r"\.f64\b", text), "float32 kernel computes in double"


def _sample_loop(entry):
    """The line numbers of a PTX entry's longest loop (label … backward branch): its loop over samples."""
    lines = entry.splitlines()
    labels = {line.strip()[:-1]: i for i, line in enumerate(lines) if re.fullmatch(r"\$L__\w+:", line.strip())}
    loops = [range(labels[m.group(1)], i) for i, line in enumerate(lines)
             if (m := re.search(r"bra(?:\.uni)?\s+(\$L__\w+);", line)) and labels.get(m.group(1), i) < i]
    return max(loops, key=len)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_entry_kernels_call_shared_device_functions_instead_of_repeating_the_body(case):
    """Each per-sample computation is one `__device__` function; the backward pass is written once
    (sg_loss_grad and sg_per_sample_grad both call sg_sample_grad)."""
    kernel = case.compile("cuda")
    assert kernel.source.count("__device__ __forceinline__ void sg_sample_") == 3
    assert kernel.source.count("sg_sample_grad(sg_params, ") == 2
    backward = [st.target for st in kernel.ir.statements if st.phase.value == "backward" and isinstance(st, Assign)]
    assert backward and all(kernel.source.count(f"const sg_real {t} = ") == 1 for t in backward)


def _loads_through(entry, param):
    """The `ld.global` lines of a PTX entry that read through its pointer argument number `param`."""
    name = re.match(r"(\w+)\(", entry).group(1)
    registers = set(re.findall(rf"ld\.param\.u64\s+(%rd\d+), \[{name}_param_{param}\];", entry))
    for target, source in re.findall(r"(?:cvta\.to\.global\.u64|mov\.u64)\s+(%rd\d+), (%rd\d+);", entry):
        if source in registers:
            registers.add(target)
    return [i for i, line in enumerate(entry.splitlines())
            if "ld.global" in line and any(re.search(rf"\[{r}(\+\d+)?\]", line) for r in registers)]


@needs_nvcc
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_inlined_device_functions_read_the_parameters_once_per_thread(case, tmp_path):
    """In the PTX, no entry kernel loads a parameter inside its loop over samples: the parameter
    loads of the inlined device function are hoisted out of it, as in a hand-fused kernel."""
    kernel = case.compile("cuda")
    text = ptx(kernel.source, "sm_90", tmp_path)
    for name in ("sg_loss", "sg_loss_grad", "sg_per_sample_grad", "sg_predict"):
        entry = text[text.index(f".entry {name}(") + len(".entry "):]
        entry = entry[:entry.find(".visible .entry")] if ".visible .entry" in entry else entry
        params = _loads_through(entry, len(kernel.ir.data))  # sg_params follows the data pointers
        assert params, f"{name}: found no parameter loads at all (the check would pass vacuously)"
        loop = _sample_loop(entry)
        assert not [i for i in params if i in loop], f"{name} loads parameters once per sample"


@needs_nvcc
@pytest.mark.parametrize("arch", ARCHS)
def test_checked_in_kernels_compile_to_ptx(arch, tmp_path):
    sources = sorted((ROOT / "generated" / "cuda").glob("*.cu"))
    assert {p.stem for p in sources} == set(models.BUNDLED)
    matrix = {name for name in models.BUNDLED if is_matrix_level(models.load(name).loss)}  # one kernel per fused block
    for path in sources:
        assert (".entry " if path.stem in matrix else ".entry sg_loss_grad(") in ptx(path.read_text(), arch, tmp_path)


def test_rendering_is_deterministic():
    first = render_cuda(build_ir(models.seed()))
    second = render_cuda(build_ir(models.seed()))
    assert first == second


def _launcher_class(source):
    namespace = {}
    exec(compile(source, "<launcher>", "exec"), namespace)  # noqa: S102
    return namespace["Launcher"]


def test_generated_launchers_subclass_the_shared_launcher_instead_of_copying_it():
    """A scalar model's launcher module is constants only; a matrix model's adds just its methods."""
    scalar = _launcher_class(render_cuda(build_ir(models.seed())).launcher)
    assert scalar.__bases__ == (SampleLauncher,)
    assert [name for name, value in vars(scalar).items() if callable(value)] == []
    m = models.mlp_matrix()
    matrix = _launcher_class(render_cuda_matrix(build_matrix_ir(m.loss, m.params, m.data, m.outputs, m.name)).launcher)
    assert matrix.__bases__ == (MatrixLauncher,)
    assert sorted(name for name, value in vars(matrix).items() if callable(value)) == ["loss", "loss_and_grad", "predict"]


def test_generated_launcher_module_runs_from_its_folder(tmp_path):
    """`symgrad generate --target cuda` writes the .cu and a launcher whose `load()` reads it."""
    assert main(["generate", "perceptron", "--target", "cuda", "-o", str(tmp_path)]) == 0
    folder = tmp_path / "cuda"
    assert sorted(p.name for p in folder.iterdir()) == ["perceptron.cu", "perceptron.py"]
    namespace = {"__file__": str(folder / "perceptron.py")}
    exec(compile((folder / "perceptron.py").read_text(), str(folder / "perceptron.py"), "exec"), namespace)  # noqa: S102
    assert namespace["Launcher"].PARAMS == tuple(str(p) for p in models.perceptron().params)
    if not HAVE_CXX:
        pytest.skip("no host C++20 compiler: the launcher's emulated run is not checked")
    launcher = namespace["load"](Backend())
    model = models.perceptron()
    X, Y = models.perceptron_data(20)
    data = [np.ascontiguousarray(c) for c in [*X.T, *Y.T]]
    params = np.array([model.init[p] for p in model.params])
    loss, grads = launcher.loss_and_grad(data, params)
    values = {**model.initial_values(), **models.data_values(model, X, Y)}
    expected = autodiff.backward(model.loss, list(model.params), values)
    assert float(loss) == pytest.approx(float(np.sum(expected.value)), rel=1e-12)
    np.testing.assert_allclose(grads, expected.grads, rtol=1e-11, atol=1e-13)


def _code_only(source):
    """The kernel text without its comments (names may appear there, escaped)."""
    return "\n".join(line.split("//")[0] for line in source.splitlines())


def test_hostile_names_give_safe_cuda_that_compiles_and_stays_correct(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = hostile_names(tmp_path / SENTINEL) + ["exp", "threadIdx", "x_", "sg_out", "sg_real", "params", "atomicAdd"]
    loss, params, data = _model(names)
    kernel = symgrad.compile(loss, wrt=params, inputs=data, target="cuda", cache=False)
    code = _code_only(kernel.source)
    assert code.isascii()
    assert not {"system", "__import__", "PWNED"} & set(re.findall(r"\w+", code))
    if NVCC:
        ptx(kernel.source, "sm_80", tmp_path)
    if HAVE_CXX:
        values = _values(params, data, 40, np.random.default_rng(0))
        expected = autodiff.backward(loss, params, values)
        np.testing.assert_allclose(kernel.on(Backend()).grad(values), expected.grads, rtol=1e-11, atol=1e-12)
    assert not (tmp_path / SENTINEL).exists(), "a name was executed"
