"""The timing harness every jnn benchmark uses.

``compare`` times several candidates (zero-argument callables that run one workload and
return its result) in one process, in interleaved rounds: each round runs every
candidate once, in a freshly shuffled order, so slow drifts of a shared machine (other
processes, thermal throttling, frequency scaling) hit all candidates alike. It reports,
per candidate, the median time per call, the interquartile range, the minimum, the ratio
of medians to the baseline, and the median and interquartile range of the per-round
ratios (each round's candidate time over the same round's baseline time: a paired measure
that stays tight even when the machine's speed wanders between rounds).

Compile time is reported separately by ``compile_time`` (trace + lower, and XLA
compilation, of a jitted function), and ``compiled_stats`` counts the ops and flops of the
optimized program, to check that two implementations compile to the same computation.

Quick mode (CI smoke runs): ``--quick`` on the command line or ``JNN_BENCH_QUICK=1`` in the
environment makes ``compare`` use 3 rounds and short samples; see ``is_quick``.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from _timing import compare
    >>> x = jnp.ones((256, 256))
    >>> f = jax.jit(lambda x: x @ x)
    >>> g = jax.jit(lambda x: jnp.dot(x, x.T))
    >>> res = compare({"matmul": lambda: f(x), "dot_t": lambda: g(x)}, "matmul")  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import gc
import math
import os
import random
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

__all__ = [
    "is_quick",
    "compare",
    "compile_time",
    "compiled_stats",
    "print_table",
]

_QUICK_ENV = "JNN_BENCH_QUICK"


def is_quick(argv: list[str] | None = None) -> bool:
    """True when ``--quick`` is among the arguments or ``JNN_BENCH_QUICK`` is 1/true/yes."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ.get(_QUICK_ENV, "").strip().lower()
    return "--quick" in argv or env in ("1", "true", "yes", "on")


def _run(fn: Callable[[], Any]) -> Any:
    return jax.block_until_ready(fn())


def _time_once(fn: Callable[[], Any]) -> float:
    """Median of three timed calls (one call alone is too noisy on a shared machine)."""
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        _run(fn)
        times.append(time.perf_counter() - t0)
    return max(float(np.median(times)), 1e-7)


def compare(
    candidates: Mapping[str, Callable[[], Any]],
    baseline: str,
    *,
    rounds: int | None = None,
    number: int | Mapping[str, int] | None = None,
    warmup: int = 1,
    title: str | None = None,
    quick: bool | None = None,
    target_sample_s: float | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, dict[str, Any]]:
    """Time candidates against a baseline in one process, in shuffled interleaved rounds.

    Args:
      candidates: name -> zero-argument callable running the workload once; its result is
        passed to ``jax.block_until_ready``, so asynchronous dispatch is always waited for.
      baseline: the name of the candidate the ratios are relative to.
      rounds: number of rounds (samples per candidate); default 21, or 3 in quick mode.
      number: calls per sample (one int for all, or per name); default: the same for all
        candidates, so that a sample of the slowest one takes about ``target_sample_s``.
      warmup: untimed calls per candidate before timing (these include compilation).
      title: printed above the table.
      quick: force quick mode on/off; default ``is_quick()``.
      target_sample_s: calibration target; default 0.05 s, or 0.005 s in quick mode.
      seed: seed of the per-round shuffles.
      verbose: print the table.

    Returns:
      name -> dict with ``median_s``, ``q1_s``, ``q3_s``, ``min_s``, ``max_s`` (per call),
      ``ratio`` (median / baseline median), ``ratio_paired``, ``ratio_q1``, ``ratio_q3``
      (median and quartiles of the per-round ratios), ``number``, ``rounds`` and
      ``samples_s`` (per-call time of every round).
    """
    if not candidates:
        raise ValueError("compare: candidates is empty; pass {name: zero-arg callable}.")
    if baseline not in candidates:
        raise ValueError(
            f"compare: baseline {baseline!r} is not a candidate; choose one of "
            f"{sorted(candidates)}."
        )
    for name, fn in candidates.items():
        if not callable(fn):
            raise TypeError(f"compare: candidate {name!r} must be a zero-argument callable.")
    quick = is_quick() if quick is None else quick
    rounds = (3 if quick else 21) if rounds is None else rounds
    if rounds < 1:
        raise ValueError(f"compare: rounds must be >= 1; got {rounds}.")
    target = (0.005 if quick else 0.05) if target_sample_s is None else target_sample_s

    for fn in candidates.values():
        for _ in range(warmup):
            _run(fn)
    if number is None:
        # One number for all, fitted to the slowest candidate: every sample then spans
        # a comparable stretch of time, which keeps the per-round pairing fair.
        slowest = max(_time_once(fn) for fn in candidates.values())
        numbers = dict.fromkeys(candidates, int(min(100_000, max(1, math.ceil(target / slowest)))))
    elif isinstance(number, Mapping):
        numbers = {n: int(number[n]) for n in candidates}
    else:
        numbers = dict.fromkeys(candidates, int(number))

    names = list(candidates)
    samples: dict[str, list[float]] = {n: [] for n in names}
    rng = random.Random(seed)
    gc_was_enabled = gc.isenabled()
    try:
        for _ in range(rounds):
            rng.shuffle(names)
            for name in names:
                fn, k = candidates[name], numbers[name]
                gc.collect()
                gc.disable()
                t0 = time.perf_counter()
                for _ in range(k):
                    _run(fn)
                elapsed = time.perf_counter() - t0
                if gc_was_enabled:
                    gc.enable()
                samples[name].append(elapsed / k)
    finally:
        if gc_was_enabled:
            gc.enable()

    base = np.asarray(samples[baseline])
    base_median = float(np.median(base))
    results: dict[str, dict[str, Any]] = {}
    for name in candidates:
        s = np.asarray(samples[name])
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        paired = s / base
        r1, rmed, r3 = np.percentile(paired, [25, 50, 75])
        results[name] = {
            "median_s": float(med),
            "q1_s": float(q1),
            "q3_s": float(q3),
            "min_s": float(s.min()),
            "max_s": float(s.max()),
            "ratio": float(med / base_median),
            "ratio_paired": float(rmed),
            "ratio_q1": float(r1),
            "ratio_q3": float(r3),
            "number": numbers[name],
            "rounds": rounds,
            "samples_s": s.tolist(),
        }
    if verbose:
        _print_results(results, baseline, title, quick)
    return results


