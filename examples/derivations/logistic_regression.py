"""Logistic regression on three features, E = softplus(z) − y·z with z = w·x + b (the
cross-entropy of p = σ(z), in its stable form): the gradient derived at scalar level, then the
Hessian by symbolic reverse mode applied twice, and both in matrix form over a batch,

    ∇E = X̃ᵀ(p − y),        ∇²E = X̃ᵀ diag(p ⊙ (1 − p)) X̃        (X̃ = [X 1]).

Run `python examples/derivations/logistic_regression.py [OUT_DIR]`; writes logistic_regression.md/.tex.
"""

import sys
from pathlib import Path

from symgrad import nn, sigmoid
from symgrad.derivation import derive
from symgrad.derivation.hessian import hessian_section, linear_model_section

OUT = Path(__file__).resolve().parent / "out"


def build():
    return nn.mlp([3, 1], output_activation="identity", loss="binary_cross_entropy_with_logits",
                  name="logistic_regression")


def main(out_dir=OUT):
    derivation = derive(build())
    derivation.sections += [hessian_section(derivation), linear_model_section(derivation, {sigmoid: "p"})]
    for path in derivation.write(out_dir, "logistic_regression"):
        print(path)
    return derivation


if __name__ == "__main__":
    main(*sys.argv[1:2])
