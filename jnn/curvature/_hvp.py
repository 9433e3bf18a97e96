"""Hessian-vector products on parameter pytrees: one product, and a reusable linear operator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.tree_util import Partial

from ..parallel._tools import shard_data
from ._validate import all_finite, check_like, check_loss, raise_if_not_finite

Matvec = Callable[[Any], Any]


def _match_dtypes(v, params):
    # jax.jvp needs tangents of the primals' dtypes; a float64 probe for float32 params is fine.
    return jax.tree.map(lambda t, p: jnp.asarray(t, dtype=jnp.result_type(p)), v, params)


def _grad_at(loss, batch):
    return lambda p: jax.grad(loss)(p, batch)


def hvp(loss: Callable, params: Any, v: Any, batch: Any = None, *, mesh: Any = None,
        axis_name: Any = "data") -> Any:
    r"""Hessian-vector product :math:`H v` of ``loss`` at ``params``, forward-over-reverse.

    .. math::

        H v = \frac{\partial}{\partial \epsilon}\,
              \nabla_\theta L(\theta + \epsilon v)\Big|_{\epsilon = 0}
            = \mathrm{jvp}(\nabla_\theta L,\ \theta,\ v)

    This is Pearlmutter's :math:`\mathcal{R}\{\cdot\}` operator: one forward-mode pass through
    the gradient computation, costing a small constant times one gradient (no Hessian is
    formed). It works on any parameter pytree and under ``jax.jit`` / ``jax.vmap``.

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params: the point :math:`\theta`, a pytree of floating arrays.
      v: the direction, a pytree with the structure and leaf shapes of ``params``.
      batch: anything ``loss`` takes as its second argument (``None`` if unused).
      mesh: a :class:`jax.sharding.Mesh` (e.g. ``jnn.parallel.data_mesh()``) to split
        ``batch`` over its devices along every leaf's leading axis (data parallel, params
        replicated): each device differentiates its share and the compiler sums the
        partial products, so the result is the single-device one up to rounding.
      axis_name: the mesh axis (or tuple of axes) the batch is split along.

    Returns:
      :math:`H v`, a pytree shaped like ``params``. Outside ``jit`` a non-finite result raises
      ``ValueError``; under ``jit`` the nan/inf values are returned as they are.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.curvature import hvp
      >>> loss = lambda p, b: 0.5 * p["w"] @ b @ p["w"]         # H = b (symmetric)
      >>> A = jnp.array([[2.0, 1.0], [1.0, 3.0]])
      >>> hvp(loss, {"w": jnp.ones(2)}, {"w": jnp.array([1.0, 0.0])}, A)["w"]
      Array([2., 1.], dtype=float32)

    References:
      Pearlmutter, "Fast Exact Multiplication by the Hessian", Neural Computation 6(1), 1994.
      https://doi.org/10.1162/neco.1994.6.1.147
    """
    check_loss("hvp", loss, params, batch)
    check_like("hvp", "v", v, "params", params)
    batch, (params, v) = shard_data("hvp", batch, (params, v), mesh, axis_name)
    _, out = jax.jvp(_grad_at(loss, batch), (params,), (_match_dtypes(v, params),))
    raise_if_not_finite("hvp", "the Hessian-vector product", all_finite(out))
    return out


def _apply_linearized(params, lin, v):
    check_like("hvp_operator", "v", v, "params", params)
    return lin(_match_dtypes(v, params))


def _apply_jvp(loss, params, batch, v):
    check_like("hvp_operator", "v", v, "params", params)
    return jax.jvp(_grad_at(loss, batch), (params,), (_match_dtypes(v, params),))[1]


def hvp_operator(
    loss: Callable,
    params: Any,
    batch: Any = None,
    *,
    linearize: bool = True,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Matvec:
    r"""The Hessian of ``loss`` at ``params`` as a pure linear function ``v -> H v``.

    With ``linearize=True`` the gradient map is linearized once,

    .. math::

        \nabla L(\theta + v) \approx \nabla L(\theta) + H v,
        \qquad \text{matvec} = \mathrm{linearize}(\nabla L, \theta),

    so the forward and backward passes at :math:`\theta` run once and every later product only
    runs the tangent computation (cheaper inside a Lanczos or conjugate-gradient loop, at the
    price of storing the residuals). With ``linearize=False`` each call runs a full
    :func:`hvp` (no stored residuals: the choice for very large models).

    The operator is a ``jax.tree_util.Partial``: it is a pytree, so it may be passed as an
    argument into ``jax.jit``-compiled functions. Build it inside the compiled function when
    ``params`` change every step.

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params: the point :math:`\theta`, a pytree of floating arrays.
      batch: the second argument of ``loss``.
      linearize: store the linearization (faster repeated products) or recompute each time.
      mesh: a :class:`jax.sharding.Mesh` (e.g. ``jnn.parallel.data_mesh()``) to split
        ``batch`` over its devices along every leaf's leading axis (data parallel, params
        replicated): each device differentiates its share and the compiler sums the
        partial products, so every product (and a Lanczos run, trace or density built on
        the operator) is the single-device one up to rounding.
      axis_name: the mesh axis (or tuple of axes) the batch is split along.

    Returns:
      ``matvec(v) -> H v`` on params-shaped pytrees.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import hvp_operator
      >>> loss = lambda p, b: jnp.sum(p**3) / 6.0               # H = diag(p)
      >>> H = hvp_operator(loss, jnp.array([1.0, 2.0, 3.0]))
      >>> H(jnp.ones(3))
      Array([1., 2., 3.], dtype=float32)

    References:
      Pearlmutter, "Fast Exact Multiplication by the Hessian", Neural Computation, 1994.
    """
    check_loss("hvp_operator", loss, params, batch)
    batch, params = shard_data("hvp_operator", batch, params, mesh, axis_name)
    if linearize:
        _, lin = jax.linearize(_grad_at(loss, batch), params)
        return Partial(_apply_linearized, params, lin)
    return Partial(functools.partial(_apply_jvp, loss), params, batch)
