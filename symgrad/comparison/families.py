"""Model families for `symgrad compare`: a bundled model's architecture at a chosen hidden width."""

from .. import nn
from ..errors import InvalidArgumentError

# family name -> width -> Model (the bundled model is the family member at its own width)
FAMILIES = {
    "seed": lambda w: nn.mlp([4, w, 1], activation="sigmoid", loss="squared_error", name=f"seed_4_{w}_1"),
    "perceptron": lambda w: nn.mlp([2, w, 2], activation="sigmoid", output_activation="identity",
                                   loss="softmax_cross_entropy", name=f"perceptron_2_{w}_2"),
}
DEFAULT_WIDTHS = (3, 8, 16, 32)


def family(name):
    """The width → Model function of a family; our error for an unknown name."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise InvalidArgumentError(
            f"no model family named {name!r}; families: {', '.join(sorted(FAMILIES))}"
        ) from None
