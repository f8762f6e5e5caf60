"""The on-disk kernel cache: generated modules stored under a content-addressed key.

The key hashes everything the generated text depends on: the expression DAG (structural hash),
the parameter and input symbols in order, the kernel name, target, dtype, differentiation method,
stable rewrites, symgrad's version and a fingerprint of its own source and templates, and the
toolchain's versions. An entry is one JSON file holding the module text and an HMAC-SHA256 of the
key and text under a per-user secret (`secret`): a checksum anyone can recompute is not enough,
since whoever can write the directory could then plant code that every later `compile` runs. An
entry is written to a temporary file and renamed into place, so readers see a whole entry or none,
and two processes building the same kernel both succeed and leave one valid entry. An entry that
fails authentication (truncated, edited, planted, not UTF-8, an older format) is never executed:
it is rebuilt and replaced.

`load_or_build` is the one path every kernel (scalar, matrix, the lifted kernel's two halves, both
levels' Hessians, a kernel loaded on a Dask worker from the text it was sent) takes through the
cache, so a key, its authentication and the rebuild of a bad entry mean the same for all of them.

The location is the `directory` argument, else the one documented environment variable
`SYMGRAD_CACHE_DIR`, else `~/.cache/symgrad`.
"""

import hashlib
import hmac
import json
import os
import platform
import secrets
import stat
import tempfile
from functools import cache
from pathlib import Path

from .atomic import write_atomically
from .dag import structural_hash
from .errors import CacheError
from .version import __version__

ENV_VAR = "SYMGRAD_CACHE_DIR"
FORMAT = 2  # 2: entries carry an HMAC (format 1's plain sha256 entries are rebuilt)
SUFFIX = ".json"
KEY_FILE = "secret.key"
KEY_BYTES = 32


def default_directory():
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "symgrad")


@cache
def code_fingerprint():
    """sha256 over symgrad's own modules and templates: a changed printer means a new key."""
    package = Path(__file__).resolve().parent
    files = sorted(package.rglob("*.py")) + sorted(package.rglob("*.j2"))
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


def secret(directory):
    """The cache's HMAC key: 32 random bytes in `directory/secret.key`, mode 0600, made on first use.

    Creation is atomic and race-safe across processes: the key is written whole to a private
    temporary file and hard-linked into place, which fails if another process linked first; every
    process then reads the one file that won. A key file that another user owns, that others may
    read or write, or that is not a plain file of the right size is refused: entries signed with it
    prove nothing.
    """
    directory = Path(directory)
    path = directory / KEY_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".key.", suffix=".tmp")  # mkstemp: 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first; use theirs
        finally:
            os.unlink(tmp)
        return _read_secret(path)
    except FileNotFoundError as exc:
        raise CacheError(f"cache key {path} vanished while being created ({exc}); run the command again") from None
    except OSError as exc:
        raise CacheError(f"cannot create cache key {path}: {exc}; pass cache=False or another cache directory") from None


def _open_read(path, follow=True, limit=-1):
    """(stat, bytes) of `path`, opened without blocking so a planted FIFO cannot hang a compile;
    the bytes are None when it is not a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags), "rb") as fh:
        info = os.fstat(fh.fileno())
        return info, (fh.read(limit) if stat.S_ISREG(info.st_mode) else None)


def _read_secret(path):
    try:
        info, data = _open_read(path, follow=False, limit=KEY_BYTES + 1)
    except FileNotFoundError:
        raise  # the caller creates it
    except OSError as exc:
        raise CacheError(f"cannot read cache key {path}: {exc}; remove it or pass another cache directory") from None
    problem = None
    if data is None:
        problem = "is not a regular file"
    elif hasattr(os, "getuid") and info.st_uid != os.getuid():
        problem = f"belongs to another user (uid {info.st_uid})"
    elif os.name == "posix" and info.st_mode & 0o077:
        problem = f"is readable or writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    elif len(data) != KEY_BYTES:
        problem = f"holds {len(data)} bytes, not {KEY_BYTES}"
    if problem:
        raise CacheError(f"cache key {path} {problem}; delete it (entries signed with it are then rebuilt) "
                         "or pass cache=False or another cache directory")
    return data


class KernelCache:
    """A cache directory; `load` returns verified module text or None, `store` writes atomically."""

    def __init__(self, directory=None):
        self.directory = Path(directory) if directory is not None else default_directory()
        self._secret = None

    def _mac(self, key, source):
        if self._secret is None:
            self._secret = secret(self.directory)
        return hmac.new(self._secret, key.encode() + b"\0" + source.encode("utf-8"), hashlib.sha256).hexdigest()

    def __repr__(self):
        return f"KernelCache({str(self.directory)!r})"

    def path(self, key):
        return self.directory / key[:2] / f"{key}{SUFFIX}"

    def load(self, key):
        """(source, status): status "hit", "miss", or "corrupt" (then source is None)."""
        path = self.path(key)
        try:
            raw = _open_read(path)[1]
        except FileNotFoundError:
            return None, "miss"
        except OSError as exc:
            raise CacheError(f"cannot read cache entry {path}: {exc}; check permissions or run `symgrad cache clear`") from None
        try:
            entry = json.loads(raw.decode("utf-8"))  # not a regular file: None has no .decode
            source = entry["source"]
            ok = (entry["format"] == FORMAT and entry["key"] == key and isinstance(source, str)
                  and hmac.compare_digest(entry["hmac"], self._mac(key, source)))
        except (ValueError, KeyError, TypeError, AttributeError):  # UnicodeError is a ValueError
            ok = False
        return (source, "hit") if ok else (None, "corrupt")

    def store(self, key, source):
        """Write the entry for `key` atomically (a temporary file renamed into place)."""
        path = self.path(key)
        text = json.dumps({"format": FORMAT, "key": key, "hmac": self._mac(key, source), "source": source}, sort_keys=True)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.parent.mkdir(exist_ok=True)
            write_atomically(path, lambda fh: fh.write(text))
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


def load_or_build(store, key, build, accept=None):
    """(source, ir, status) of the kernel keyed `key`: the verified entry's text ("hit", ir None: the
    kernel rebuilds it only if asked), else `build()`'s (ir, source), stored ("miss", or "rebuilt" in
    place of an entry that failed authentication or that `accept(text)` refuses: a Dask worker
    accepts only the text it was sent). `store` None (cache=False) builds: status "off"."""
    if store is None:
        ir, source = build()
        return source, ir, "off"
    source, status = store.load(key)
    if source is not None and (accept is None or accept(source)):
        return source, None, status
    ir, source = build()
    store.store(key, source)
    return source, ir, "miss" if status == "miss" else "rebuilt"


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
