"""Interop with Flax Linen: wrap any ``flax.linen.Module`` as a jnn layer, export params.

Flax is imported lazily, inside the functions, so ``import jnn`` does not pay for it.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jnn.layers._base import MISSING_KEY_MSG, Layer

# Call arguments that carry the train/eval switch, and how train maps onto each.
_TRAIN_ARGS = {
    "train": lambda train: train,
    "training": lambda train: train,
    "is_training": lambda train: train,
    "deterministic": lambda train: not train,
    "use_running_average": lambda train: not train,
}


def _plain(tree: Any) -> Any:
    """FrozenDicts (older Flax) as plain dicts, so params are ordinary pytrees."""
    if isinstance(tree, Mapping):
        return {k: _plain(v) for k, v in tree.items()}
    return tree


def _train_kwargs(module: Any, train: bool) -> dict[str, bool]:
    params = inspect.signature(module.__call__).parameters
    return {name: fn(train) for name, fn in _TRAIN_ARGS.items() if name in params}


@dataclasses.dataclass(frozen=True, repr=False)
class FromLinen(Layer):
    """A ``flax.linen.Module`` run as a jnn layer; build it with :func:`from_linen`."""

    module: Any
    rng_names: tuple[str, ...] = ("dropout",)

    def __post_init__(self):
        import flax.linen as nn

        if not isinstance(self.module, nn.Module):
            hint = (
                " Instantiate it first, e.g. from_linen(nn.Dense(3))."
                if isinstance(self.module, type)
                else ""
            )
            raise TypeError(
                f"from_linen: module must be a flax.linen.Module instance; got "
                f"{self.module!r}.{hint}"
            )
        names = self.rng_names
        if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
            raise TypeError(
                f"from_linen: rng_names must be a tuple of strings such as ('dropout',); "
                f"got {names!r}."
            )

    def __repr__(self) -> str:
        return f"from_linen({self.module!r})"

    def _rngs(self, key):
        if key is None:
            return None
        k_params, k_rest = jax.random.split(key)
        # Streams Flax asks for but that are not listed fall back to "params".
        rngs = {"params": k_params}
        for i, name in enumerate(self.rng_names):
            rngs[name] = jax.random.fold_in(k_rest, i)
        return rngs

    def init(self, key, x):
        x = jax.tree.map(
            lambda a: jnp.zeros(a.shape, a.dtype) if isinstance(a, jax.ShapeDtypeStruct) else a,
            x,
        )
        variables = _plain(
            self.module.init(self._rngs(key), x, **_train_kwargs(self.module, False))
        )
        params = variables.pop("params", {})
        return params, variables

    def apply(self, params, state, x, *, key=None, train=False):
        import flax.errors

        variables = dict(state)
        if params:
            variables["params"] = params
        kwargs = _train_kwargs(self.module, train)
        try:
            if train and state:
                y, updates = self.module.apply(
                    variables, x, rngs=self._rngs(key), mutable=list(state), **kwargs
                )
                return y, {**state, **_plain(updates)}
            return self.module.apply(variables, x, rngs=self._rngs(key), **kwargs), state
        except flax.errors.InvalidRngError as error:
            if key is None:
                where = f"from_linen({type(self.module).__name__}).apply"
                raise ValueError(MISSING_KEY_MSG.format(where=where)) from error
            raise


def from_linen(module: Any, *, rng_names: tuple[str, ...] = ("dropout",)) -> FromLinen:
    """Wrap a ``flax.linen.Module`` as a jnn layer.

    Conventions:

    - ``params`` is the module's ``"params"`` collection; every other collection the
      module creates at init (``"batch_stats"``, ...) goes into ``state``, keyed by
      collection name.
    - ``train`` is passed to the module's ``__call__`` if it has an argument named
      ``train``, ``training`` or ``is_training`` (as is), or ``deterministic`` or
      ``use_running_average`` (negated). Modules without one are called without it.
      ``init`` runs in evaluation mode.
    - In training, the state collections are mutable and their updated values are
      returned as the new state; in evaluation the state comes back unchanged.
    - ``key`` supplies Flax's rngs: one stream per name in ``rng_names`` plus
      ``"params"`` (other stream names fall back to ``"params"`` in Flax). A random
      module called with ``train=True`` and no key raises jnn's missing-key error.

    Args:
        module: a Linen module instance.
        rng_names: the rng streams to supply from ``key``.

    Returns:
        A jnn layer (usable inside ``Sequential``, under ``jit``/``grad``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> import flax.linen as nn
        >>> layer = from_linen(nn.Dense(3))
        >>> params, state = layer.init(jax.random.key(0), jnp.ones((2, 4)))
        >>> sorted(params), state
        (['bias', 'kernel'], {})
        >>> layer.apply(params, state, jnp.ones((2, 4)))[0].shape
        (2, 3)
    """
    return FromLinen(module, rng_names)


def to_linen_params(layer: Layer, params: Any, state: Any = None) -> dict[str, Any]:
    """Variables for the matching Flax Linen module, ready for ``module.apply(variables, x)``.

    Mappings (jnn layer -> Linen module):

    - ``Dense``, ``Conv``, ``LayerNorm``, ``GroupNorm``, ``Embedding`` -> ``nn.Dense``,
      ``nn.Conv``, ``nn.LayerNorm``, ``nn.GroupNorm``, ``nn.Embed``: same param names.
    - ``BatchNorm`` -> ``nn.BatchNorm``: params, and the state as ``"batch_stats"``.
    - ``LSTMCell`` / ``GRUCell`` / ``SimpleRNNCell`` -> ``nn.LSTMCell`` (or
      ``nn.OptimizedLSTMCell``) / ``nn.GRUCell`` / ``nn.SimpleCell``: fused kernels
      split into Flax's per-gate Dense layers.
    - ``RNN(cell)`` -> ``nn.RNN(cell)``: the cell's variables under ``"cell"``.
    - ``Sequential`` -> ``nn.Sequential``: child ``i`` under ``"layers_i"``.
    - ``from_linen(module)`` -> ``module``: its own variables.

    Args:
        layer: the jnn layer (or cell) the params belong to.
        params: its params.
        state: its state (needed for ``BatchNorm``'s running statistics).

    Returns:
        A dict of Flax collections, e.g. ``{"params": ..., "batch_stats": ...}``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> import flax.linen as nn
        >>> from jnn.layers import Dense
        >>> layer = Dense(3)
        >>> params, _ = layer.init(jax.random.key(0), jnp.ones((1, 2)))
        >>> y = nn.Dense(3).apply(to_linen_params(layer, params), jnp.ones((1, 2)))
    """
    collections = _to_linen(layer, params, state)
    return {k: v for k, v in collections.items() if v}


def _split_gates(kernel, n):
    return jnp.split(kernel, n, axis=-1)


def _to_linen(layer, params, state) -> dict[str, Any]:
    from jnn.layers._cells import GRUCell, LSTMCell, SimpleRNNCell
    from jnn.layers._combinators import Sequential
    from jnn.layers._norm import BatchNorm
    from jnn.layers._rnn import RNN

    if isinstance(layer, LSTMCell):
        wi = _split_gates(params["input_kernel"], 4)
        wh = _split_gates(params["recurrent_kernel"], 4)
        b = _split_gates(params["bias"], 4)
        p = {}
        for gate, w_in, w_h, bias in zip("ifgo", wi, wh, b):
            p[f"i{gate}"] = {"kernel": w_in}
            p[f"h{gate}"] = {"kernel": w_h, "bias": bias}
        return {"params": p}
    if isinstance(layer, GRUCell):
        wi = _split_gates(params["input_kernel"], 3)
        wh = _split_gates(params["recurrent_kernel"], 3)
        b = _split_gates(params["bias"], 3)
        p = {}
        for gate, w_in, w_h, bias in zip("rzn", wi, wh, b):
            p[f"i{gate}"] = {"kernel": w_in, "bias": bias}
            p[f"h{gate}"] = {"kernel": w_h}
        p["hn"]["bias"] = params["recurrent_bias"]
        return {"params": p}
    if isinstance(layer, SimpleRNNCell):
        return {
            "params": {
                "i": {"kernel": params["input_kernel"], "bias": params["bias"]},
                "h": {"kernel": params["recurrent_kernel"]},
            }
        }
    if isinstance(layer, RNN):
        return {k: {"cell": v} for k, v in _to_linen(layer.cell, params, None).items()}
    if isinstance(layer, BatchNorm):
        return {"params": dict(params), "batch_stats": dict(state or {})}
    if isinstance(layer, FromLinen):
        return {"params": params, **(state or {})}
    if isinstance(layer, Sequential):
        out: dict[str, dict] = {}
        states = state if state is not None else [None] * len(layer.layers)
        for i, (child, p, s) in enumerate(zip(layer.layers, params, states)):
            for col, value in _to_linen(child, p, s).items():
                if value:
                    out.setdefault(col, {})[f"layers_{i}"] = value
        return out
    if isinstance(params, Mapping) and all(
        isinstance(v, (jax.Array, jax.ShapeDtypeStruct)) for v in params.values()
    ):
        return {"params": dict(params)}  # same names in Linen (Dense, Conv, LayerNorm, ...)
    raise TypeError(
        f"to_linen_params: no Linen mapping for {layer!r}; map its params by hand "
        f"(params structure: {jax.tree.structure(params)})."
    )
