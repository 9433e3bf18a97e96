"""Loss-landscape benchmark: a 2-D grid as one XLA program vs per-point loops.

Two problems (issue 7), a ``G x G`` grid (51 x 51 = 2,601 points by default), filter-
normalized directions, mean softmax cross-entropy, float32:

- ``compute``: MLP 784-128-10 (ReLU) on 1,024 samples: the first layer's product dominates.
- ``dispatch``: MLP 2-32-32-2 (ReLU) on 512 samples: per-point work is tiny, so a
  per-point loop is dominated by Python and dispatch.

Candidates, all timed in one process in interleaved rounds (``_timing.compare``):

- ``jnn.plane``: ``jnn.landscape.plane`` (one compiled call, chunk from the memory budget);
- ``jnn.plane_fast``: the opt-in Dense-first fast path (``plane_fast``);
- ``jax.jit loop``: a Python loop calling a jitted ``loss(theta + a d1 + b d2)`` per point;
- ``torch loop``: PyTorch as the reference implementation (Li et al.'s ``plot_surface``):
  write ``theta + a d1 + b d2`` into the model's weights in place, evaluate, ``.item()``;
- ``forward``: a plain jitted forward pass + loss with fixed weights over a large batch
  (the throughput ceiling: samples/s without any perturbation);
- ``jnn.plane (mesh)``: ``plane(..., mesh=jnn.parallel.data_mesh())`` over every device
  (only when there are several). On CPU the host is split into ``--cpu-devices`` devices
  (default: one per core, ``jax_num_cpu_devices``), so each core runs its share of every
  chunk's points: XLA:CPU runs the loop of small per-point ops of ``plane`` on one core,
  while the large ``forward`` batch is split over all cores inside its fused ops. The
  other candidates run on the default device as before (the forward pass still uses
  every core).

Printed: points/s of each and the ratios against the targets of issue 7 (jnn vs jitted
loop >= 1.1x compute / >= 1.8x dispatch; jnn vs torch >= 1.0x compute / >= 3.5x dispatch;
jnn vs forward-pass throughput >= 0.9x; fast path vs jitted loop >= 10x compute), and the
compiled program's temporary bytes for two grid sizes at the same chunk (bounded by the
chunk, not the grid).

    python benchmarks/bench_landscape.py                 # 51 x 51, both problems
    python benchmarks/bench_landscape.py --quick         # compute 11 x 11, 3 rounds
    python benchmarks/bench_landscape.py --problem dispatch --grid 51 --rounds 7
    python benchmarks/bench_landscape.py --cpu-devices 1   # no mesh candidate on CPU
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import compare, is_quick, print_table  # noqa: E402

import jnn  # noqa: E402
import jnn.parallel  # noqa: E402
from jnn.landscape import filter_normalized_direction, plane, plane_fast  # noqa: E402
from jnn.landscape._grid import balanced_chunks, padded_coords, run_grid  # noqa: E402
from jnn.landscape._slices import AffineSpec, perturb  # noqa: E402
from jnn.layers import Dense, Sequential  # noqa: E402

MESH = "jnn.plane (mesh)"
PROBLEMS = {"compute": ((784, 128, 10), 1024), "dispatch": ((2, 32, 32, 2), 512)}
CE = jnn.losses.softmax_cross_entropy


def build(problem: str):
    sizes, n = PROBLEMS[problem]
    layers = []
    for width in sizes[1:-1]:
        layers += [Dense(width), jax.nn.relu]
    model = Sequential([*layers, Dense(sizes[-1])])
    kx, ky, kp, k1, k2 = jax.random.split(jax.random.key(0), 5)
    x = jax.random.normal(kx, (n, sizes[0]))
    y = jax.random.randint(ky, (n,), 0, sizes[-1])
    params, state = model.init(kp, x)
    d1 = filter_normalized_direction(k1, params)
    d2 = filter_normalized_direction(k2, params)
    return model, params, state, d1, d2, (x, y)


def torch_loop_fn(params, d1, d2, batch, alphas, betas, threads: int):
    """Li et al.'s method: perturb the weights in place, evaluate, read the loss back."""
    import torch

    torch.set_num_threads(threads)
    dense = [p for p in params if p]
    layers = []
    for i, p in enumerate(dense):
        lin = torch.nn.Linear(*p["kernel"].shape)
        layers.append(lin)
        if i < len(dense) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).eval()
    t = lambda a: torch.from_numpy(np.array(a))
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    # torch keeps weights as (out, in): transpose jnn's (in, out) kernels.
    base = [(t(p["kernel"]).T.contiguous(), t(p["bias"])) for p in dense]
    dir1 = [(t(p["kernel"]).T.contiguous(), t(p["bias"])) for p in d1 if p]
    dir2 = [(t(p["kernel"]).T.contiguous(), t(p["bias"])) for p in d2 if p]
    x, y = t(batch[0]), t(batch[1]).long()
    a_list, b_list = [float(a) for a in alphas], [float(b) for b in betas]

    def run():
        out = np.empty((len(a_list), len(b_list)), np.float32)
        with torch.no_grad():
            for i, a in enumerate(a_list):
                for j, b in enumerate(b_list):
                    for lin, (w, c), (u1, v1), (u2, v2) in zip(linears, base, dir1, dir2):
                        lin.weight.copy_(w + a * u1 + b * u2)
                        lin.bias.copy_(c + a * v1 + b * v2)
                    out[i, j] = torch.nn.functional.cross_entropy(net(x), y).item()
        return out

    return run


