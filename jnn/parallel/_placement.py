"""Placing pytrees on a mesh: replicated (params, optimizer state) or split along the batch."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._mesh import MESH_HINT, check_divisible, check_mesh


def _is_traced(tree: Any) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding that keeps a full copy of an array on every device of ``mesh``.

    Args:
      mesh: a :class:`jax.sharding.Mesh` (e.g. :func:`data_mesh`).

    Returns:
      ``NamedSharding(mesh, PartitionSpec())``.

    Example:
      >>> import jnn.parallel
      >>> jnn.parallel.replicated(jnn.parallel.data_mesh()).spec
      P()
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"replicated: mesh must be a jax.sharding.Mesh; got "
                        f"{type(mesh).__name__}. {MESH_HINT}")
    return NamedSharding(mesh, PartitionSpec())


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Copy every leaf of ``tree`` to every device of ``mesh`` (params, optimizer state).

    Inside ``jax.jit`` this is a sharding constraint instead of a transfer.

    Args:
      tree: a pytree of arrays.
      mesh: the mesh.

    Returns:
      The same tree with every leaf a ``jax.Array`` replicated over ``mesh``.

    Example:
      >>> import jax.numpy as jnp, jnn.parallel
      >>> mesh = jnn.parallel.data_mesh()
      >>> p = jnn.parallel.replicate({"w": jnp.ones(3)}, mesh)
      >>> p["w"].sharding.is_fully_replicated
      True
    """
    sharding = replicated(mesh)
    if _is_traced(tree):
        return jax.lax.with_sharding_constraint(tree, sharding)
    return jax.device_put(tree, sharding)


def batch_sharding(mesh: Mesh, axis_name: Any = "data", batch_axis: int = 0,
                   ndim: int | None = None) -> NamedSharding:
    """The sharding that splits an array's ``batch_axis`` over the devices of ``axis_name``.

    Args:
      mesh: the mesh.
      axis_name: the mesh axis (or tuple of axes) the batch is split along.
      batch_axis: which array axis is the batch (0 for ``(batch, ...)`` arrays).
      ndim: the arrays' rank; only needed when ``batch_axis`` is negative.

    Returns:
      ``NamedSharding(mesh, PartitionSpec(None, ..., axis_name))`` with ``axis_name`` at
      position ``batch_axis`` (later axes are replicated).

    Example:
      >>> import jnn.parallel
      >>> jnn.parallel.batch_sharding(jnn.parallel.data_mesh()).spec
      P('data',)
    """
    where = "batch_sharding"
    check_mesh(where, mesh, axis_name)
    if batch_axis < 0:
        if ndim is None:
            raise ValueError(f"{where}: batch_axis={batch_axis} is negative, so pass the arrays' "
                             "rank as ndim= (or give a non-negative batch_axis).")
        batch_axis += ndim
    if batch_axis < 0 or (ndim is not None and batch_axis >= ndim):
        raise ValueError(f"{where}: batch_axis is out of range for arrays of rank {ndim}.")
    return NamedSharding(mesh, PartitionSpec(*([None] * batch_axis), axis_name))


def _batch_shardings(where, tree, mesh, axis_name, batch_axis):
    check_mesh(where, mesh, axis_name)
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    if not leaves:
        raise ValueError(f"{where}: batch has no array leaves (got {tree!r}); pass the arrays "
                         "to split, e.g. (x, y).")
    axes, sizes = [], {}
    for path, leaf in leaves:
        shape = np.shape(leaf)
        axis = batch_axis + len(shape) if batch_axis < 0 else batch_axis
        name = jax.tree_util.keystr(path) or "<root>"
        if not 0 <= axis < len(shape):
            raise ValueError(
                f"{where}: batch leaf {name} has shape {shape}, which has no axis "
                f"batch_axis={batch_axis}. Every leaf must carry the batch; pass scalars and "
                "other shared values separately (or replicate them with jnn.parallel.replicate)."
            )
        axes.append(axis)
        sizes[name] = shape[axis]
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(f"{where}: the batch leaves have different sizes along batch_axis="
                         f"{batch_axis} ({listed}); every leaf must hold the same examples.")
    # In a multi-host run each process passes its own part of the global batch.
    processes = 1 if _is_traced(tree) else jax.process_count()
    check_divisible(where, "global batch", next(iter(sizes.values())) * processes, mesh,
                    axis_name)
    shardings = [NamedSharding(mesh, PartitionSpec(*([None] * a), axis_name)) for a in axes]
    return jax.tree.unflatten(jax.tree.structure(tree), shardings)


def shard_batch(tree: Any, mesh: Mesh, axis_name: Any = "data", batch_axis: int = 0) -> Any:
    """Split every leaf of ``tree`` along ``batch_axis`` over the devices of ``axis_name``.

    Each device gets a contiguous :math:`B/n` slice of the global batch of :math:`B`
    examples. Inside ``jax.jit`` this is a ``with_sharding_constraint`` instead of a transfer.
    In a multi-host run (after :func:`initialize`) each process passes *its own* slice of
    the global batch (``B / jax.process_count()`` examples, e.g. read from its own files)
    and the pieces are assembled with ``jax.make_array_from_process_local_data``.

    Args:
      tree: a pytree of arrays that all carry the batch on ``batch_axis``, e.g. ``(x, y)``
        with ``x: (batch, features)`` and ``y: (batch,)``.
      mesh: the mesh.
      axis_name: the mesh axis (or tuple of axes) to split along.
      batch_axis: which array axis is the batch (``1`` for stacked minibatches
        ``(num_batches, batch, ...)``).

    Returns:
      The same tree, each leaf a ``jax.Array`` sharded along ``batch_axis``.

    Raises:
      ValueError: a leaf has no ``batch_axis``, or the global batch is not divisible by the
        number of devices (the message names the nearest sizes that are).

    Example:
      >>> import jax.numpy as jnp, jnn.parallel
      >>> mesh = jnn.parallel.data_mesh()
      >>> x = jnn.parallel.shard_batch(jnp.zeros((8 * mesh.size, 3)), mesh)
      >>> x.sharding.spec
      P('data',)
    """
    return place_batch("shard_batch", tree, mesh, axis_name, batch_axis)


def place_batch(where: str, tree: Any, mesh: Mesh, axis_name: Any = "data",
                batch_axis: int = 0) -> Any:
    """:func:`shard_batch` with errors naming ``where`` (for jnn's own ``mesh=`` arguments)."""
    shardings = _batch_shardings(where, tree, mesh, axis_name, batch_axis)
    if _is_traced(tree):
        return jax.lax.with_sharding_constraint(tree, shardings)
    if jax.process_count() > 1:  # pragma: no cover - needs several processes
        return jax.tree.map(jax.make_array_from_process_local_data, shardings, tree)
    return jax.device_put(tree, shardings)
