"""Paths between two solutions (mode connectivity), with BatchNorm statistics handled."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ..layers._base import Layer
from ._grid import Landscape, evaluate_grid
from ._slices import first_batch, prepare_slice
from ._validate import (
    check_grid,
    check_like,
    check_minibatches,
    check_params,
    check_scalar,
    resolve_metrics,
)

_STATE_MODES = ("interpolate", "recompute")


def convex(a: Any, b: Any, alpha: jax.Array) -> Any:
    r""":math:`(1 - \alpha) a + \alpha b`, exactly ``a`` at 0 and exactly ``b`` at 1."""
    return jax.tree.map(
        lambda x, y: (1 - alpha).astype(x.dtype) * x + alpha.astype(x.dtype) * y, a, b)


@dataclasses.dataclass(frozen=True)
class ConvexSpec:
    """Point ``alpha`` is the loss at ``(1 - alpha) params_a + alpha params_b``."""

    loss: Callable
    metrics: tuple
    shares_work = False

    def prepare(self, base, coord):
        params_a, params_b = base
        return convex(params_a, params_b, coord[0])

    def evaluate(self, params, batch):
        return {"loss": self.loss(params, batch),
                **{name: fn(params, batch) for name, fn in self.metrics}}


def interpolate(
    loss: Callable,
    params_a: Any,
    params_b: Any,
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
    r"""The loss on the straight path between two solutions (or initialization and solution).

    .. math::

        f(\alpha) = L\big((1 - \alpha)\,\theta_a + \alpha\,\theta_b\big),

    Goodfellow et al.'s (2015) linear interpolation; a barrier between two minima shows they
    are not linearly mode-connected (Garipov et al. 2018; Draxler et al. 2018). Written as
    a convex combination, the path is exactly :math:`\theta_a` at 0 and :math:`\theta_b` at
    1; coefficients outside ``[0, 1]`` extrapolate. For models with BatchNorm use
    :func:`interpolate_model`, which also treats the running statistics.

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params_a, params_b: the two endpoints (same structure and shapes).
      alphas: ``(n,)`` strictly increasing coefficients, e.g. ``jnp.linspace(-0.5, 1.5, 41)``.
      batch, metrics, chunk_size, memory_budget_bytes, minibatches, weights: as in
        :func:`line`.
      mesh, axis_name: as in :func:`line`: the coefficients are split over the devices of
        ``axis_name`` (both endpoints and the data replicated).

    Returns:
      :class:`Landscape` with ``loss`` of shape ``(n,)``.

    Example:
      >>> import jax.numpy as jnp
      >>> loss = lambda p, b: jnp.sum(p["w"] ** 2)
      >>> interpolate(loss, {"w": -jnp.ones(1)}, {"w": jnp.ones(1)},
      ...             jnp.array([0.0, 0.5, 1.0]), None).loss
      Array([1., 0., 1.], dtype=float32)

    References:
      Goodfellow, Vinyals, Saxe, "Qualitatively characterizing neural network optimization
      problems", ICLR 2015. https://arxiv.org/abs/1412.6544
    """
    where = "interpolate"
    check_params(where, params_a, "params_a")
    check_like(where, "params_b", params_b, "params_a", params_a)
    metrics, weights = prepare_slice(where, loss, params_a, (params_b,), batch, metrics,
                                     minibatches, weights)
    alphas = check_grid(where, "alphas", alphas)
    return evaluate_grid(where, "interpolate", ConvexSpec(loss, metrics), (params_a, params_b),
                         [alphas], batch, minibatches=minibatches, weights=weights,
                         chunk_size=chunk_size, memory_budget_bytes=memory_budget_bytes,
                         mesh=mesh, axis_name=axis_name)


def _momentum(model, params, state, x, key):
    """Per-leaf ``rho`` of running averages updated as ``rho * s + (1 - rho) * stat``.

    The train-mode state update is affine in the old state; its derivative along a tangent
    of ones is ``rho`` (0 for leaves that are recomputed from scratch each call, 1 for
    leaves that never change).
    """
    new_state = lambda s: model.apply(params, s, x, key=key, train=True)[1]
    ones = jax.tree.map(jnp.ones_like, state)
    return jax.jvp(new_state, (state,), (ones,))[1]


def recompute_state(model, params, state, rho, inputs, key, stacked):
    """Population statistics of ``inputs`` at ``params``: the mean of the batch statistics.

    Each minibatch is run in training mode from an all-zero state, which gives
    ``(1 - rho) * stat`` for every running average; dividing by ``1 - rho`` recovers the
    batch statistic. Leaves with ``rho == 1`` (never updated) keep ``state``.
    """
    zeros = jax.tree.map(jnp.zeros_like, state)

    def stats(x):
        fresh = model.apply(params, zeros, x, key=key, train=True)[1]
        return jax.tree.map(lambda f, r: f / jnp.where(r == 1, 1, 1 - r), fresh, rho)

    if stacked:
        total = lax.scan(lambda t, x: (jax.tree.map(jnp.add, t, stats(x)), None), zeros,
                         inputs)[0]
        n = jax.tree.leaves(inputs)[0].shape[0]
        mean = jax.tree.map(lambda t: t / n, total)
    else:
        mean = stats(inputs)
    return jax.tree.map(lambda m, r, s: jnp.where(r == 1, s, m).astype(s.dtype), mean, rho,
                        state)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Point ``alpha``: params and state between two endpoints, evaluated by the model."""

    model: Layer
    loss: Callable
    metrics: tuple
    recompute: bool
    stacked_inputs: bool
    shares_work = False

    def prepare(self, base, coord):
        (pa, sa), (pb, sb), rho, inputs, key = base
        params, state = convex(pa, pb, coord[0]), convex(sa, sb, coord[0])
        if self.recompute:
            state = recompute_state(self.model, params, state, rho, inputs, key,
                                    self.stacked_inputs)
        return params, state

    def evaluate(self, prepared, batch):
        params, state = prepared
        x, targets = batch
        predictions = self.model.apply(params, state, x, train=False)[0]
        return {"loss": self.loss(predictions, targets),
                **{name: fn(predictions, targets) for name, fn in self.metrics}}


