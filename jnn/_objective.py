"""``jnn.objective``: a model plus a loss, as the ``loss(params, batch)`` every tool takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from jnn.layers._base import Layer


def objective(
    model: Layer,
    loss: Callable[[Any, Any], jax.Array],
    state: Any,
    *,
    train: bool = False,
    key: jax.Array | None = None,
) -> Callable[[Any, Any], jax.Array]:
    """Turn a model and a loss of predictions into ``f(params, batch) -> scalar``.

    Optimizers, curvature tools and landscapes all take a loss of the form
    ``f(params, batch)``. This closes over the model's non-trained ``state`` (so the
    Hessian and the landscape are of the params only) and evaluates the model in
    evaluation mode unless ``train=True``.

    Args:
        model: a jnn layer.
        loss: ``loss(predictions, targets) -> scalar``, e.g. ``jnn.losses.mse``.
        state: the model's state from ``init`` (``[{}, {}, ...]`` for a model without any).
        train: run the model in training mode (dropout on, batch statistics).
        key: the key for random layers when ``train=True``.

    Returns:
        ``f(params, batch)`` with ``batch = (x, targets)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense
        >>> model = Dense(1)
        >>> params, state = model.init(jax.random.key(0), jnp.ones((4, 2)))
        >>> f = objective(model, lambda p, t: jnp.mean((p - t) ** 2), state)
        >>> float(f(params, (jnp.zeros((4, 2)), jnp.zeros((4, 1)))))
        0.0
    """
    if not isinstance(model, Layer):
        raise TypeError(f"objective: model must be a jnn Layer; got {type(model).__name__}.")
    if not callable(loss):
        raise TypeError(
            f"objective: loss must be callable as loss(predictions, targets); got {loss!r}."
        )

    def f(params, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(
                f"objective: batch must be a pair (x, targets); got {type(batch).__name__}. "
                "Call f(params, (x, targets))."
            )
        x, targets = batch
        predictions, _ = model.apply(params, state, x, key=key, train=train)
        return loss(predictions, targets)

    return f
