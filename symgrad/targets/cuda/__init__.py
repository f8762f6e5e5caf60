"""The CUDA target: `.cu` kernel sources and the Python launcher modules that run them (CuPy)."""
