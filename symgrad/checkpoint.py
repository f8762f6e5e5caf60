"""Training checkpoints: parameters, optimizer state, position in the run and RNG state in one
`.npz` file, written to a temporary file and renamed into place, so a crash at any moment leaves
the previous checkpoint whole (never half of a new one)."""

import json
from pathlib import Path

import numpy as np

from .atomic import write_atomically
from .errors import InvalidArgumentError

FILE = "checkpoint.npz"
META = "__meta__"


def save(directory, arrays, meta):
    """Write `arrays` (name -> array) and the JSON-able `meta` atomically; returns the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return write_atomically(directory / FILE, binary=True, write=lambda fh: np.savez(
        fh, **arrays, **{META: np.array(json.dumps(meta, sort_keys=True))}))


def load(directory):
    """(arrays, meta) of the checkpoint in `directory`, or our error saying what is wrong."""
    path = Path(directory) / FILE
    if not path.is_file():
        raise InvalidArgumentError(f"no checkpoint to resume from in {directory} (expected {FILE})")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop(META)))
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidArgumentError(f"checkpoint {path} cannot be read ({exc}); delete it or resume from another") from None
    return arrays, meta
