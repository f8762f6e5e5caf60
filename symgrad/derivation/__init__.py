"""Derivation documents: a model's gradient derived step by step, beside the generated code."""

from ..matrix.graph import is_matrix_level
from .document import FORMATS, Derivation, derive_scalar
from .matrix_document import derive_matrix


def derive(model):
    """The derivation of a `symgrad.nn.Model`'s gradient, as a `Derivation`: scalar models step by
    step over their symbols (`document`), matrix-level ones with matrices (`matrix_document`)."""
    if is_matrix_level(model.loss, model.params):
        return derive_matrix(model)
    return derive_scalar(model)


__all__ = ["derive", "Derivation", "FORMATS"]
