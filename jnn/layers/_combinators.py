"""Combinators: Sequential composition and parallel branches."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jnn.layers._base import (
    Lambda,
    Layer,
    _as_struct,
    as_layer,
    check_keywords,
    keywords_for,
)


def _children(layers: Any, where: str) -> tuple[Layer, ...]:
    if isinstance(layers, (Layer, str)) or not isinstance(layers, Sequence):
        raise TypeError(
            f"{where}: layers must be a list of layers or callables, e.g. "
            f"{where}([Dense(64), jax.nn.relu, Dense(10)]); got {layers!r}."
        )
    if len(layers) == 0:
        raise ValueError(f"{where}: layers is empty; give at least one layer.")
    return tuple(as_layer(layer, where=where) for layer in layers)


def _check_per_child(where: str, what: str, tree: Any, layers: tuple[Layer, ...]) -> None:
    """A Sequential/Parallel's params and state are lists with one entry per child."""
    if isinstance(tree, (list, tuple)) and len(tree) == len(layers):
        return
    got = f"{len(tree)} entries" if isinstance(tree, (list, tuple)) else type(tree).__name__
    raise ValueError(
        f"{where}: {what} must be a list with one entry per layer ({len(layers)} layers); "
        f"got {got}.\n  {what}: {jax.tree.structure(tree)}\n  layers: {list(layers)}\n"
        f"Pass the {what} returned by this model's init."
    )


def _child_repr(layer: Layer) -> str:
    """Plain callables are shown as the user wrote them: ``relu``, not ``Lambda(relu)``."""
    if isinstance(layer, Lambda):
        return getattr(layer.fn, "__name__", repr(layer))
    return repr(layer)


def _split(key: jax.Array | None, n: int) -> list:
    return [None] * n if key is None else list(jax.random.split(key, n))


@dataclasses.dataclass(frozen=True, repr=False)
class Sequential(Layer):
    """Layers applied one after another; params and state are lists, one entry per layer.

    Plain callables (activation functions such as ``jax.nn.relu``) are parameter-free
    layers. The key is split once per child, in ``init`` and in ``apply``. Extra keyword
    arguments of ``apply`` go to the children whose ``apply`` names them, e.g.
    ``lengths=`` (padded sequences) to the RNNs in
    ``Sequential([Embedding(...), RNN(...), Dense(...)])``; one that no child takes is a
    ``TypeError``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense, Sequential
        >>> model = Sequential([Dense(16), jax.nn.relu, Dense(1)])
        >>> params, state = model.init(jax.random.key(0), jnp.ones((4, 2)))
        >>> y, state = model.apply(params, state, jnp.ones((4, 2)))
        >>> y.shape
        (4, 1)
    """

    layers: tuple[Layer, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", _children(self.layers, "Sequential"))

    def __repr__(self) -> str:
        return f"Sequential([{', '.join(map(_child_repr, self.layers))}])"

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(self.layers[index])
        return self.layers[index]

    def init(self, key, x):
        params, state = [], []
        h = x
        for layer, k in zip(self.layers, _split(key, len(self.layers))):
            p, s = layer.init(k, h)
            params.append(p)
            state.append(s)
            # Later layers see the shape only (no real compute at init).
            h = jax.eval_shape(lambda p_, s_, h_, f=layer: f.apply(p_, s_, h_)[0],
                               p, s, _as_struct(h))
        return params, state

    def accepts_keyword(self, name: str) -> bool:
        return any(layer.accepts_keyword(name) for layer in self.layers)

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        _check_per_child("Sequential.apply", "params", params, self.layers)
        _check_per_child("Sequential.apply", "state", state, self.layers)
        check_keywords("Sequential.apply", kwargs, self.layers)
        new_state = []
        for layer, p, s, k in zip(self.layers, params, state, _split(key, len(self.layers))):
            x, s = layer.apply(p, s, x, key=k, train=train, **keywords_for(layer, kwargs))
            new_state.append(s)
        return x, new_state


@dataclasses.dataclass(frozen=True, repr=False)
class Parallel(Layer):
    """Branches that each see the same input; the output is a tuple, one entry per branch.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense, Parallel
        >>> model = Parallel([Dense(2), Dense(3)])
        >>> params, state = model.init(jax.random.key(0), jnp.ones((4, 5)))
        >>> [y.shape for y in model.apply(params, state, jnp.ones((4, 5)))[0]]
        [(4, 2), (4, 3)]
    """

    layers: tuple[Layer, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", _children(self.layers, type(self).__name__))

    def __repr__(self) -> str:
        return f"{type(self).__name__}([{', '.join(map(_child_repr, self.layers))}])"

    def init(self, key, x):
        pairs = [layer.init(k, x) for layer, k in zip(self.layers, _split(key, len(self.layers)))]
        return [p for p, _ in pairs], [s for _, s in pairs]

    def accepts_keyword(self, name: str) -> bool:
        return any(layer.accepts_keyword(name) for layer in self.layers)

    def _branches(self, params, state, x, key, train, kwargs):
        where = f"{type(self).__name__}.apply"
        _check_per_child(where, "params", params, self.layers)
        _check_per_child(where, "state", state, self.layers)
        check_keywords(where, kwargs, self.layers)
        outs, new_state = [], []
        for layer, p, s, k in zip(self.layers, params, state, _split(key, len(self.layers))):
            y, s = layer.apply(p, s, x, key=k, train=train, **keywords_for(layer, kwargs))
            outs.append(y)
            new_state.append(s)
        return outs, new_state

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        outs, new_state = self._branches(params, state, x, key, train, kwargs)
        return tuple(outs), new_state


@dataclasses.dataclass(frozen=True, repr=False)
class Concat(Parallel):
    """Parallel branches whose outputs are concatenated along ``axis`` (Inception-style).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Concat, Dense, Identity
        >>> model = Concat([Dense(2), Identity()])
        >>> params, state = model.init(jax.random.key(0), jnp.ones((4, 5)))
        >>> model.apply(params, state, jnp.ones((4, 5)))[0].shape
        (4, 7)
    """

    axis: int = -1

    def __repr__(self) -> str:
        extra = "" if self.axis == -1 else f", axis={self.axis}"
        return f"Concat([{', '.join(map(_child_repr, self.layers))}]{extra})"

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        outs, new_state = self._branches(params, state, x, key, train, kwargs)
        shapes = [tuple(o.shape) for o in outs]
        ranks = {len(s) for s in shapes}
        axis = self.axis
        if len(ranks) != 1 or not -len(shapes[0]) <= axis < len(shapes[0]):
            raise ValueError(
                f"Concat.apply: branch outputs must have one rank that includes axis={axis}; "
                f"got shapes {shapes}."
            )
        rest = {s[:axis % len(s)] + s[axis % len(s) + 1:] for s in shapes}
        if len(rest) != 1:
            raise ValueError(
                f"Concat.apply: branch outputs must agree on every axis but axis={axis}; "
                f"got shapes {shapes}. Make the branches produce matching shapes."
            )
        return jnp.concatenate(outs, axis=axis), new_state
