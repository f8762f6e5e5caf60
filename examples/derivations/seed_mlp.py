"""The seed 4-3-1 sigmoid MLP (E = (ŷ − y)²): its gradient derived at scalar level.

Run `python examples/derivations/seed_mlp.py [OUT_DIR]`; writes seed_mlp.md and seed_mlp.tex.
"""

import sys
from pathlib import Path

from symgrad import models
from symgrad.derivation import derive

OUT = Path(__file__).resolve().parent / "out"


def build():
    return models.seed()


def main(out_dir=OUT):
    derivation = derive(build())
    for path in derivation.write(out_dir, "seed_mlp"):
        print(path)
    return derivation


if __name__ == "__main__":
    main(*sys.argv[1:2])
