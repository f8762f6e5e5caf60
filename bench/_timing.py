"""Shared timing helper for the benchmarks: median of repeats, ratios against a baseline."""

import time

import numpy as np


def median_seconds(fn, repeats=7, min_time=0.2):
    """Median over `repeats` of the per-call time of `fn`, each measured over ≥ `min_time` seconds."""
    fn()
    calls = 1
    while True:
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - t >= min_time / 4 or calls > 1_000_000:
            break
        calls *= 4
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t) / calls)
    return float(np.median(times))


def interleaved_medians(fns, repeats=7, min_time=0.2):
    """Median per-call seconds of each of `fns` (name → callable), their repeats taken in turn so
    that a change in machine load hits every one of them alike."""
    calls = {}
    for name, fn in fns.items():
        fn()
        n = 1
        while True:
            t = time.perf_counter()
            for _ in range(n):
                fn()
            if time.perf_counter() - t >= min_time / 4 or n > 1_000_000:
                break
            n *= 4
        calls[name] = n
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            times[name].append((time.perf_counter() - t) / calls[name])
    return {name: float(np.median(ts)) for name, ts in times.items()}


def table(rows, baseline):
    """Print `rows` (name → seconds) with each one's ratio to `baseline`."""
    base = rows[baseline]
    print(f"{'implementation':<34}{'time / step':>14}   ratio to {baseline}")
    for name, sec in rows.items():
        ratio = "n/a" if sec is None else f"{sec / base:.2f}x"
        shown = "n/a" if sec is None else f"{sec * 1e6:10.1f} us"
        print(f"{name:<34}{shown:>14}   {ratio}")
