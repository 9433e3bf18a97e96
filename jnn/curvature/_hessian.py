"""The full Hessian and its exact diagonal, built from chunked Hessian-vector products."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax.flatten_util import ravel_pytree

from ..parallel._tools import shard_data
from ._flat import (
    DEFAULT_MAX_BYTES,
    check_dense_fits,
    chunk_size_for,
    dense_from_linear,
    diag_from_linear,
)
from ._validate import all_finite, check_loss, raise_if_not_finite


def _flat_gradient_linearization(loss, params, batch):
    flat, unravel = ravel_pytree(params)
    flat_grad = lambda x: ravel_pytree(jax.grad(loss)(unravel(x), batch))[0]
    _, lin = jax.linearize(flat_grad, flat)
    return lin, flat, unravel


def hessian(
    loss: Callable,
    params: Any,
    batch: Any = None,
    *,
    chunk_size: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    mesh: Any = None,
    axis_name: Any = "data",
) -> tuple[jax.Array, Callable]:
    r"""The dense Hessian of ``loss`` over the flattened parameters, from chunked HVPs.

    With :math:`\theta = \mathrm{ravel}(\text{params}) \in \mathbb{R}^d`,

    .. math::

        H = \nabla^2_\theta L(\theta) \in \mathbb{R}^{d \times d}, \qquad
        H_{:, i} = H e_i = \mathrm{jvp}(\nabla L, \theta, e_i).

    The gradient is linearized once at :math:`\theta`; its tangent map is then applied to the
    basis vectors ``chunk_size`` at a time (``lax.map`` with a batch size). Temporary memory
    is that of ``chunk_size`` products, where ``jax.hessian`` (``jacfwd(jacrev)``) pushes all
    ``d`` tangents through the network at once. The result is symmetric up to rounding.

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params: a pytree of floating arrays with ``d`` entries in total.
      batch: the second argument of ``loss``.
      chunk_size: basis vectors per batched product (default ``min(d, 64)``); larger is
        faster until memory runs short.
      max_bytes: refuse (``ValueError``) when the ``d x d`` result would need more bytes
        (default 1 GiB); ``None`` disables the check.
      mesh: a :class:`jax.sharding.Mesh` (e.g. ``jnn.parallel.data_mesh()``) to split
        ``batch`` over its devices along every leaf's leading axis (data parallel, params
        replicated): each device differentiates its share and the compiler sums the
        partial products, so the result is the single-device one up to rounding.
      axis_name: the mesh axis (or tuple of axes) the batch is split along.

    Returns:
      ``(H, unravel)``: ``H`` of shape ``(d, d)`` in the order of
      ``jax.flatten_util.ravel_pytree(params)``, and the ``unravel`` function that maps a
      flat ``(d,)`` vector back to a params pytree (``unravel(H @ v_flat)``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.curvature import hessian
      >>> loss = lambda p, b: p["a"] ** 2 * p["b"]
      >>> H, unravel = hessian(loss, {"a": jnp.array(1.0), "b": jnp.array(2.0)})
      >>> H
      Array([[4., 2.],
             [2., 0.]], dtype=float32)

    References:
      Pearlmutter, "Fast Exact Multiplication by the Hessian", Neural Computation, 1994.
    """
    check_loss("hessian", loss, params, batch)
    flat, _ = ravel_pytree(params)
    d = flat.size
    check_dense_fits("hessian", d, flat.dtype, max_bytes)
    chunk = chunk_size_for("hessian", chunk_size, d)
    batch, params = shard_data("hessian", batch, params, mesh, axis_name)
    lin, flat, unravel = _flat_gradient_linearization(loss, params, batch)
    H = dense_from_linear(lin, d, flat.dtype, chunk)
    raise_if_not_finite("hessian", "the Hessian", all_finite(H))
    return H, unravel


def hessian_diag(
    loss: Callable,
    params: Any,
    batch: Any = None,
    *,
    chunk_size: int | None = None,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Any:
    r"""The exact diagonal :math:`\mathrm{diag}(H)` of the Hessian, as a params-shaped pytree.

    .. math::

        H_{ii} = e_i^\top H e_i = \frac{\partial^2 L}{\partial \theta_i^2},
        \qquad i = 1, \dots, d,

    computed with ``d`` Hessian-vector products, ``chunk_size`` at a time, without ever
    holding more than a ``(chunk_size, d)`` block. For a cheap unbiased estimate from a few
    products use :func:`diag_hutchinson`.

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params: a pytree of floating arrays.
      batch: the second argument of ``loss``.
      chunk_size: products evaluated at once (default ``min(d, 64)``).
      mesh: a :class:`jax.sharding.Mesh` (e.g. ``jnn.parallel.data_mesh()``) to split
        ``batch`` over its devices along every leaf's leading axis (data parallel, params
        replicated): each device differentiates its share and the compiler sums the
        partial products, so the result is the single-device one up to rounding.
      axis_name: the mesh axis (or tuple of axes) the batch is split along.

    Returns:
      A pytree shaped like ``params`` holding :math:`H_{ii}` at each parameter's position.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.curvature import hessian_diag
      >>> loss = lambda p, b: jnp.sum(p**3) / 6.0 + p[0] * p[1]   # diag(H) = p
      >>> hessian_diag(loss, jnp.array([1.0, 2.0, 3.0]))
      Array([1., 2., 3.], dtype=float32)
    """
    check_loss("hessian_diag", loss, params, batch)
    batch, params = shard_data("hessian_diag", batch, params, mesh, axis_name)
    lin, flat, unravel = _flat_gradient_linearization(loss, params, batch)
    chunk = chunk_size_for("hessian_diag", chunk_size, flat.size)
    diag = diag_from_linear(lin, flat.size, flat.dtype, chunk)
    raise_if_not_finite("hessian_diag", "the Hessian diagonal", all_finite(diag))
    return unravel(diag)
