"""The on-disk kernel cache: generated modules stored under a content-addressed key.

The key hashes everything the generated text depends on: the expression DAG (structural hash),
the parameter and input symbols in order, the kernel name, target, dtype, differentiation method,
stable rewrites, symgrad's version and a fingerprint of its own source and templates, and the
toolchain's versions. An entry is one JSON file holding the module text and the sha256 of that
text; it is written to a temporary file and renamed into place, so readers see a whole entry or
none, and two processes building the same kernel both succeed and leave one valid entry. An entry
whose hash does not match (truncated, edited) is never executed: it is rebuilt and replaced.

The location is the `directory` argument, else the one documented environment variable
`SYMGRAD_CACHE_DIR`, else `~/.cache/symgrad`.
"""

import hashlib
import json
import os
import platform
import tempfile
from functools import cache
from pathlib import Path

from .dag import structural_hash
from .errors import CacheError
from .version import __version__

ENV_VAR = "SYMGRAD_CACHE_DIR"
FORMAT = 1
SUFFIX = ".json"


def default_directory():
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "symgrad")


@cache
def code_fingerprint():
    """sha256 over symgrad's own modules and templates: a changed printer means a new key."""
    from .render.templates import template_dir

    package = Path(__file__).resolve().parent
    files = sorted(package.rglob("*.py")) + sorted(template_dir().rglob("*.j2"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _version(module):
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a missing distribution just means "not part of the toolchain"
        return None


# target -> the tools whose versions change what a cached entry means
TOOLCHAINS = {
    "numpy": ("numpy", "sympy", "jinja2"),
    "cuda": ("numpy", "sympy", "jinja2", "cupy", "cupy-cuda12x", "cupy-cuda13x"),
}


def toolchain(target):
    tools = TOOLCHAINS.get(target, TOOLCHAINS["numpy"])
    return {"python": platform.python_version(), **{t: _version(t) for t in tools}}


def kernel_key(expr, wrt, inputs, outputs, name, target, dtype, method, rewrites):
    """The content address of a kernel (a sha256 hex digest)."""
    from sympy import srepr

    parts = {
        "format": FORMAT,
        "expression": structural_hash([expr, *outputs]),
        "outputs": len(outputs),
        "wrt": [srepr(s) for s in wrt],
        "inputs": [srepr(s) for s in inputs],
        "name": name,
        "target": target,
        "dtype": dtype,
        "method": method,
        "rewrites": None if rewrites is None else list(rewrites),
        "symgrad": __version__,
        "code": code_fingerprint(),
        "toolchain": toolchain(target),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _digest(source):
    return hashlib.sha256(source.encode()).hexdigest()


class KernelCache:
    """A cache directory; `load` returns verified module text or None, `store` writes atomically."""

    def __init__(self, directory=None):
        self.directory = Path(directory) if directory is not None else default_directory()

    def __repr__(self):
        return f"KernelCache({str(self.directory)!r})"

    def path(self, key):
        return self.directory / key[:2] / f"{key}{SUFFIX}"

    def load(self, key):
        """(source, status): status "hit", "miss", or "corrupt" (then source is None)."""
        path = self.path(key)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, "miss"
        except OSError as exc:
            raise CacheError(f"cannot read cache entry {path}: {exc}; check permissions or run `symgrad cache clear`") from None
        try:
            entry = json.loads(raw)
            ok = entry["format"] == FORMAT and entry["key"] == key and entry["sha256"] == _digest(entry["source"])
        except (ValueError, KeyError, TypeError, AttributeError):
            ok = False
        return (entry["source"], "hit") if ok else (None, "corrupt")

    def store(self, key, source):
        """Write the entry for `key` atomically (a temporary file renamed into place)."""
        path = self.path(key)
        text = json.dumps({"format": FORMAT, "key": key, "sha256": _digest(source), "source": source}, sort_keys=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:16]}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise CacheError(f"cannot write cache entry {path}: {exc}; pass cache=False or another cache directory") from None
        return path

    def entries(self):
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"??/*{SUFFIX}"))

    def info(self):
        files = self.entries()
        return {"directory": str(self.directory), "entries": len(files), "bytes": sum(f.stat().st_size for f in files)}

    def clear(self):
        """Remove every entry (and stray temporary files); returns the number of entries removed."""
        files = self.entries()
        for f in files:
            f.unlink(missing_ok=True)
        if self.directory.is_dir():
            for tmp in self.directory.glob("??/.*.tmp"):
                tmp.unlink(missing_ok=True)
            for sub in self.directory.glob("??"):
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
        return len(files)


def resolve(cache):
    """`cache=` of `symgrad.compile` as a KernelCache or None: True (default place), False/None
    (off), a directory, or a KernelCache."""
    if cache is True:
        return KernelCache()
    if cache is False or cache is None:
        return None
    if isinstance(cache, KernelCache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        return KernelCache(cache)
    from .errors import InvalidArgumentError

    raise InvalidArgumentError(f"cache must be True, False, a directory or a KernelCache, got {cache!r}")
