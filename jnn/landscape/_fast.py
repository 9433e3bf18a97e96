"""Opt-in fast path: a Dense first layer's products are computed once per batch, not per point.

For a model whose first layer is Dense, the pre-activation at grid point ``(alpha, beta)`` is

    X (W0 + alpha D1 + beta D2) + (b0 + alpha e1 + beta e2)
        = (X W0 + b0) + alpha (X D1 + e1) + beta (X D2 + e2),

affine in the coefficients. The three products are computed once per (mini)batch; each point
then costs a weighted sum of three ``(batch, hidden)`` arrays plus the rest of the network.
When the first layer holds most of the work (a wide input, as in MNIST MLPs) this removes
most of the grid's cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from ..layers import Dense, Sequential
from ..layers._base import Layer
from ._grid import Landscape, evaluate_grid
from ._slices import first_batch, perturb
from ._validate import (
    check_grid,
    check_like,
    check_minibatches,
    check_params,
    check_scalar,
    resolve_metrics,
)


def _split(where: str, model: Any) -> tuple[Dense, Layer | None]:
    net = model
    while not isinstance(net, Sequential) and hasattr(net, "network"):
        net = net.network  # jnn.models wrap a built Sequential
    if not isinstance(net, Sequential) or not isinstance(net.layers[0], Dense):
        raise ValueError(
            f"{where}: the fast path needs a Sequential model whose first layer is Dense; got "
            f"{model!r}. Use jnn.landscape.plane(jnn.objective(model, loss, state), ...) "
            "instead (the generic path works for every model)."
        )
    return net.layers[0], (net[1:] if len(net.layers) > 1 else None)


@dataclasses.dataclass(frozen=True)
class DenseFirstSpec:
    """Points share ``X W0 + b0`` and ``X D_i + e_i``; the rest runs per point."""

    first: Dense
    rest: Layer | None
    loss: Callable
    metrics: tuple
    shares_work = True

    def precompute(self, base, batch):
        params, _, directions = base
        x, targets = batch
        products = tuple(self.first.apply(p[0], {}, x)[0] for p in (params, *directions))
        return products, targets

    def prepare(self, base, coord):
        params, state, directions = base
        rest = perturb(params[1:], tuple(d[1:] for d in directions), coord)
        return rest, state[1:], coord

    def evaluate(self, prepared, shared):
        rest_params, rest_state, coord = prepared
        (h, *products), targets = shared
        for i, p in enumerate(products):
            h = h + coord[i].astype(h.dtype) * p
        if self.rest is not None:
            h = self.rest.apply(list(rest_params), list(rest_state), h)[0]
        return {"loss": self.loss(h, targets),
                **{name: fn(h, targets) for name, fn in self.metrics}}


def _fast(where, kind, model, loss, state, params, directions, axes, batch, metrics,
          chunk_size, memory_budget_bytes, minibatches, weights, mesh=None,
          axis_name="data") -> Landscape:
    first, rest = _split(where, model)
    if not callable(loss):
        raise TypeError(f"{where}: loss must be loss(predictions, targets) -> scalar; got "
                        f"{type(loss).__name__}.")
    check_params(where, params)
    if not isinstance(params, (list, tuple)) or not isinstance(state, (list, tuple)):
        raise TypeError(f"{where}: params and state must be the lists a Sequential's init "
                        f"returns; got {type(params).__name__} and {type(state).__name__}.")
    names = ("direction",) if len(directions) == 1 else ("d1", "d2")
    for name, d in zip(names, directions):
        check_like(where, name, d, "params", params)
    if not isinstance(minibatches, bool):
        raise TypeError(f"{where}: minibatches must be True or False; got {minibatches!r}.")
    metrics = resolve_metrics(where, metrics, "metric(predictions, targets) -> scalar")
    if minibatches:
        _, weights = check_minibatches(where, batch, weights)
    elif weights is not None:
        raise ValueError(f"{where}: weights are per minibatch; pass minibatches=True.")
    one = first_batch(batch, minibatches)
    if not isinstance(one, (tuple, list)) or len(one) != 2:
        raise TypeError(f"{where}: batch must be a pair (x, targets); got {type(one).__name__}.")
    batch = tuple(batch)
    predictions = jax.eval_shape(lambda p, s, x: model.apply(p, s, x)[0], params, state, one[0])
    check_scalar(where, "loss", jax.eval_shape(loss, predictions, one[1]))
    axes = [check_grid(where, n, a) for n, a in zip(("alphas", "betas"), axes)]
    spec = DenseFirstSpec(first, rest, loss, metrics)
    base = (list(params), list(state), tuple(list(d) for d in directions))
    return evaluate_grid(where, kind, spec, base, axes, batch, minibatches=minibatches,
                         weights=weights, chunk_size=chunk_size,
                         memory_budget_bytes=memory_budget_bytes,
                         extra_metadata={"fast_path": "dense_first"}, mesh=mesh,
                         axis_name=axis_name)


def plane_fast(
    model: Layer,
    loss: Callable,
    state: Any,
    params: Any,
    d1: Any,
    d2: Any,
    alphas: Any,
    betas: Any,
    batch: tuple[Any, Any],
    *,
    metrics: Any = None,
    chunk_size: int | None = None,
    memory_budget_bytes: int | None = None,
    minibatches: bool = False,
    weights: Any = None,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Landscape:
    r""":func:`plane` for a model with a Dense first layer, sharing that layer's work.

    The model's first layer must be :class:`jnn.layers.Dense` (a ``Sequential``, or a
    ``jnn.models`` model built as one, such as ``MLP``). Its pre-activation is affine in
    the coefficients,

    .. math::

        X(W_0 + \alpha D_1 + \beta D_2) + (b_0 + \alpha e_1 + \beta e_2)
        = (XW_0 + b_0) + \alpha (XD_1 + e_1) + \beta (XD_2 + e_2),

    so the three products are computed once per (mini)batch and every point only adds
    them up and runs the rest of the network. The result equals :func:`plane` on
    ``jnn.objective(model, loss, state)`` up to floating-point rounding (the sum is
    reassociated). Worth it when the first layer holds most of the flops (a wide input);
    it keeps three ``(batch, hidden)`` arrays per minibatch in memory.

    Args:
      model: a ``Sequential`` (or ``jnn.models`` model) starting with ``Dense``.
      loss: ``loss(predictions, targets) -> scalar``, e.g.
        ``jnn.losses.softmax_cross_entropy``.
      state: the model's state (evaluation mode is used).
      params: the center, the model's params list.
      d1, d2: directions shaped like ``params``.
      alphas, betas: strictly increasing coefficients.
      batch: ``(x, targets)``; stacked minibatches with ``minibatches=True``.
      metrics: functions ``metric(predictions, targets) -> scalar`` (e.g.
        ``jnn.losses.accuracy``), a dict by name or a list.
      chunk_size, memory_budget_bytes, weights, mesh, axis_name: as in :func:`plane`
        (with a mesh the points are split over the devices; the shared products are
        computed on every device from the replicated data).

    Returns:
      :class:`Landscape` as from :func:`plane`.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> from jnn.layers import Dense, Sequential
      >>> model = Sequential([Dense(16), jax.nn.relu, Dense(3)])
      >>> x, y = jnp.ones((8, 5)), jnp.zeros(8, dtype=jnp.int32)
      >>> params, state = model.init(jax.random.key(0), x)
      >>> d1 = jnn.landscape.filter_normalized_direction(jax.random.key(1), params)
      >>> d2 = jnn.landscape.filter_normalized_direction(jax.random.key(2), params)
      >>> grid = jnp.linspace(-1, 1, 5)
      >>> fast = plane_fast(model, jnn.losses.softmax_cross_entropy, state, params, d1, d2,
      ...                   grid, grid, (x, y))
      >>> slow = jnn.landscape.plane(
      ...     jnn.objective(model, jnn.losses.softmax_cross_entropy, state), params, d1, d2,
      ...     grid, grid, (x, y))
      >>> bool(jnp.allclose(fast.loss, slow.loss, rtol=1e-5))
      True
    """
    return _fast("plane_fast", "plane", model, loss, state, params, (d1, d2), (alphas, betas),
                 batch, metrics, chunk_size, memory_budget_bytes, minibatches, weights, mesh,
                 axis_name)


def line_fast(
    model: Layer,
    loss: Callable,
    state: Any,
    params: Any,
    direction: Any,
    alphas: Any,
    batch: tuple[Any, Any],
    *,
    metrics: Any = None,
    chunk_size: int | None = None,
    memory_budget_bytes: int | None = None,
    minibatches: bool = False,
    weights: Any = None,
    mesh: Any = None,
    axis_name: Any = "data",
) -> Landscape:
    r""":func:`line` for a model with a Dense first layer, sharing that layer's work.

    :math:`X(W_0 + \alpha D) + (b_0 + \alpha e) = (XW_0 + b_0) + \alpha (XD + e)`: the two
    products are computed once per (mini)batch. Arguments as in :func:`plane_fast` with
    one ``direction``.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> from jnn.layers import Dense, Sequential
      >>> model = Sequential([Dense(4), jax.nn.tanh, Dense(1)])
      >>> x, y = jnp.ones((8, 3)), jnp.zeros((8, 1))
      >>> params, state = model.init(jax.random.key(0), x)
      >>> d = jnn.landscape.random_direction(jax.random.key(1), params)
      >>> line_fast(model, jnn.losses.mse, state, params, d, jnp.linspace(-1, 1, 7),
      ...           (x, y)).loss.shape
      (7,)
    """
    return _fast("line_fast", "line", model, loss, state, params, (direction,), (alphas,),
                 batch, metrics, chunk_size, memory_budget_bytes, minibatches, weights, mesh,
                 axis_name)