def _fmt_time(seconds: float) -> str:
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.3f}"
    return f"{ms:.4f}"


def _print_results(results, baseline, title, quick):
    rows = []
    for name, r in results.items():
        rows.append([
            name + (" *" if name == baseline else ""),
            _fmt_time(r["median_s"]),
            f"{_fmt_time(r['q1_s'])}-{_fmt_time(r['q3_s'])}",
            _fmt_time(r["min_s"]),
            f"{r['ratio']:.3f}",
            f"{r['ratio_paired']:.3f} [{r['ratio_q1']:.3f}-{r['ratio_q3']:.3f}]",
            f"{r['rounds']}x{r['number']}",
        ])
    any_r = next(iter(results.values()))
    head = title or "benchmark"
    note = " [quick]" if quick else ""
    print_table(
        ["candidate", "median ms", "IQR ms", "min ms", "ratio", "paired ratio [IQR]",
         "rounds x n"],
        rows,
        title=f"{head}{note}  (* baseline; ratio = median / baseline median; "
        f"{any_r['rounds']} interleaved rounds)",
    )


def print_table(header: list[str], rows: list[list[str]], *, title: str | None = None) -> None:
    """Print a plain aligned table (first column left-aligned, the rest right-aligned)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    if title:
        print(f"\n{title}")

    def line(cells):
        first = f"{str(cells[0]):<{widths[0]}}"
        rest = [f"{str(c):>{w}}" for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest])

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    sys.stdout.flush()


def compile_time(jitted_fn: Any, *args: Any, clear_caches: bool = True, **kwargs: Any) -> dict:
    """Seconds to trace+lower and to XLA-compile ``jitted_fn`` for these arguments.

    JAX caches lowerings and executables, so a second measurement of the same function
    would read ~0; by default the caches are cleared first (``jax.clear_caches()``), which
    makes every jitted function recompile on its next call: measure compile times before
    the timing runs (``compare``'s warmup recompiles anyway).

    Returns:
      ``{"lower_s": ..., "compile_s": ..., "total_s": ...}``.
    """
    if clear_caches:
        jax.clear_caches()
    t0 = time.perf_counter()
    lowered = jitted_fn.lower(*args, **kwargs)
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    return {"lower_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0}


def print_compile_times(times: Mapping[str, Mapping[str, float]], *, title: str | None = None):
    """Print the results of several ``compile_time`` calls as one table."""
    rows = [
        [name, f"{t['lower_s']:.3f}", f"{t['compile_s']:.3f}", f"{t['total_s']:.3f}"]
        for name, t in times.items()
    ]
    print_table(["candidate", "trace+lower s", "compile s", "total s"], rows,
                title=title or "compile time (separate from the step times)")


_OP_RE = re.compile(r"=\s*\S+\s+([a-z][a-z0-9\-_.]*)\(")


def compiled_stats(jitted_fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Op counts and cost analysis of the optimized (post-XLA) program.

    Returns:
      ``{"flops": float | None, "bytes_accessed": float | None, "ops": Counter}``, where
      ``ops`` counts HLO instructions by opcode over every computation of the optimized
      module (fusion bodies included), and parameters/tuples/constants are left out.
    """
    compiled = jitted_fn.lower(*args, **kwargs).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older JAX returns one dict per device
        cost = cost[0] if cost else {}
    cost = cost or {}
    ops: collections.Counter[str] = collections.Counter()
    for line in compiled.as_text().splitlines():
        m = _OP_RE.search(line)
        if m and m.group(1) not in ("parameter", "tuple", "get-tuple-element", "constant"):
            ops[m.group(1)] += 1
    return {
        "flops": cost.get("flops"),
        "bytes_accessed": cost.get("bytes accessed"),
        "ops": ops,
    }
