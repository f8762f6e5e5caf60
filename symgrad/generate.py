"""Writing generated modules to disk: atomically, and only when their text changed."""

import os
import tempfile
from pathlib import Path

from . import models
from .compiler import build_ir
from .render.numpy_target import render_numpy

RENDERERS = {"numpy": (render_numpy, ".py")}


def write_atomic(path, text):
    """Write `text` to `path` via a temporary file and rename; skip when unchanged. Returns path."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def module_text(model, target="numpy"):
    render, _ = RENDERERS[target]
    return render(build_ir(model))


def write_model(name_or_path, out_dir, target="numpy"):
    model = models.load(name_or_path)
    _, suffix = RENDERERS[target]
    return write_atomic(Path(out_dir) / target / f"{model.name}{suffix}", module_text(model, target))


def write_bundled(out_dir, target="numpy"):
    """Regenerate the module of every bundled model (what `generated/` holds)."""
    return [write_model(name, out_dir, target) for name in sorted(models.BUNDLED)]
