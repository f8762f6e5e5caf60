"""Writing a file so that a reader sees the old content or the new one, never a part of either: the
text goes to a temporary file beside it, is flushed to disk, and is renamed over it (`os.replace` is
atomic within one file system). The cache, checkpoints and generated modules all write this way."""

import os
import tempfile
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path, write, *, binary=False, private=True):
    """Call `write(fh)` on a temporary file beside `path`, then rename it to `path`; returns the path.

    `private` keeps mkstemp's 0600 (cache entries, checkpoints); otherwise the file gets the usual
    permissions under the umask (generated modules). Text is UTF-8 with '\\n' line ends."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:24]}.", suffix=".tmp")
    try:
        if not private:
            os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
