"""`symgrad compare`: the symbolic and autodiff paths measured side by side across model sizes."""

from .families import DEFAULT_WIDTHS, FAMILIES, family
from .measure import Measurement, measure
from .report import ComparisonReport


def compare(name, widths=DEFAULT_WIDTHS, batch=256, repeats=5):
    """Measure every width of the family `name` (e.g. "seed": 4-w-1 sigmoid MLPs)."""
    build = family(name)
    return ComparisonReport(name, [measure(build(w), w, batch=batch, repeats=repeats) for w in widths])


__all__ = ["compare", "ComparisonReport", "Measurement", "FAMILIES", "DEFAULT_WIDTHS"]
