"""1-D and 2-D slices of a loss through parameter space: ``line`` and ``plane``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from ._grid import Landscape, evaluate_grid
from ._validate import (
    check_grid,
    check_like,
    check_loss_fn,
    check_minibatches,
    check_params,
    check_scalar,
    resolve_metrics,
)

METRIC_SIGNATURE = "metric(params, batch) -> scalar"


def perturb(params: Any, directions: tuple, coord: jax.Array) -> Any:
    r""":math:`\theta + \sum_i c_i d_i`, leaf by leaf, in each leaf's dtype."""

    def one(p, *ds):
        out = p
        for i, d in enumerate(ds):
            out = out + coord[i].astype(p.dtype) * d
        return out

    return jax.tree.map(one, params, *directions)


@dataclasses.dataclass(frozen=True)
class AffineSpec:
    """Point ``c`` is the loss (and metrics) at ``params + sum_i c_i d_i``."""

    loss: Callable
    metrics: tuple
    shares_work = False

    def prepare(self, base, coord):
        params, directions = base
        return perturb(params, directions, coord)

    def evaluate(self, params, batch):
        return {"loss": self.loss(params, batch),
                **{name: fn(params, batch) for name, fn in self.metrics}}


def first_batch(batch: Any, minibatches: bool) -> Any:
    return jax.tree.map(lambda x: x[0], batch) if minibatches else batch


def check_values(where: str, loss, metrics, params, batch, minibatches: bool) -> None:
    """Loss and metrics must return scalars on one (mini)batch, checked abstractly."""
    one = first_batch(batch, minibatches)
    check_scalar(where, "loss", jax.eval_shape(loss, params, one))
    for name, fn in metrics:
        check_scalar(where, f"metric {name!r}", jax.eval_shape(fn, params, one))


def prepare_slice(where: str, loss, params, directions, batch, metrics, minibatches, weights):
    """Shared checks of ``line``/``plane``; returns ``(metrics, weights)``."""
    check_loss_fn(where, loss)
    check_params(where, params)
    names = ("direction",) if len(directions) == 1 else ("d1", "d2")
    for name, d in zip(names, directions):
        check_like(where, name, d, "params", params)
    if not isinstance(minibatches, bool):
        raise TypeError(f"{where}: minibatches must be True or False; got {minibatches!r}.")
    metrics = resolve_metrics(where, metrics, METRIC_SIGNATURE)
    if minibatches:
        _, weights = check_minibatches(where, batch, weights)
    elif weights is not None:
        raise ValueError(f"{where}: weights are per minibatch; pass minibatches=True with the "
                         "data stacked as (num_batches, batch_size, ...).")
    check_values(where, loss, metrics, params, batch, minibatches)
    return metrics, weights


