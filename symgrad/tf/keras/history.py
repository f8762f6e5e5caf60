"""What `fit` returns and prints: Keras's `History` and its per-epoch progress lines.

verbose=1: a progress bar rewritten after every step (`\\r`), finished with the epoch's values;
verbose=2: one line per epoch; verbose=0: nothing. Values are running means over the samples
seen, printed with 4 decimals (`.4e` below 1e-3) in the order of the History keys (sorted, as
Keras's).
"""

import sys
import time


class History:
    """`history.history[key]` is one value per epoch for "loss", each metric and their "val_" forms."""

    def __init__(self, model=None, params=None):
        self.history, self.epoch = {}, []
        self.model, self.params = model, dict(params or {})

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


def verbosity(verbose):
    """Keras's verbose: "auto" means 1; 0, 1 and 2 only."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        from ...errors import InvalidArgumentError

        raise InvalidArgumentError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _value(v):
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def _per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def logs_text(logs):
    return "".join(f" - {k}: {_value(logs[k])}" for k in sorted(logs))


class Progress:
    """One epoch's (or one evaluation's) printed progress."""

    WIDTH = 20

    def __init__(self, steps, verbose, out=None):
        self.steps, self.verbose, self.out = steps, verbose, out or sys.stdout
        self.start = time.perf_counter()
        self.width = 0  # of the line written last, blanked out by a shorter one

    def _rewrite(self, text, end=""):
        self.out.write("\r" + text.ljust(self.width) + end)
        self.width = len(text)
        self.out.flush()

    def step(self, done, logs):
        if self.verbose != 1 or done == self.steps:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.steps - done)
        self._rewrite(f"{self._bar(done)} {eta:.0f}s {_per_step(elapsed / done)}{logs_text(logs)}")

    def finish(self, logs):
        elapsed = time.perf_counter() - self.start
        per = _per_step(elapsed / max(self.steps, 1))
        if self.verbose == 1:
            self._rewrite(f"{self._bar(self.steps)} {elapsed:.0f}s {per}{logs_text(logs)}", "\n")
        elif self.verbose == 2:
            self.out.write(f"{self.steps}/{self.steps} - {elapsed:.0f}s - {per}{logs_text(logs)}\n")
        self.out.flush()

    def _bar(self, done):
        filled = self.WIDTH * done // max(self.steps, 1)
        return f"{done}/{self.steps} " + "━" * filled + "─" * (self.WIDTH - filled)
