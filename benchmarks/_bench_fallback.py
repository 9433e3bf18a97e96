"""A stand-in for ``benchmarks/_timing.compare`` until the shared harness exists.

Same interface: times every candidate in one process, in interleaved rounds, and
prints the median per call, the spread (interquartile range), the ratio to the
baseline, and the first call (compile) time separately.
"""

from __future__ import annotations

import time

import jax
import numpy as np


def _block(out):
    jax.tree.map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, out)


def compare(candidates, baseline, rounds=20, number=10):
    compile_s = {}
    for name, fn in candidates.items():
        t0 = time.perf_counter()
        _block(fn())
        compile_s[name] = time.perf_counter() - t0
    samples = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            for _ in range(number):
                out = fn()
            _block(out)
            samples[name].append((time.perf_counter() - t0) / number * 1e3)
    base = float(np.median(samples[baseline]))
    header = ("candidate", "median ms", "IQR ms", "ratio", "first call s")
    print("{:22s} {:>10s} {:>8s} {:>6s} {:>13s}".format(*header))
    for name, s in samples.items():
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        print(f"{name:22s} {med:10.3f} {q3 - q1:8.3f} {med / base:6.2f} {compile_s[name]:13.2f}")
    return {name: float(np.median(s)) for name, s in samples.items()}