def _check_endpoint(where, name, endpoint):
    if not isinstance(endpoint, (tuple, list)) or len(endpoint) != 2:
        raise TypeError(f"{where}: {name} must be a pair (params, state) as returned by "
                        f"model.init or fit; got {type(endpoint).__name__}.")
    return endpoint


def interpolate_model(
    model: Layer,
    loss: Callable,
    endpoint_a: tuple[Any, Any],
    endpoint_b: tuple[Any, Any],
    alphas: Any,
    batch: tuple[Any, Any],
    *,
    state: str = "interpolate",
    recompute_inputs: Any = None,
    key: jax.Array | None = None,
    metrics: Any = None,
    chunk_size: int | None = None,
    memory_budget_bytes: int | None = None,
    minibatches: bool = False,
    weights: Any = None,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Landscape:
    r"""Interpolate a model with state (BatchNorm) between two solutions, in evaluation mode.

    The params follow :math:`\theta(\alpha) = (1 - \alpha)\theta_a + \alpha\theta_b`. The
    running statistics :math:`s` (BatchNorm's ``mean`` and ``var``) belong to each solution
    and must move with it; two options:

    - ``state="interpolate"``: :math:`s(\alpha) = (1 - \alpha) s_a + \alpha s_b`. At
      :math:`\alpha = 0` and :math:`1` this is exactly each endpoint as evaluated alone.
    - ``state="recompute"``: the statistics are recomputed at every :math:`\theta(\alpha)`
      by a pass over ``recompute_inputs`` in training mode (as SWA's ``update_bn`` does),
      averaging the per-minibatch batch statistics. With all the data as one batch they are
      the exact population statistics; this removes the spurious barrier that mismatched
      statistics create in the middle of the path.

    Running averages are recognized without knowing the layers: the training-mode update
    :math:`s' = \rho s + (1 - \rho)\,\mathrm{stat}` is affine in :math:`s`, so one
    forward-mode derivative gives :math:`\rho` and a pass from :math:`s = 0` gives
    :math:`(1 - \rho)\,\mathrm{stat}`. (In float32 the recovered statistic carries a
    relative error of about :math:`\epsilon / (1 - \rho)`, ~1e-5 for ``momentum=0.99``.)

    Args:
      model: a jnn layer.
      loss: ``loss(predictions, targets) -> scalar``, e.g. ``jnn.losses.softmax_cross_entropy``.
      endpoint_a, endpoint_b: ``(params, state)`` of the two solutions.
      alphas: ``(n,)`` strictly increasing coefficients.
      batch: ``(x, targets)`` evaluated at every point; stacked minibatches
        ``(num_batches, batch_size, ...)`` with ``minibatches=True``.
      state: ``"interpolate"`` or ``"recompute"``.
      recompute_inputs: inputs for ``"recompute"`` (default: the ``x`` of ``batch``);
        stacked like ``batch`` when ``minibatches=True``.
      key: for random layers (dropout) in the training-mode pass of ``"recompute"``.
      metrics: functions ``metric(predictions, targets) -> scalar`` (e.g.
        ``jnn.losses.accuracy``), a dict by name or a list.
      chunk_size, memory_budget_bytes, weights: as in :func:`line`.
      mesh, axis_name: as in :func:`line`: the coefficients are split over the devices of
        ``axis_name``; each device recomputes the statistics of its own points.

    Returns:
      :class:`Landscape` with ``loss`` of shape ``(n,)``.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> from jnn.layers import BatchNorm, Dense, Sequential
      >>> model = Sequential([Dense(8), BatchNorm(), jax.nn.relu, Dense(1)])
      >>> x, y = jnp.ones((16, 3)), jnp.zeros((16, 1))
      >>> a, b = model.init(jax.random.key(0), x), model.init(jax.random.key(1), x)
      >>> res = interpolate_model(model, jnn.losses.mse, a, b, jnp.linspace(0, 1, 5), (x, y),
      ...                         state="recompute")
      >>> res.loss.shape
      (5,)

    References:
      Garipov, Izmailov, Podoprikhin, Vetrov, Wilson, "Loss Surfaces, Mode Connectivity, and
      Fast Ensembling of DNNs", NeurIPS 2018. https://arxiv.org/abs/1802.10026
      Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization"
      (SWA, ``update_bn``), UAI 2018. https://arxiv.org/abs/1803.05407
    """
    where = "interpolate_model"
    if not isinstance(model, Layer):
        raise TypeError(f"{where}: model must be a jnn Layer; got {type(model).__name__}.")
    if state not in _STATE_MODES:
        raise ValueError(f"{where}: state must be one of {_STATE_MODES}; got {state!r}. "
                         "'interpolate' mixes the running statistics, 'recompute' recomputes "
                         "them from data at every point.")
    pa, sa = _check_endpoint(where, "endpoint_a", endpoint_a)
    pb, sb = _check_endpoint(where, "endpoint_b", endpoint_b)
    check_params(where, pa, "params_a")
    check_like(where, "params_b", pb, "params_a", pa)
    check_like(where, "state_b", sb, "state_a", sa)
    if not callable(loss):
        raise TypeError(f"{where}: loss must be loss(predictions, targets) -> scalar; got "
                        f"{type(loss).__name__}.")
    if not isinstance(minibatches, bool):
        raise TypeError(f"{where}: minibatches must be True or False; got {minibatches!r}.")
    metrics = resolve_metrics(where, metrics, "metric(predictions, targets) -> scalar")
    one = first_batch(batch, minibatches)
    if not isinstance(one, (tuple, list)) or len(one) != 2:
        raise TypeError(f"{where}: batch must be a pair (x, targets); got "
                        f"{type(batch).__name__}.")
    if minibatches:
        _, weights = check_minibatches(where, batch, weights)
    elif weights is not None:
        raise ValueError(f"{where}: weights are per minibatch; pass minibatches=True.")
    batch = tuple(batch)
    alphas = check_grid(where, "alphas", alphas)
    recompute = state == "recompute"
    if recompute_inputs is None:
        recompute_inputs = batch[0]
    x0 = first_batch(recompute_inputs, minibatches)
    rho = _momentum(model, pa, sa, x0, key) if recompute else None
    spec = ModelSpec(model, loss, metrics, recompute, minibatches)
    base = ((pa, sa), (pb, sb), rho, recompute_inputs if recompute else None, key)
    predictions = jax.eval_shape(lambda p, s, x: model.apply(p, s, x)[0], pa, sa, one[0])
    check_scalar(where, "loss", jax.eval_shape(loss, predictions, one[1]))
    return evaluate_grid(where, "interpolate_model", spec, base, [alphas], batch,
                         minibatches=minibatches, weights=weights, chunk_size=chunk_size,
                         memory_budget_bytes=memory_budget_bytes,
                         extra_metadata={"state": state}, mesh=mesh, axis_name=axis_name)
