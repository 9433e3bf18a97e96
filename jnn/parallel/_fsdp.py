"""Fully sharded params (FSDP / ZeRO-3 style): each large leaf split over the devices."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._mesh import check_mesh


def _leaf_spec(shape: tuple[int, ...], n: int, min_size: int, axis_name: Any) -> PartitionSpec:
    if int(np.prod(shape, dtype=np.int64)) < min_size:
        return PartitionSpec()
    divisible = [d for d in range(len(shape)) if shape[d] % n == 0]
    if not divisible:
        return PartitionSpec()
    axis = max(divisible, key=lambda d: shape[d])  # the first of the largest on a tie
    return PartitionSpec(*([None] * axis), axis_name)


def fsdp_shardings(params: Any, mesh: Mesh, axis_name: Any = "data", *,
                   min_size: int = 2**14) -> Any:
    r"""Shardings that split each large params leaf over the devices (fully sharded data parallel).

    Each device stores :math:`1/n` of every large leaf instead of a full copy, so params
    (and optimizer state placed alike) need :math:`1/n` of the memory. A leaf with at least
    ``min_size`` elements is split along its largest axis whose length is divisible by the
    :math:`n` devices of ``axis_name``; smaller leaves (biases, norms' scales) and leaves
    with no divisible axis stay replicated. With the batch split along the same axis
    (:func:`shard_batch`), a jitted step gathers each weight when it is used and
    reduce-scatters its gradient, as in ZeRO stage 3 / PyTorch FSDP; here the compiler
    (GSPMD) inserts those collectives from the shardings, with no change to the step.

    Args:
      params: the parameter pytree (arrays or ``jax.ShapeDtypeStruct``).
      mesh: the mesh.
      axis_name: the mesh axis (or tuple of axes) to split along; usually the data axis.
      min_size: leaves with fewer elements are replicated (splitting them saves little
        memory and adds a collective).

    Returns:
      A pytree of ``NamedSharding`` shaped like ``params``, for ``jax.device_put`` or the
      ``in_shardings``/``out_shardings`` of ``jax.jit``.

    Example:
      >>> import jax.numpy as jnp, jnn.parallel
      >>> mesh = jnn.parallel.data_mesh()
      >>> params = {"kernel": jnp.zeros((3, 8192 * mesh.size)), "bias": jnp.zeros(64)}
      >>> s = jnn.parallel.fsdp_shardings(params, mesh)
      >>> s["kernel"].spec, s["bias"].spec
      (P(None, 'data'), P())

    References:
      Rajbhandari, Rasley, Ruwase, He, "ZeRO: Memory Optimizations Toward Training Trillion
      Parameter Models", SC 2020. https://arxiv.org/abs/1910.02054
      Zhao et al., "PyTorch FSDP: Experiences on Scaling Fully Sharded Data Parallel",
      VLDB 2023. https://arxiv.org/abs/2304.11277
      Xu et al., "GSPMD: General and Scalable Parallelization for ML Computation Graphs",
      2021. https://arxiv.org/abs/2105.04663
    """
    where = "fsdp_shardings"
    n = check_mesh(where, mesh, axis_name)
    if isinstance(min_size, bool) or not isinstance(min_size, numbers.Integral) or min_size < 0:
        raise ValueError(f"{where}: min_size must be a non-negative integer (the number of "
                         f"elements below which a leaf is replicated); got {min_size!r}.")
    if not jax.tree.leaves(params):
        raise ValueError(f"{where}: params has no array leaves (got {params!r}); pass the "
                         "parameter pytree, e.g. the params returned by model.init.")
    return jax.tree.map(
        lambda p: NamedSharding(mesh, _leaf_spec(tuple(np.shape(p)), n, min_size, axis_name)),
        params)


def shard_params(params: Any, mesh: Mesh, axis_name: Any = "data", *,
                 min_size: int = 2**14) -> Any:
    """Place ``params`` on ``mesh`` with :func:`fsdp_shardings` (large leaves split).

    Args:
      params: the parameter pytree (or optimizer state: its moments have the params'
        shapes and are split alike).
      mesh, axis_name, min_size: as in :func:`fsdp_shardings`.

    Returns:
      The same tree, each leaf a ``jax.Array`` with its FSDP sharding.

    Example:
      >>> import jax.numpy as jnp, jnn.parallel
      >>> mesh = jnn.parallel.data_mesh()
      >>> w = jnn.parallel.shard_params({"w": jnp.ones((mesh.size * 4, 3))}, mesh, min_size=1)
      >>> w["w"].sharding.spec
      P('data',)

    References:
      Zhao et al., "PyTorch FSDP: Experiences on Scaling Fully Sharded Data Parallel",
      VLDB 2023. https://arxiv.org/abs/2304.11277
    """
    shardings = fsdp_shardings(params, mesh, axis_name, min_size=min_size)
    if any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(params)):
        return jax.lax.with_sharding_constraint(params, shardings)
    return jax.device_put(params, shardings)
