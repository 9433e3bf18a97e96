"""The engine under every slice: all grid points in one compiled call, in memory-bounded chunks.

A *point spec* says what one grid point is. It is a frozen (hashable) dataclass, so it is a
static argument of the one jitted program, and holds three pure functions:

- ``precompute(base, batch)``: work shared by all points for one minibatch (the fast path's
  first-layer products); the identity unless ``shares_work``;
- ``prepare(base, coord)``: the per-point model (perturbed params, recomputed state);
- ``evaluate(prepared, batch) -> {"loss": scalar, metric: scalar, ...}``.

``run_grid`` maps the points with ``lax.map(..., batch_size=chunk)`` (a ``scan`` over
chunks, each chunk ``vmap``-ed), so the temporaries of one chunk are alive at a time, never
those of the whole grid. The grid is padded (repeating its last point) to a whole number of
equal chunks, so no separate remainder program is compiled. Stacked minibatches
``(num_batches, ...)`` are accumulated inside each point by a ``lax.scan`` with a weighted
mean. The chunk comes from a memory budget and the bytes of one point, measured by
compiling a small chunk (``point_cost``), unless the caller fixes it.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._checks import positive_int
from ..parallel._mesh import check_mesh
from ..parallel._tools import constrain_points, place_replicated

DEFAULT_MEMORY_BUDGET = 256 * 2**20  # bytes of temporaries for one chunk of points
# On CPU, vmap-ing points turns each matrix product into a batched one, which XLA:CPU
# runs less efficiently than the plain product of a single point; and a chunk whose
# working set leaves the cache is slower still (measured on MLPs of 2-32-32-2 and
# 784-128-10: one point at a time took 0.6-0.9x the CPU time of chunks of 4-32). So on CPU
# a chunk holds about this many bytes of intermediates, and only tiny points (a toy loss,
# a few samples) are grouped, to amortize the loop's per-iteration cost.
CPU_CHUNK_BYTES = 256 * 2**10
# Small points are still paired: two points whose intermediates fit in CPU_PAIR_BYTES ran
# in 0.95x the CPU time of one at a time (MLP 2-32-32-2 on 512 samples, 0.44 MB per point:
# the loop's fixed cost per iteration is shared, and the first layer's two products merge
# into one); three points gained no more, four were slower (XLA:CPU splits ops of that size
# over threads, which costs more than it gives), and a point of several MB (784-128-10 on
# 1,024 samples) gains nothing from a partner.
CPU_MIN_CHUNK = 2
CPU_PAIR_BYTES = 2**20
# The fast path (shared first-layer products) is different: a point's work is elementwise
# ops on the first layer's activations and the small layers after it, so large points
# vmapped together give XLA:CPU ops big enough to split over cores without any batched
# product of per-point first-layer weights. 784-128-10 on 1,024 samples (2.8 MB per
# point): chunks of 4 / 8 / 16 took 0.71 / 0.67 / 0.70x the time of one point at a time;
# 2-32-32-2 on 512 samples (0.57 MB): pairs best, 4 or more slower. So points of
# intermediates above CPU_SHARED_BYTES go up to CPU_SHARED_CHUNK at a time.
CPU_SHARED_BYTES = 2**20
CPU_SHARED_CHUNK = 8


def cpu_chunk(working: int, shares_work: bool = False) -> int:
    """The most points per chunk on CPU for points of ``working`` bytes of intermediates
    (``shares_work``: the fast path's points, after the shared first-layer products)."""
    if shares_work and working > CPU_SHARED_BYTES:
        return CPU_SHARED_CHUNK
    pair = CPU_MIN_CHUNK if CPU_MIN_CHUNK * working <= CPU_PAIR_BYTES else 1
    return max(pair, CPU_CHUNK_BYTES // working)


class NonFiniteLandscapeWarning(RuntimeWarning):
    """Some grid points have a nan or infinite loss; they are kept and marked, not dropped."""


class Landscape(NamedTuple):
    """A computed loss landscape: values on a 1-D or 2-D grid of direction coefficients.

    Attributes:
      alphas: ``(n,)`` coefficients along the first direction.
      betas: ``(m,)`` coefficients along the second direction (``None`` for a line).
      loss: ``(n,)`` or ``(n, m)``; ``loss[i, j]`` is at ``(alphas[i], betas[j])``.
      metrics: ``{name: array shaped like loss}`` for the metrics asked for.
      nonfinite: boolean mask shaped like ``loss``, ``True`` where the loss is nan or inf
        (those values are kept as they are).
      num_nonfinite: the number of such points.
      metadata: ``{"kind", "chunk_size", "num_points", "bytes_per_point",
        "working_bytes_per_point", ...}`` (the two byte counts are ``None`` when
        ``chunk_size`` was given without a budget: nothing was measured) plus
        anything added by the caller; saved with :func:`jnn.landscape.save_landscape`.
    """

    alphas: Any
    betas: Any
    loss: Any
    metrics: dict
    nonfinite: Any
    num_nonfinite: Any
    metadata: dict


def _is_traced(tree: Any) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def _precomputed(spec, base, data, stacked):
    if not spec.shares_work:
        return data
    if stacked:
        return lax.map(lambda b: spec.precompute(base, b), data)
    return spec.precompute(base, data)


def _point_values(spec, base, coord, shared, weights):
    prepared = spec.prepare(base, coord)
    if weights is None:
        return spec.evaluate(prepared, shared)
    first = jax.tree.map(lambda x: x[0], shared)
    shapes = jax.eval_shape(spec.evaluate, prepared, first)
    zeros = jax.tree.map(
        lambda s: jnp.zeros(s.shape, jnp.promote_types(s.dtype, weights.dtype)), shapes)

    def add(total, xs):
        batch, w = xs
        values = spec.evaluate(prepared, batch)
        return jax.tree.map(lambda t, v: t + w * v, total, values), None

    total, _ = lax.scan(add, zeros, (shared, weights))
    return jax.tree.map(lambda t: t / jnp.sum(weights).astype(t.dtype), total)


def _grid_values(spec, base, coords, data, weights, *, chunk_size: int, stacked: bool,
                 mesh=None, axis_name="data"):
    shared = _precomputed(spec, base, data, stacked)
    point = lambda c: _point_values(spec, base, c, shared, weights if stacked else None)
    if mesh is None:
        return lax.map(point, coords, batch_size=chunk_size)
    # lax.map's scan over vmap-ed chunks, written out so that each chunk's points are split
    # over the devices (chunk_size is a multiple of their number; coords has whole chunks).
    chunks = coords.reshape(coords.shape[0] // chunk_size, chunk_size, *coords.shape[1:])

    def chunk(_, c):
        values = jax.vmap(point)(constrain_points(c, mesh, axis_name))
        return None, constrain_points(values, mesh, axis_name)

    _, values = lax.scan(chunk, None, chunks)
    return jax.tree.map(lambda v: v.reshape(coords.shape[0], *v.shape[2:]), values)


run_grid = jax.jit(_grid_values,
                   static_argnames=("spec", "chunk_size", "stacked", "mesh", "axis_name"))
run_grid.__doc__ = """``{name: (num_points,)}`` at the points ``coords`` (``(num_points, k)``),
``chunk_size`` of them at a time (``num_points`` a multiple of it: see ``balanced_chunks``)."""


@functools.partial(jax.jit, static_argnames=("spec", "chunk_size", "stacked", "padded", "mesh",
                                             "axis_name"))
def _run_axes(spec, base, axes, data, weights, *, chunk_size, stacked, padded, mesh=None,
              axis_name="data"):
    """The whole grid of ``axes`` in one call: coordinates, padding and the result's layout
    are built inside the compiled program (no per-call eager ops)."""
    grids = jnp.meshgrid(*axes, indexing="ij")
    coords = padded_coords(jnp.stack([m.reshape(-1) for m in grids], axis=1), padded)
    values = _grid_values(spec, base, coords, data, weights, chunk_size=chunk_size,
                          stacked=stacked, mesh=mesh, axis_name=axis_name)
    shape = tuple(a.shape[0] for a in axes)
    num_points = int(np.prod(shape))
    values = {k: v[:num_points].reshape(shape) for k, v in values.items()}
    loss = values.pop("loss")
    nonfinite = ~jnp.isfinite(loss)
    return loss, values, nonfinite, jnp.sum(nonfinite)


def _struct(x):
    return jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x))


def _jaxpr_bytes(jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            aval = getattr(v, "aval", None)
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                total += int(np.prod(aval.shape, dtype=np.int64)) * np.dtype(aval.dtype).itemsize
    return total


PROBE_POINTS = 8


class PointCost(NamedTuple):
    """Bytes per grid point: ``temp`` allocated by XLA (what a chunk multiplies, for the
    memory budget) and ``working`` touched (every intermediate of one point, fused or not:
    the working set that should stay in cache)."""

    temp: int
    working: int


def point_cost(spec, base, coords, data, weights, stacked: bool) -> PointCost:
    """Measure the bytes of one grid point (cached by spec and shapes).

    ``temp``: a chunk of ``PROBE_POINTS`` points (``vmap``-ed, as in the real program) is
    compiled and its temporaries are divided by the number of points: the perturbed params
    and the activations of each point (one minibatch of them, when the data are stacked)
    are what a chunk multiplies. (A single unbatched point is no guide: XLA fuses it
    differently.) The data and the precomputed shared work exist once and are not counted.
    ``working``: the sizes of every intermediate value of one point's jaxpr, summed (an
    upper bound, since fusion keeps some of them in registers). Where the backend has no
    memory analysis, ``temp`` falls back to ``working`` times ``PROBE_POINTS`` / points.
    """
    probe = min(PROBE_POINTS, coords.shape[0])
    probe_coords = jax.ShapeDtypeStruct((probe, *coords.shape[1:]), coords.dtype)
    args = jax.tree.map(_struct, (base, probe_coords, data, weights if stacked else None))
    signature = (spec, stacked, jax.tree.structure(args),
                 tuple((a.shape, str(a.dtype)) for a in jax.tree.leaves(args)))
    if signature not in _MEASURED:
        if len(_MEASURED) >= 256:
            _MEASURED.clear()
        _MEASURED[signature] = _measure(spec, stacked, *args)
    return _MEASURED[signature]


_MEASURED: dict = {}  # by (spec, shapes): plotting again does not measure again


def _measure(spec, stacked, base, coords, data, weights) -> PointCost:
    probe = coords.shape[0]
    shared = jax.eval_shape(lambda b, d: _precomputed(spec, b, d, stacked), base, data)
    one = lambda b, c, s, w: _point_values(spec, b, c, s, w)
    coord = jax.ShapeDtypeStruct(coords.shape[1:], coords.dtype)
    working = max(1, _jaxpr_bytes(jax.make_jaxpr(one)(base, coord, shared, weights).jaxpr))
    chunk = lambda b, cs, s, w: jax.vmap(lambda c: one(b, c, s, w))(cs)
    try:
        stats = jax.jit(chunk).lower(base, coords, shared, weights).compile().memory_analysis()
    except Exception:  # pragma: no cover - backends without memory analysis
        stats = None
    if stats is None:  # pragma: no cover
        return PointCost(working, working)
    total = int(stats.temp_size_in_bytes) + int(stats.output_size_in_bytes)
    return PointCost(max(1, -(-total // probe)), working)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def choose_chunk(where: str, spec, base, coords, data, weights, stacked: bool,
                 chunk_size: int | None, memory_budget_bytes: int | None) -> tuple[int, int | None]:
    """``(chunk, PointCost or None)``: from ``chunk_size``, or from the memory budget.

    With only ``chunk_size`` nothing is estimated. With a budget (given, or the default when
    neither is given) a small chunk is compiled to measure the temporaries per point, the
    chunk is the number of points that fit, and a ``chunk_size`` that does not fit is
    refused. On CPU the chosen chunk's working set is also kept near ``CPU_CHUNK_BYTES``
    (``cpu_chunk``: small points at least in pairs), which is faster than a larger chunk.
    """
    num_points = coords.shape[0]
    if chunk_size is not None:
        chunk_size = positive_int(where, "chunk_size", chunk_size,
                                  fix="It is the number of grid points evaluated at once.")
    if memory_budget_bytes is not None:
        memory_budget_bytes = positive_int(where, "memory_budget_bytes", memory_budget_bytes)
    if chunk_size is not None and memory_budget_bytes is None:
        return min(chunk_size, num_points), None
    budget = DEFAULT_MEMORY_BUDGET if memory_budget_bytes is None else memory_budget_bytes
    cost = point_cost(spec, base, coords, data, weights, stacked)
    per_point = cost.temp
    if per_point > budget:
        raise ValueError(
            f"{where}: one grid point needs about {per_point} bytes ({_human(per_point)}) of "
            f"temporaries, more than memory_budget_bytes={budget} ({_human(budget)}); no chunk "
            "fits. Pass the data as stacked minibatches (minibatches=True) so one point holds "
            "one minibatch's activations, or raise memory_budget_bytes."
        )
    if chunk_size is not None:
        if chunk_size * per_point > budget and chunk_size <= num_points:
            raise ValueError(
                f"{where}: chunk_size={chunk_size} points need about {chunk_size * per_point} "
                f"bytes ({_human(chunk_size * per_point)}), more than memory_budget_bytes="
                f"{budget} ({_human(budget)}). Use chunk_size <= {budget // per_point}, or "
                "leave chunk_size=None to choose it from the budget."
            )
        return min(chunk_size, num_points), cost
    chunk = budget // per_point
    if jax.default_backend() == "cpu":
        chunk = min(chunk, cpu_chunk(cost.working, spec.shares_work))
    return max(1, min(num_points, chunk)), cost


def balanced_chunks(num_points: int, max_chunk: int, multiple: int = 1) -> tuple[int, int]:
    """``(chunk, padded)``: the fewest chunks of at most ``max_chunk``, made equal in size.

    ``padded = num_chunks * chunk`` exceeds ``num_points`` by less than ``num_chunks``, so
    no separate remainder program is compiled (it would also hold its own temporaries
    beside the chunk's). With ``multiple`` (the devices a chunk is split over) ``chunk`` is
    rounded up to a multiple of it; ``max_chunk`` must be one.
    """
    num_chunks = -(-num_points // max_chunk)
    chunk = -(-num_points // num_chunks)
    chunk = -(-chunk // multiple) * multiple
    return chunk, num_chunks * chunk


def padded_coords(coords: jax.Array, padded: int) -> jax.Array:
    """Repeat the last point up to ``padded`` points (their values are discarded)."""
    extra = padded - coords.shape[0]
    if extra == 0:
        return coords
    return jnp.concatenate([coords, jnp.broadcast_to(coords[-1:], (extra, coords.shape[1]))])


def evaluate_grid(where: str, kind: str, spec, base, axes, data, *, minibatches: bool,
                  weights, chunk_size, memory_budget_bytes, extra_metadata=None, mesh=None,
                  axis_name="data") -> Landscape:
    """Evaluate ``spec`` on the grid ``axes`` (1 or 2 checked coordinate arrays).

    With a ``mesh`` the points are split over the devices of ``axis_name``: the chunk is
    chosen per device (its budget and CPU cache size are per device) and multiplied by the
    number of devices, and the params, directions and data are replicated on every device.
    """
    devices = 1
    if mesh is not None:
        devices = check_mesh(where, mesh, axis_name)
    dtype = np.result_type(*[x.dtype for x in jax.tree.leaves(base)
                             if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)])
    axes = tuple(jnp.asarray(a, dtype) for a in axes)
    shape = tuple(a.shape[0] for a in axes)
    num_points = int(np.prod(shape))
    per_device = -(-num_points // devices)
    coords = jax.ShapeDtypeStruct((per_device, len(axes)), dtype)
    per_chunk = None if chunk_size is None else -(-positive_int(
        where, "chunk_size", chunk_size,
        fix="It is the number of grid points evaluated at once.") // devices)
    chunk, cost = choose_chunk(where, spec, base, coords, data, weights, minibatches,
                               per_chunk, memory_budget_bytes)
    chunk, padded = balanced_chunks(num_points, chunk * devices, devices)
    if mesh is not None:
        base, data, weights, axes = place_replicated(where, (base, data, weights, axes), mesh)
    loss, metrics, nonfinite, count = _run_axes(
        spec, base, axes, data, weights if minibatches else None, chunk_size=chunk,
        stacked=minibatches, padded=padded, mesh=mesh, axis_name=axis_name)
    metadata = {"kind": kind, "chunk_size": int(chunk), "num_points": num_points,
                "bytes_per_point": None if cost is None else cost.temp,
                "working_bytes_per_point": None if cost is None else cost.working,
                **({} if mesh is None else {"devices": devices}),
                **(extra_metadata or {})}
    if not _is_traced(count) and int(count) > 0:
        warnings.warn(
            f"{where}: {int(count)} of {num_points} grid points have a non-finite loss "
            "(nan or inf); they are kept as they are and marked in result.nonfinite. A smaller "
            "range of coefficients usually avoids them.",
            NonFiniteLandscapeWarning, stacklevel=3)
    return Landscape(alphas=axes[0], betas=axes[1] if len(axes) > 1 else None, loss=loss,
                     metrics=metrics, nonfinite=nonfinite, num_nonfinite=count,
                     metadata=metadata)
