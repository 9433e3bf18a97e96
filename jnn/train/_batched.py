"""Train many models at once: ``jax.vmap`` over members inside one compiled epoch.

Members may differ in their initial params (seeds), in numeric optimizer
hyperparameters (injected with ``optax.inject_hyperparams``) and in which examples
they see (bootstrap resamples). Every member sees the same minibatch order, so
differences between members come only from what differs on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn.layers import Layer
from jnn.layers._penalty import collect_penalties


def batched_fit(
    model: Layer,
    params: Any,
    state: Any,
    optimizer_factory: Callable[..., optax.GradientTransformation],
    hparams: dict[str, jax.Array],
    loss: Callable,
    train_data: tuple[Any, Any],
    *,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    indices: jax.Array | None = None,
    val_data: tuple[Any, Any] | None = None,
    metrics: dict[str, Callable] | None = None,
) -> tuple[Any, Any, dict[str, np.ndarray]]:
    """Train ``m`` members in one vmapped program; returns stacked params, state, curves.

    Args:
        params, state: stacked with a leading member axis of size ``m``.
        optimizer_factory: called as ``optax.inject_hyperparams(factory)(**hparams_i)``.
        hparams: ``{name: (m,) array}`` numeric hyperparameters per member.
        indices: ``(m, n)`` example indices per member (bootstrap), default all.

    Returns:
        ``(params, state, curves)`` with ``curves[name]`` of shape ``(m, epochs)`` for
        ``loss``, each metric, and ``val_`` versions when ``val_data`` is given.
    """
    metrics = metrics or {}
    x, y = (jnp.asarray(a) for a in train_data)
    n = x.shape[0]
    m = jax.tree.leaves(params)[0].shape[0]
    if indices is None:
        indices = jnp.broadcast_to(jnp.arange(n), (m, n))
    optimizer = optax.inject_hyperparams(optimizer_factory)
    opt_state = jax.vmap(lambda h, p: optimizer(**h).init(p))(hparams, params)
    steps = n // batch_size

    def member_epoch(params, state, opt_state, idx, hp, order, keys):
        tx = optimizer(**hp)

        def step(carry, inputs):
            params, state, opt_state = carry
            rows, k = inputs
            xb, yb = x[idx[rows]], y[idx[rows]]

            def objective(p):
                predictions, new_state = model.apply(p, state, xb, key=k, train=True)
                return loss(predictions, yb) + collect_penalties(new_state), new_state

            (value, new_state), grads = jax.value_and_grad(objective, has_aux=True)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), new_state, opt_state), value

        rows = order[: steps * batch_size].reshape(steps, batch_size)
        (params, state, opt_state), values = jax.lax.scan(
            step, (params, state, opt_state), (rows, keys))
        return params, state, opt_state, jnp.mean(values)

    @jax.jit
    def epoch(params, state, opt_state, key):
        order_key, step_key = jax.random.split(key)
        order = jax.random.permutation(order_key, n)
        keys = jax.random.split(step_key, steps)
        return jax.vmap(member_epoch, in_axes=(0, 0, 0, 0, 0, None, None))(
            params, state, opt_state, indices, hparams, order, keys)

    @jax.jit
    def scores(params, state, xs, ys):
        def one(p, s):
            predictions, _ = model.apply(p, s, xs)
            return {"loss": loss(predictions, ys)} | {
                k: fn(predictions, ys) for k, fn in metrics.items()}

        return jax.vmap(one)(params, state)

    curves: dict[str, list] = {}
    for e in range(epochs):
        params, state, opt_state, train_loss = epoch(params, state, opt_state,
                                                     jax.random.fold_in(key, e))
        logs = {"loss": train_loss}
        if val_data is not None:
            logs |= {f"val_{k}": v for k, v in scores(params, state, *val_data).items()}
        for k, v in jax.device_get(logs).items():
            curves.setdefault(k, []).append(np.asarray(v))
    return params, state, {k: np.stack(v, axis=1) for k, v in curves.items()}
