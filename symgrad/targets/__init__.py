"""Targets: an IR (`symgrad.ir`) printed as source text, numpy modules and CUDA kernels with launchers.

One package per target (`numpy`, `cuda`), each holding its printer, its renderers and its jinja2
templates (`templates/` beside its modules); the modules here are what they share. Each renderer
reads only the IR and the printers; it never calls the runtime that loads its output, and no target
imports another (pyproject.toml's import contracts).
"""