def jit_loop_fn(loss, params, d1, d2, batch, alphas, betas):
    point = jax.jit(lambda a, b: loss(perturb(params, (d1, d2), jnp.stack([a, b])), batch))
    a_list, b_list = [float(a) for a in alphas], [float(b) for b in betas]

    def run():
        return jnp.stack([jnp.stack([point(a, b) for b in b_list]) for a in a_list])

    return run


def forward_fn(loss, params, batch, copies: int):
    x, y = batch
    big = (jnp.tile(x, (copies, 1)), jnp.tile(y, (copies,)))
    f = jax.jit(loss)
    return lambda: f(params, big)


def temp_bytes(loss, params, d1, d2, batch, grid: int, chunk: int) -> int:
    spec = AffineSpec(loss, ())
    n = grid * grid
    chunk, padded = balanced_chunks(n, chunk)
    coords = padded_coords(jnp.zeros((n, 2)), padded)
    compiled = run_grid.lower(spec, (params, (d1, d2)), coords, batch, None, chunk_size=chunk,
                              stacked=False).compile()
    return int(compiled.memory_analysis().temp_size_in_bytes)


def cpu_seconds(fn, runs: int) -> float:
    """Median process CPU time of one call (all threads): the work, whatever the load."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        jax.block_until_ready(fn())
        times.append(time.process_time() - start)
    return float(np.median(times))


def run_problem(problem: str, grid: int, rounds: int, quick: bool, with_torch: bool,
                torch_threads: int | None):
    model, params, state, d1, d2, batch = build(problem)
    loss = jnn.objective(model, CE, state)
    alphas = jnp.linspace(-1.0, 1.0, grid)
    betas = jnp.linspace(-1.0, 1.0, grid)
    n_points, n_samples = grid * grid, batch[0].shape[0]

    res = plane(loss, params, d1, d2, alphas, betas, batch)
    chunk = res.metadata["chunk_size"]
    fast = plane_fast(model, CE, state, params, d1, d2, alphas, betas, batch)
    loop = jit_loop_fn(loss, params, d1, d2, batch, alphas, betas)
    np.testing.assert_allclose(loop(), res.loss, rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(fast.loss, res.loss, rtol=2e-4, atol=1e-4)
    copies = max(1, min(n_points, (64 * 2**20) // (batch[0].size * 4)))
    candidates = {
        "jnn.plane": lambda: plane(loss, params, d1, d2, alphas, betas, batch).loss,
        "jnn.plane_fast": lambda: plane_fast(model, CE, state, params, d1, d2, alphas, betas,
                                             batch).loss,
        "jax.jit loop": loop,
        "forward": forward_fn(loss, params, batch, copies),
    }
    points = {"jnn.plane": n_points, "jnn.plane_fast": n_points, "jax.jit loop": n_points,
              "forward": copies}  # forward: grid-point equivalents (n_samples each)
    devices = jax.device_count()
    if devices > 1:
        mesh = jnn.parallel.data_mesh()
        sharded = lambda: plane(loss, params, d1, d2, alphas, betas, batch, mesh=mesh).loss
        np.testing.assert_allclose(sharded(), res.loss, rtol=2e-5, atol=1e-5)
        candidates[MESH] = sharded
        points[MESH] = n_points
    if with_torch:
        threads = torch_threads or (1 if problem == "dispatch" else os.cpu_count() or 1)
        torch_run = torch_loop_fn(params, d1, d2, batch, alphas, betas, threads)
        np.testing.assert_allclose(torch_run(), res.loss, rtol=1e-4, atol=1e-4)
        candidates["torch loop"] = torch_run
        points["torch loop"] = n_points
    timings = compare(candidates, "jnn.plane", rounds=rounds, quick=quick,
                      title=f"{problem}: {grid}x{grid} grid, {n_samples} samples/point, "
                            f"chunk {chunk} (bytes/point {res.metadata['bytes_per_point']})")
    rate = {k: points[k] / timings[k]["median_s"] for k in candidates}
    cpu = {k: cpu_seconds(fn, 3) for k, fn in candidates.items()}
    cpu_rate = {k: points[k] / cpu[k] for k in candidates}
    rows = [[k, f"{timings[k]['median_s'] * 1e3:.1f}", str(points[k]), f"{rate[k]:,.0f}",
             f"{rate['jnn.plane'] / rate[k]:.2f}", f"{cpu[k] * 1e3:.1f}",
             f"{cpu_rate['jnn.plane'] / cpu_rate[k]:.2f}"] for k in candidates]
    print_table(["candidate", "median ms", "points/call", "points/s", "jnn.plane / this",
                 "cpu ms", "jnn / this (cpu)"], rows,
                title=f"{problem}: throughput (forward: fixed weights, {copies} x {n_samples} "
                      "samples per call, counted in grid-point equivalents)")
    targets = {"compute": (1.1, 1.0, 10.0), "dispatch": (1.8, 3.5, None)}[problem]
    checks = [("jnn.plane vs jax.jit loop", rate["jnn.plane"] / rate["jax.jit loop"],
               targets[0]),
              ("jnn.plane vs forward pass (throughput)", rate["jnn.plane"] / rate["forward"],
               0.9)]
    if with_torch:
        checks.append(("jnn.plane vs torch loop", rate["jnn.plane"] / rate["torch loop"],
                       targets[1]))
    if MESH in candidates:
        checks.append((f"{MESH} vs forward pass (throughput)", rate[MESH] / rate["forward"],
                       0.9))
        checks.append((f"{MESH} vs jax.jit loop", rate[MESH] / rate["jax.jit loop"],
                       targets[0]))
    fast_target = targets[2]
    checks.append(("jnn.plane_fast vs jax.jit loop", rate["jnn.plane_fast"] /
                   rate["jax.jit loop"], fast_target))
    cpu_of = {"jnn.plane vs jax.jit loop": ("jnn.plane", "jax.jit loop"),
              "jnn.plane vs forward pass (throughput)": ("jnn.plane", "forward"),
              "jnn.plane vs torch loop": ("jnn.plane", "torch loop"),
              "jnn.plane_fast vs jax.jit loop": ("jnn.plane_fast", "jax.jit loop"),
              f"{MESH} vs forward pass (throughput)": (MESH, "forward"),
              f"{MESH} vs jax.jit loop": (MESH, "jax.jit loop")}
    print_table(["ratio", "wall", "cpu time", "target", "met (wall)"],
                [[name, f"{value:.2f}x",
                  f"{cpu_rate[cpu_of[name][0]] / cpu_rate[cpu_of[name][1]]:.2f}x",
                  "-" if t is None else f">= {t}x",
                  "-" if t is None else ("yes" if value >= t else "NO")]
                 for name, value, t in checks],
                title=f"{problem}: ratios of points/s (wall: medians of the interleaved "
                      "rounds; cpu: process CPU time, robust to a loaded machine)")
    small, large = (5, grid) if grid > 5 else (3, grid)
    mem_chunk = min(chunk, small * small)
    rows = [[f"{g}x{g}", str(mem_chunk),
             f"{temp_bytes(loss, params, d1, d2, batch, g, mem_chunk):,}"] for g in (small, large)]
    rows.append([f"{grid}x{grid}", f"{grid * grid} (no chunking)",
                 f"{temp_bytes(loss, params, d1, d2, batch, grid, grid * grid):,}"])
    print_table(["grid", "chunk", "temp bytes"], rows,
                title=f"{problem}: compiled memory_analysis temporaries (bounded by the chunk)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=[*PROBLEMS, "all"], default="all")
    parser.add_argument("--grid", type=int, default=None, help="points per axis (default 51)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds (default 5)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch loop")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch intra-op threads (default: 1 dispatch, all cores compute)")
    parser.add_argument("--quick", action="store_true", help="11x11 grid, 3 rounds")
    parser.add_argument("--cpu-devices", type=int, default=None,
                        help="CPU devices the host is split into for the mesh candidate "
                             "(default: one per core; 1: no mesh candidate on CPU)")
    args = parser.parse_args()
    # Before the first use of a backend; it only affects the CPU backend.
    jax.config.update("jax_num_cpu_devices", args.cpu_devices or os.cpu_count() or 1)
    quick = args.quick or is_quick([])
    rounds = args.rounds or (3 if quick else 5)
    print(f"jax {jax.__version__} on {jax.device_count()} {jax.devices()[0].platform} "
          f"device(s); {rounds} rounds")
    for problem in PROBLEMS if args.problem == "all" else [args.problem]:
        # Quick mode shrinks only the expensive grid: a dispatch-bound grid must be large
        # for the per-point costs (what this problem measures) to dominate the fixed ones.
        grid = args.grid or (11 if quick and problem == "compute" else 51)
        run_problem(problem, grid, rounds, quick, not args.no_torch, args.torch_threads)


if __name__ == "__main__":
    main()
