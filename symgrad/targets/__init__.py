"""Targets: an IR (`symgrad.ir`) printed as source text, numpy modules and CUDA kernels with launchers.

Each renderer reads only the IR and the printers; it never calls the runtime that loads its output.
"""
