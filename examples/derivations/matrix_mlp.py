"""A two-layer MLP in matrix form (X: N×3 batch, tanh hidden layer of 4, softmax cross-entropy over 3
classes, mean over the batch): its gradient derived with matrices, δ₁ = (δ₂ W₂ᵀ) ⊙ tanh'(Z₁).

Run `python examples/derivations/matrix_mlp.py [OUT_DIR]`; writes matrix_mlp.md and matrix_mlp.tex.
"""

import sys
from pathlib import Path

from symgrad import nn
from symgrad.derivation import derive

OUT = Path(__file__).resolve().parent / "out"


def build():
    return nn.matrix_mlp([3, 4, 3], activation="tanh", loss="softmax_cross_entropy", name="matrix_mlp")


def main(out_dir=OUT):
    derivation = derive(build())
    for path in derivation.write(out_dir, "matrix_mlp"):
        print(path)
    return derivation


if __name__ == "__main__":
    main(*sys.argv[1:2])
