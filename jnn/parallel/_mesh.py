"""A one-axis device mesh for data parallelism, and the checks every mesh-aware function uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

MESH_HINT = "Build one with jnn.parallel.data_mesh() (all devices on one axis named 'data')."


def data_mesh(devices: Sequence[Any] | None = None, *, axis_name: str = "data") -> Mesh:
    r"""A 1-D :class:`jax.sharding.Mesh` over ``devices`` (default: every device of every host).

    Data parallelism splits each global batch of :math:`B` examples into :math:`n` equal
    shards, one per device; every device holds the full params, computes the gradient of
    its :math:`B/n` examples, and the gradients are averaged by an all-reduce that XLA
    inserts when a jitted step sees a batch sharded along the mesh axis:

    .. math::

        \nabla_\theta L = \frac{1}{B}\sum_{i=1}^{B} \nabla_\theta \ell_i
                        = \frac{1}{n}\sum_{k=1}^{n} \Big(\frac{n}{B}
                          \sum_{i \in \mathrm{shard}_k} \nabla_\theta \ell_i\Big).

    ``jax.devices()`` lists the devices of *all* processes in a multi-host run (after
    :func:`jnn.parallel.initialize`), so the default mesh spans the whole pod or cluster.
    The axis type is JAX's default ``Auto`` (the compiler propagates shardings).

    Args:
      devices: the devices, in mesh order; default ``jax.devices()`` (8 TPU cores on a
        Colab TPU, every GPU, or the CPU devices forced with
        ``XLA_FLAGS=--xla_force_host_platform_device_count=8``).
      axis_name: the name of the mesh axis (the batch axis of :func:`batch_sharding`).

    Returns:
      ``Mesh`` of shape ``{axis_name: len(devices)}``.

    Example:
      >>> import jax, jnn.parallel
      >>> mesh = jnn.parallel.data_mesh()
      >>> mesh.axis_names, mesh.shape["data"] == jax.device_count()
      (('data',), True)

    References:
      JAX documentation, "Distributed arrays and automatic parallelization".
      https://docs.jax.dev/en/latest/notebooks/Distributed_arrays_and_automatic_parallelization.html
    """
    where = "data_mesh"
    if not isinstance(axis_name, str) or not axis_name:
        raise TypeError(f"{where}: axis_name must be a non-empty string; got {axis_name!r}. "
                        'Use e.g. axis_name="data".')
    if devices is None:
        devices = jax.devices()
    if isinstance(devices, (str, bytes)) or not isinstance(devices, (Sequence, np.ndarray)):
        raise TypeError(f"{where}: devices must be a sequence of jax devices (e.g. "
                        f"jax.devices() or jax.local_devices()); got {type(devices).__name__}.")
    devices = list(np.asarray(devices, dtype=object).reshape(-1))
    if not devices:
        raise ValueError(f"{where}: devices is empty; pass at least one device, e.g. "
                         "jax.devices()[:1], or leave devices=None for all of them.")
    for d in devices:
        if not isinstance(d, jax.Device):
            raise TypeError(f"{where}: devices must hold jax devices (jax.devices()); got an "
                            f"element of type {type(d).__name__}: {d!r}.")
    if len({d.id for d in devices}) != len(devices):
        raise ValueError(f"{where}: devices lists some device twice ({devices}); each device "
                         "may appear once.")
    return Mesh(np.array(devices, dtype=object), (axis_name,))


def _axis_names(where: str, axis_name: Any) -> tuple[str, ...]:
    names = (axis_name,) if isinstance(axis_name, str) else axis_name
    if not isinstance(names, tuple) or not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{where}: axis_name must be a mesh axis name (a string such as "
                        f"'data') or a tuple of them; got {axis_name!r}.")
    return names


def check_mesh(where: str, mesh: Any, axis_name: Any = "data", *,
               arg: str = "axis_name") -> int:
    """Check that ``mesh`` is a ``Mesh`` with the axis ``axis_name``; return that axis's size.

    Used by every function that takes ``mesh=``, so they all fail the same way. A tuple of
    axis names (e.g. ``("replica", "data")`` on a 2-D mesh) counts the product of their sizes.

    Args:
      where: the public function's name, for the message.
      mesh: the mesh to check.
      axis_name: the axis the batch (or grid) is split along, or a tuple of axes.
      arg: the caller's name for ``axis_name`` (e.g. ``"data_axis"`` in ``fit``), so the
        message names the argument to change.

    Returns:
      The number of devices along ``axis_name``.

    Raises:
      TypeError: ``mesh`` is not a ``jax.sharding.Mesh`` or ``axis_name`` is not a name.
      ValueError: the mesh has no such axis.

    Example:
      >>> import jnn.parallel
      >>> mesh = jnn.parallel.data_mesh()
      >>> jnn.parallel.check_mesh("fit", mesh, "data") == mesh.size
      True
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{where}: mesh must be a jax.sharding.Mesh; got "
                        f"{type(mesh).__name__}. {MESH_HINT}")
    size = 1
    for name in _axis_names(where, axis_name):
        if name not in mesh.axis_names:
            raise ValueError(
                f"{where}: mesh has no axis {name!r}; its axes are {tuple(mesh.axis_names)}. "
                f"Pass {arg}= one of those, or build the mesh with "
                f"jnn.parallel.data_mesh(axis_name={name!r})."
            )
        size *= mesh.shape[name]
    return size


def check_divisible(where: str, name: str, size: int, mesh: Any, axis_name: Any = "data", *,
                    arg: str = "axis_name") -> int:
    """Check that ``size`` splits evenly over the devices of ``axis_name``; return their number.

    Args:
      where: the public function's name, for the message.
      name: what ``size`` counts, e.g. ``"global batch"``, or the argument that holds it
        (an identifier such as ``"batch_size"``, printed as ``batch_size=30``).
      size: the length to split (a batch size, a number of grid points).
      mesh: the mesh (checked with :func:`check_mesh`).
      axis_name: the mesh axis (or tuple of axes) it is split along.
      arg: the caller's name for ``axis_name``, passed on to :func:`check_mesh`.

    Returns:
      The number of devices along ``axis_name``.

    Raises:
      ValueError: ``size`` is not a multiple of that number; the message names the two
        nearest sizes that are.

    Example:
      >>> import jax, jnn.parallel
      >>> mesh = jnn.parallel.data_mesh(jax.devices()[:1])
      >>> jnn.parallel.check_divisible("fit", "global batch", 100, mesh)
      1
    """
    n = check_mesh(where, mesh, axis_name, arg=arg)
    if size % n:
        lower, upper = size // n * n, (size // n + 1) * n
        nearest = f"{lower} or {upper}" if lower else f"{upper}"
        if name.isidentifier():  # an argument: name it as the caller writes it
            subject, fix = f"{name}={size}", f"use a multiple of {n}, e.g. {name}={nearest}"
        else:
            subject, fix = f"{name} {size}", f"use {nearest}"
        raise ValueError(
            f"{where}: {subject} is not divisible by the {n} devices on mesh axis "
            f"{axis_name!r}; {fix}."
        )
    return n
