"""Derivation documents: a model's gradient derived step by step, beside the generated code."""

from .document import FORMATS, Derivation, derive

__all__ = ["derive", "Derivation", "FORMATS"]
