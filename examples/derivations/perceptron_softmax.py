"""The first seed text's perceptron: two inputs, two logits, softmax cross-entropy.

Run `python examples/derivations/perceptron_softmax.py [OUT_DIR]`; writes perceptron_softmax.md/.tex.
"""

import sys
from pathlib import Path

from symgrad import models
from symgrad.derivation import derive

OUT = Path(__file__).resolve().parent / "out"


def build():
    return models.perceptron()


def main(out_dir=OUT):
    derivation = derive(build())
    for path in derivation.write(out_dir, "perceptron_softmax"):
        print(path)
    return derivation


if __name__ == "__main__":
    main(*sys.argv[1:2])
