"""Symbolic (generated kernel) vs numeric autodiff across hidden widths: time, size, accuracy.

Run `PYTHONPATH=. python bench/compare_paths.py [FAMILY ...]` (default: seed perceptron). Each
evaluation time is the median of repeats in this run; the ratio column is autodiff / symbolic.
"""

import sys

from symgrad.comparison import compare


def main(families):
    for name in families:
        print(compare(name, repeats=7))
        print()


if __name__ == "__main__":
    main(sys.argv[1:] or ["seed", "perceptron"])
