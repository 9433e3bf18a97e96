"""Ensembles and bagging: N models trained at once with ``jax.vmap``, predictions averaged."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn.layers import Layer
from jnn.train import _metrics
from jnn.train._batched import batched_fit


@dataclasses.dataclass
class Ensemble:
    """Stacked params and state of the members (leading axis = member) and their curves."""

    model: Layer
    params: Any
    state: Any
    curves: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return jax.tree.leaves(self.params)[0].shape[0]

    def member_predictions(self, x) -> jax.Array:
        """``(members, batch, ...)`` outputs, in evaluation mode."""
        return jax.vmap(lambda p, s: self.model.apply(p, s, x)[0])(self.params, self.state)

    def predict(self, x, *, average: str = "probabilities") -> jax.Array:
        """The ensemble's prediction: the mean of softmax probabilities (classification,
        ``average="probabilities"``) or of raw outputs (``average="outputs"``)."""
        outputs = self.member_predictions(x)
        if average == "probabilities":
            return jnp.mean(jax.nn.softmax(outputs, axis=-1), axis=0)
        if average == "outputs":
            return jnp.mean(outputs, axis=0)
        raise ValueError(f"Ensemble.predict: average must be 'probabilities' or 'outputs'; "
                         f"got {average!r}.")

    def gain(self, data, metric: str | Callable = "accuracy", *,
             average: str = "probabilities") -> dict[str, Any]:
        """Each member's score, their mean, the ensemble's score and the gain over the mean."""
        fn = _metrics.resolve([metric])
        (name, fn), = fn.items()
        x, y = data
        members = [float(fn(p, y)) for p in self.member_predictions(x)]
        ensemble = float(fn(self.predict(x, average=average), y))
        return {"members": members, "member_mean": float(np.mean(members)),
                "ensemble": ensemble, "gain": ensemble - float(np.mean(members))}


def train_ensemble(model: Layer, optimizer: optax.GradientTransformation, loss: Callable,
                   train_data: tuple, *, num_members: int, epochs: int, batch_size: int,
                   key: jax.Array, bootstrap: bool = True, val_data: tuple | None = None,
                   metrics=None) -> Ensemble:
    """Train ``num_members`` models at once; with ``bootstrap`` each sees a resample (bagging).

    Members differ in their initialization (a key each) and, with ``bootstrap=True``,
    in their training set: ``n`` examples drawn with replacement (Breiman 1996). All of
    them train in one vmapped, compiled epoch.

    Example:
        >>> import jax, optax, jnn
        >>> from jnn.layers import Dense, Sequential
        >>> x, y = jnn.data.spirals(jax.random.key(0), 128)
        >>> ens = train_ensemble(Sequential([Dense(16), jax.nn.relu, Dense(2)]),
        ...                      optax.adam(1e-2), jnn.losses.softmax_cross_entropy, (x, y),
        ...                      num_members=3, epochs=2, batch_size=32, key=jax.random.key(1))
        >>> ens.predict(x).shape
        (128, 2)
    """
    where = "train_ensemble"
    num_members = _checks.positive_int(where, "num_members", num_members)
    x = jnp.asarray(train_data[0])
    n = x.shape[0]
    init_key, boot_key, fit_key = jax.random.split(key, 3)
    params, state = jax.vmap(lambda k: model.init(k, x[:1]))(
        jax.random.split(init_key, num_members))
    indices = None
    if bootstrap:
        indices = jax.random.randint(boot_key, (num_members, n), 0, n)
    params, state, curves = batched_fit(
        model, params, state, lambda: optimizer, {}, loss, train_data, epochs=epochs,
        batch_size=batch_size, key=fit_key, indices=indices, val_data=val_data,
        metrics=_metrics.resolve(metrics))
    return Ensemble(model, params, state, curves)
