"""What the kernel cache saves: symgrad.compile with the cache off, on a miss, and on a hit.

Median of repeats, ratios printed. Run: PYTHONPATH=. python bench/cache_bench.py
"""

import statistics
import tempfile
import time

import symgrad
from symgrad import models, nn

REPEATS = 7


def median_seconds(fn):
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    cases = {"seed 4-3-1": models.seed(), "mlp 8-16-16-4": nn.mlp([8, 16, 16, 4], name="mlp_8_16_16_4")}
    print(f"{'model':<16}{'no cache (s)':>14}{'miss (s)':>12}{'hit (s)':>12}{'off/hit':>10}")
    for label, model in cases.items():
        off = median_seconds(lambda m=model: symgrad.compile(m, cache=False))

        def miss(m=model):
            with tempfile.TemporaryDirectory() as d:
                symgrad.compile(m, cache=d)

        with tempfile.TemporaryDirectory() as d:
            symgrad.compile(model, cache=d)
            hit = median_seconds(lambda m=model, d=d: symgrad.compile(m, cache=d))
        missed = median_seconds(miss)
        print(f"{label:<16}{off:>14.4f}{missed:>12.4f}{hit:>12.4f}{off / hit:>10.1f}")


if __name__ == "__main__":
    main()
