"""Generalized Gauss-Newton products J^T H_out J, matrix-free and dense."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax.flatten_util import ravel_pytree
from jax.tree_util import Partial

from ..parallel._tools import shard_data
from ._flat import DEFAULT_MAX_BYTES, check_dense_fits, chunk_size_for, dense_from_linear
from ._hvp import _match_dtypes
from ._validate import (
    all_finite,
    check_like,
    check_params,
    check_scalar_output,
    raise_if_not_finite,
)


def _check(where, model_fn, loss_of_outputs, params, batch):
    for name, fn in (("model_fn", model_fn), ("loss_of_outputs", loss_of_outputs)):
        if not callable(fn):
            raise TypeError(f"{where}: {name} must be a function; got {type(fn).__name__}.")
    check_params(where, params)
    outputs = jax.eval_shape(model_fn, params, batch)
    check_scalar_output(where, "loss_of_outputs", loss_of_outputs, outputs, batch)


def _apply_ggn(params, model_jvp, loss_hvp, v):
    check_like("ggn_operator", "v", v, "params", params)
    jv = model_jvp(_match_dtypes(v, params))
    (out,) = jax.linear_transpose(model_jvp, params)(loss_hvp(jv))
    return out


def ggn_operator(
    model_fn: Callable,
    loss_of_outputs: Callable,
    params: Any,
    batch: Any = None,
    *,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Callable:
    r"""The generalized Gauss-Newton matrix at ``params`` as a pure function ``v -> G v``.

    For :math:`L(\theta) = \ell(f(\theta))` with model outputs :math:`f(\theta)`
    (``model_fn``) and a loss of the outputs :math:`\ell` (``loss_of_outputs``),

    .. math::

        G = J^\top H_\ell J, \qquad J = \frac{\partial f}{\partial \theta}, \qquad
        H_\ell = \nabla^2_f \ell(f),

    i.e. the Hessian :math:`\nabla^2 L = J^\top H_\ell J + \sum_k \partial_{f_k}\ell\,
    \nabla^2 f_k` without its second term. :math:`G v` is one ``jvp`` of the model, one
    Hessian-vector product of :math:`\ell` in output space and one ``vjp``. The model and the
    output-space gradient are linearized once, so repeated products only run tangent passes.
    For the squared error :math:`\ell = \tfrac{1}{2}\|f - y\|^2`, :math:`H_\ell = I` and
    :math:`G = J^\top J` (Gauss-Newton); for softmax cross-entropy
    :math:`H_\ell = \mathrm{diag}(p) - p p^\top` per example. :math:`G` is positive
    semi-definite whenever :math:`\ell` is convex in the outputs.

    Args:
      model_fn: ``model_fn(params, batch) -> outputs`` (any pytree of floating arrays, e.g.
        logits of shape ``(n, classes)``).
      loss_of_outputs: ``loss_of_outputs(outputs, batch) -> scalar``, so that
        ``loss(params, batch) = loss_of_outputs(model_fn(params, batch), batch)``.
      params: a pytree of floating arrays.
      batch: passed to both functions (``None`` if unused).
      mesh: a :class:`jax.sharding.Mesh` to split ``batch`` over (data parallel, params
        replicated; see :func:`hvp`).
      axis_name: the mesh axis (or tuple of axes) the batch is split along.

    Returns:
      ``matvec(v) -> G v`` on params-shaped pytrees (a ``jax.tree_util.Partial``, so it can
      be passed into ``jax.jit``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.curvature import ggn_operator
      >>> model = lambda w, b: b[0] @ w                        # linear least squares
      >>> sq = lambda out, b: 0.5 * jnp.sum((out - b[1]) ** 2)
      >>> X, y = jnp.array([[1.0, 0.0], [1.0, 1.0]]), jnp.zeros(2)
      >>> G = ggn_operator(model, sq, jnp.zeros(2), (X, y))     # G = X^T X
      >>> G(jnp.array([1.0, 0.0]))
      Array([2., 1.], dtype=float32)

    References:
      Schraudolph, "Fast Curvature Matrix-Vector Products for Second-Order Gradient
      Descent", Neural Computation 14(7), 2002. https://doi.org/10.1162/08997660260028683
      Martens, "New Insights and Perspectives on the Natural Gradient Method", JMLR 2020.
      https://arxiv.org/abs/1412.1193
    """
    _check("ggn_operator", model_fn, loss_of_outputs, params, batch)
    batch, params = shard_data("ggn_operator", batch, params, mesh, axis_name)
    outputs, model_jvp = jax.linearize(lambda p: model_fn(p, batch), params)
    _, loss_hvp = jax.linearize(jax.grad(lambda o: loss_of_outputs(o, batch)), outputs)
    return Partial(_apply_ggn, params, model_jvp, loss_hvp)


def ggn_vp(
    model_fn: Callable,
    loss_of_outputs: Callable,
    params: Any,
    v: Any,
    batch: Any = None,
    *,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Any:
    r"""One generalized Gauss-Newton product :math:`G v = J^\top H_\ell J v`.

    See :func:`ggn_operator` for the math; use that when many products are needed at the
    same ``params``.

    Args:
      model_fn: ``model_fn(params, batch) -> outputs``.
      loss_of_outputs: ``loss_of_outputs(outputs, batch) -> scalar``.
      params: a pytree of floating arrays.
      v: a pytree shaped like ``params``.
      batch: passed to both functions.
      mesh: a :class:`jax.sharding.Mesh` to split ``batch`` over (data parallel, params
        replicated; see :func:`hvp`).
      axis_name: the mesh axis (or tuple of axes) the batch is split along.

    Returns:
      :math:`G v`, shaped like ``params`` (outside ``jit``, non-finite values raise).

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.curvature import ggn_vp
      >>> model = lambda w, b: jnp.tanh(w)
      >>> sq = lambda out, b: 0.5 * jnp.sum(out**2)            # G = diag(1 - tanh^2)^2
      >>> ggn_vp(model, sq, jnp.zeros(2), jnp.ones(2))
      Array([1., 1.], dtype=float32)
    """
    _check("ggn_vp", model_fn, loss_of_outputs, params, batch)
    check_like("ggn_vp", "v", v, "params", params)
    batch, params = shard_data("ggn_vp", batch, params, mesh, axis_name)
    outputs, jv = jax.jvp(lambda p: model_fn(p, batch), (params,), (_match_dtypes(v, params),))
    _, hjv = jax.jvp(jax.grad(lambda o: loss_of_outputs(o, batch)), (outputs,), (jv,))
    _, vjp_fn = jax.vjp(lambda p: model_fn(p, batch), params)
    (out,) = vjp_fn(hjv)
    raise_if_not_finite("ggn_vp", "the Gauss-Newton product", all_finite(out))
    return out


def ggn_matrix(
    model_fn: Callable,
    loss_of_outputs: Callable,
    params: Any,
    batch: Any = None,
    *,
    chunk_size: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    mesh: Any = None,
    axis_name: Any = "data",
) -> tuple[jax.Array, Callable]:
    r"""The dense generalized Gauss-Newton matrix :math:`G = J^\top H_\ell J` over the
    flattened parameters, from chunked :func:`ggn_operator` products.

    Args:
      model_fn: ``model_fn(params, batch) -> outputs``.
      loss_of_outputs: ``loss_of_outputs(outputs, batch) -> scalar``.
      params: a pytree of floating arrays with ``d`` entries.
      batch: passed to both functions.
      chunk_size: basis vectors per batched product (default ``min(d, 64)``).
      max_bytes: refuse when the ``d x d`` result needs more (default 1 GiB); ``None``
        disables the check.
      mesh: a :class:`jax.sharding.Mesh` to split ``batch`` over (data parallel, params
        replicated; see :func:`hvp`).
      axis_name: the mesh axis (or tuple of axes) the batch is split along.

    Returns:
      ``(G, unravel)`` with ``G`` of shape ``(d, d)`` in ``ravel_pytree`` order.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.curvature import ggn_matrix
      >>> model = lambda w, b: b @ w
      >>> sq = lambda out, b: 0.5 * jnp.sum(out**2)
      >>> G, _ = ggn_matrix(model, sq, jnp.zeros(2), jnp.array([[1.0, 0.0], [1.0, 1.0]]))
      >>> G
      Array([[2., 1.],
             [1., 1.]], dtype=float32)
    """
    _check("ggn_matrix", model_fn, loss_of_outputs, params, batch)
    flat, unravel = ravel_pytree(params)
    d = flat.size
    check_dense_fits("ggn_matrix", d, flat.dtype, max_bytes)
    op = ggn_operator(model_fn, loss_of_outputs, params, batch, mesh=mesh, axis_name=axis_name)
    flat_op = lambda x: ravel_pytree(op(unravel(x)))[0]
    G = dense_from_linear(flat_op, d, flat.dtype, chunk_size_for("ggn_matrix", chunk_size, d))
    raise_if_not_finite("ggn_matrix", "the Gauss-Newton matrix", all_finite(G))
    return G, unravel
