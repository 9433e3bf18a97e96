"""Metrics by name for :func:`jnn.train.fit` and :func:`jnn.train.evaluate`."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import losses


def top5_accuracy(predictions, targets):
    """Fraction of examples whose target is among the 5 highest-scoring classes."""
    top = jax.lax.top_k(predictions, 5)[1]
    return jnp.mean(jnp.any(top == targets[..., None], axis=-1))


METRICS: dict[str, Callable] = {
    "accuracy": losses.accuracy,
    "binary_accuracy": losses.binary_accuracy,
    "top5_accuracy": top5_accuracy,
    "mse": losses.mse,
    "mae": losses.mae,
}


def resolve(metrics) -> dict[str, Callable]:
    """``{"name": fn}`` from names, callables, or a dict of them."""
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        items = metrics.items()
    else:
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        items = [(m if isinstance(m, str) else getattr(m, "__name__", "metric"), m)
                 for m in metrics]
    resolved = {}
    for name, metric in items:
        if isinstance(metric, str):
            if metric not in METRICS:
                raise ValueError(
                    f"fit: unknown metric {metric!r}; known metrics are {sorted(METRICS)}, "
                    f"or pass a function metric(predictions, targets) -> scalar."
                )
            metric = METRICS[metric]
        if not callable(metric):
            raise TypeError(f"fit: metric {name!r} must be a name or a callable; got {metric!r}.")
        resolved[name] = metric
    return resolved
