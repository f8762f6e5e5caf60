"""The package version, in a module of its own so that renderers and the cache can stamp it
without importing the package top (which imports every layer)."""

__version__ = "0.1.0"
