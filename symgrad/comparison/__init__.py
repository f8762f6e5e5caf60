"""`symgrad compare`: the symbolic and autodiff paths measured side by side across model sizes."""

import numbers
import time

from ..errors import InvalidArgumentError
from .families import DEFAULT_WIDTHS, FAMILIES, family
from .measure import Measurement, measure
from .report import ComparisonReport


def compare(name, widths=DEFAULT_WIDTHS, batch=256, repeats=5, progress=None):
    """Measure every width of the family `name` (e.g. "seed": 4-w-1 sigmoid MLPs).

    `progress(done, total, measurement, seconds)` is called after each width (the CLI prints it to
    stderr: a full run takes tens of seconds).
    """
    build = family(name)
    widths = list(widths)
    _check_counts(widths=widths, batch=[batch], repeats=[repeats])
    measurements = []
    for done, width in enumerate(widths, start=1):
        start = time.perf_counter()
        measurements.append(measure(build(width), width, batch=batch, repeats=repeats))
        if progress is not None:
            progress(done, len(widths), measurements[-1], time.perf_counter() - start)
    return ComparisonReport(name, measurements)


def _check_counts(**lists):
    """Every value a positive int (bool excluded), checked before any work starts."""
    for arg, values in lists.items():
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1]
        if bad or not values:
            raise InvalidArgumentError(f"compare: {arg} must be positive integers, got {values if arg == 'widths' else values[0]!r}")


__all__ = ["compare", "ComparisonReport", "Measurement", "FAMILIES", "DEFAULT_WIDTHS"]