def line(
    loss: Callable,
    params: Any,
    direction: Any,
    alphas: Any,
    batch: Any,
    *,
    metrics: Any = None,
    chunk_size: int | None = None,
    memory_budget_bytes: int | None = None,
    minibatches: bool = False,
    weights: Any = None,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Landscape:
    r"""The loss along a line through ``params``: :math:`f(\alpha) = L(\theta + \alpha d)`.

    .. math::

        f(\alpha_i) = L(\theta + \alpha_i\, d), \qquad i = 1, \dots, n.

    All points are evaluated in one compiled call (``lax.map`` over memory-bounded chunks
    of points, each chunk ``vmap``-ed), never a Python loop per point. Points with a nan or
    infinite loss are kept as they are, marked in ``nonfinite`` and reported by a
    :class:`NonFiniteLandscapeWarning`.

    Args:
      loss: ``loss(params, batch) -> scalar``; ``jnn.objective(model, loss, state)``
        builds one from a model.
      params: the center :math:`\theta` (a parameter pytree).
      direction: :math:`d`, shaped like ``params`` (e.g.
        :func:`filter_normalized_direction`).
      alphas: ``(n,)`` strictly increasing coefficients.
      batch: the loss's second argument. With ``minibatches=True``, every leaf is stacked
        minibatches ``(num_batches, batch_size, ...)`` and each point's value is their
        weighted mean, accumulated inside the compiled program (a full-dataset loss per
        point, with only one minibatch's activations alive per point).
      metrics: extra functions ``metric(params, batch) -> scalar`` (e.g.
        ``jnn.objective(model, jnn.losses.accuracy, state)``), as a dict by name or a
        list (named by ``__name__``).
      chunk_size: grid points evaluated at once (one ``vmap``); default: from the budget
        (on CPU only as many points as fit in about 256 KiB of intermediates, points under
        0.5 MB in pairs: XLA:CPU runs batched products of many points slowly).
      memory_budget_bytes: bytes of temporaries allowed for one chunk (default 256 MiB);
        the bytes of one point are measured by compiling it, and a ``chunk_size`` that
        does not fit is refused.
      minibatches: whether ``batch`` is stacked minibatches (see ``batch``).
      weights: ``(num_batches,)`` weights of the minibatches' values (e.g. the number of
        real examples in each); equal weights by default.
      mesh: a :class:`jax.sharding.Mesh` (e.g. ``jnn.parallel.data_mesh()``) to split the
        grid's points over its devices: each device evaluates ``1/n`` of every chunk (the
        chunk is sized per device and multiplied by ``n``), with the params, directions
        and data replicated. The values equal the single-device ones up to rounding.
      axis_name: the mesh axis (or tuple of axes) the points are split along.

    Returns:
      :class:`Landscape` with ``loss`` of shape ``(n,)`` (``betas`` is ``None``).

    Example:
      >>> import jax.numpy as jnp
      >>> loss = lambda p, b: jnp.sum((p["w"] - b) ** 2)
      >>> res = line(loss, {"w": jnp.zeros(2)}, {"w": jnp.ones(2)}, jnp.linspace(0, 2, 3),
      ...            jnp.ones(2))
      >>> res.loss
      Array([2., 0., 2.], dtype=float32)

    References:
      Goodfellow, Vinyals, Saxe, "Qualitatively characterizing neural network optimization
      problems", ICLR 2015. https://arxiv.org/abs/1412.6544
    """
    where = "line"
    metrics, weights = prepare_slice(where, loss, params, (direction,), batch, metrics,
                                     minibatches, weights)
    alphas = check_grid(where, "alphas", alphas)
    spec = AffineSpec(loss, metrics)
    return evaluate_grid(where, "line", spec, (params, (direction,)), [alphas], batch,
                         minibatches=minibatches, weights=weights, chunk_size=chunk_size,
                         memory_budget_bytes=memory_budget_bytes, mesh=mesh,
                         axis_name=axis_name)


def plane(
    loss: Callable,
    params: Any,
    d1: Any,
    d2: Any,
    alphas: Any,
    betas: Any,
    batch: Any,
    *,
    metrics: Any = None,
    chunk_size: int | None = None,
    memory_budget_bytes: int | None = None,
    minibatches: bool = False,
    weights: Any = None,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Landscape:
    r"""The loss on a plane through ``params``: :math:`f(\alpha, \beta) = L(\theta + \alpha
    d_1 + \beta d_2)`.

    .. math::

        f(\alpha_i, \beta_j) = L(\theta + \alpha_i\, d_1 + \beta_j\, d_2),

    the 2-D surface of Li et al. (2018), with :math:`d_1, d_2` usually filter-normalized
    random directions (:func:`filter_normalized_direction`), top Hessian eigenvectors
    (:func:`hessian_directions`) or a trajectory's principal components
    (:func:`trajectory_pca`). The whole ``n x m`` grid runs in one compiled call in
    memory-bounded chunks (see :func:`line`).

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params: the center :math:`\theta`.
      d1, d2: directions shaped like ``params``.
      alphas: ``(n,)`` strictly increasing coefficients of ``d1``.
      betas: ``(m,)`` strictly increasing coefficients of ``d2``.
      batch: the loss's second argument. With ``minibatches=True``, every leaf is stacked
        minibatches ``(num_batches, batch_size, ...)`` and each point's value is their
        weighted mean, accumulated inside the compiled program (a full-dataset loss per
        point, with only one minibatch's activations alive per point).
      metrics: extra functions ``metric(params, batch) -> scalar`` (e.g.
        ``jnn.objective(model, jnn.losses.accuracy, state)``), as a dict by name or a
        list (named by ``__name__``).
      chunk_size: grid points evaluated at once (one ``vmap``); default: from the budget
        (on CPU only as many points as fit in about 256 KiB of intermediates, points under
        0.5 MB in pairs: XLA:CPU runs batched products of many points slowly).
      memory_budget_bytes: bytes of temporaries allowed for one chunk (default 256 MiB);
        the bytes of one point are measured by compiling it, and a ``chunk_size`` that
        does not fit is refused.
      minibatches: whether ``batch`` is stacked minibatches (see ``batch``).
      weights: ``(num_batches,)`` weights of the minibatches' values (e.g. the number of
        real examples in each); equal weights by default.
      mesh: a :class:`jax.sharding.Mesh` (e.g. ``jnn.parallel.data_mesh()``) to split the
        grid's points over its devices: each device evaluates ``1/n`` of every chunk (the
        chunk is sized per device and multiplied by ``n``), with the params, directions
        and data replicated. The values equal the single-device ones up to rounding.
      axis_name: the mesh axis (or tuple of axes) the points are split along.

    Returns:
      :class:`Landscape` with ``loss[i, j]`` at ``(alphas[i], betas[j])``, shape ``(n, m)``.

    Example:
      >>> import jax.numpy as jnp
      >>> loss = lambda p, b: jnp.sum(p["w"] ** 2)
      >>> e1, e2 = {"w": jnp.array([1.0, 0.0])}, {"w": jnp.array([0.0, 1.0])}
      >>> grid = jnp.array([-1.0, 0.0, 1.0])
      >>> plane(loss, {"w": jnp.zeros(2)}, e1, e2, grid, grid, None).loss
      Array([[2., 1., 2.],
             [1., 0., 1.],
             [2., 1., 2.]], dtype=float32)

    On several devices (a TPU's cores, GPUs, or CPU devices forced with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=8``) pass ``mesh=`` to split the
    points over them. This is also how a small model uses every core of a CPU: XLA:CPU
    runs the loop over points on one core (one point's products are too small to split),
    so split the host into one device per core before JAX first runs anything
    (``jax.config.update("jax_num_cpu_devices", os.cpu_count())``) and pass
    ``mesh=jnn.parallel.data_mesh()``; each core then evaluates its share of every chunk
    (``benchmarks/bench_landscape.py`` measures both):

      >>> import jnn.parallel
      >>> sharded = plane(loss, {"w": jnp.zeros(2)}, e1, e2, grid, grid, None,
      ...                 mesh=jnn.parallel.data_mesh())
      >>> bool(jnp.allclose(sharded.loss, plane(loss, {"w": jnp.zeros(2)}, e1, e2, grid,
      ...                                       grid, None).loss))
      True

    References:
      Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural Nets",
      NeurIPS 2018. https://arxiv.org/abs/1712.09913
      JAX documentation, "Distributed arrays and automatic parallelization".
      https://docs.jax.dev/en/latest/notebooks/Distributed_arrays_and_automatic_parallelization.html
    """
    where = "plane"
    metrics, weights = prepare_slice(where, loss, params, (d1, d2), batch, metrics,
                                     minibatches, weights)
    alphas = check_grid(where, "alphas", alphas)
    betas = check_grid(where, "betas", betas)
    spec = AffineSpec(loss, metrics)
    return evaluate_grid(where, "plane", spec, (params, (d1, d2)), [alphas, betas], batch,
                         minibatches=minibatches, weights=weights, chunk_size=chunk_size,
                         memory_budget_bytes=memory_budget_bytes, mesh=mesh,
                         axis_name=axis_name)
