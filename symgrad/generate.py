"""Writing generated modules to disk: atomically, and only when their text changed."""

from pathlib import Path

from . import models
from .atomic import write_atomically
from .compiler import build_ir
from .matrix.graph import is_matrix_level
from .matrix.kernel import build_matrix_ir
from .targets.cuda.scalar import render_cuda
from .targets.numpy.matrix import render_numpy_matrix
from .targets.numpy.scalar import render_numpy


def _cuda_files(ir):
    sources = render_cuda(ir)
    return {".cu": sources.kernel, ".py": sources.launcher}


# target -> IR to {file suffix: text}
RENDERERS = {"numpy": lambda ir: {".py": render_numpy(ir)}, "cuda": _cuda_files}


def write_atomic(path, text):
    """Write `text` to `path` via a temporary file and rename; skip when unchanged. Returns path."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda fh: fh.write(text), private=False)


def _matrix_cuda_files(ir):
    from .targets.cuda.matrix import render_cuda_matrix

    sources = render_cuda_matrix(ir)
    return {".cu": sources.kernel, ".py": sources.launcher}


# target -> matrix IR to {file suffix: text} (matrix-level models)
MATRIX_RENDERERS = {"numpy": lambda ir: {".py": render_numpy_matrix(ir)}, "cuda": _matrix_cuda_files}


def module_files(model, target="numpy"):
    """{file suffix: generated text} of `model` for `target` (numpy: one module; cuda: .cu and .py)."""
    if is_matrix_level(model.loss, model.params):
        ir = build_matrix_ir(model.loss, model.params, model.data, model.outputs, model.name)
        return MATRIX_RENDERERS[target](ir)
    return RENDERERS[target](build_ir(model))


def write_model(name_or_path, out_dir, target="numpy"):
    """Write the generated file(s) of a model; returns the paths."""
    model = models.load(name_or_path)
    files = module_files(model, target)
    return [write_atomic(Path(out_dir) / target / f"{model.name}{suffix}", text) for suffix, text in files.items()]


def write_bundled(out_dir, target="numpy"):
    """Regenerate the files of every bundled model (what `generated/` holds)."""
    return [path for name in sorted(models.BUNDLED) for path in write_model(name, out_dir, target)]
