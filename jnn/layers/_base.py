"""The layer contract: immutable hyperparameter objects with pure ``init`` and ``apply``.

.. code-block:: python

    params, state = layer.init(key, x)   # x: an example input (array or ShapeDtypeStruct)
    y, state = layer.apply(params, state, x, *, key=None, train=False)

``params`` is a pytree of arrays that gradients flow through; ``state`` is a pytree of
non-trained arrays (BatchNorm statistics), ``{}`` when a layer has none. A layer holds
only hyperparameters, is hashable (so it can be a static argument of ``jax.jit``), and
never mutates anything.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

Params = Any
State = Any
Array = jax.Array

MISSING_KEY_MSG = (
    "{where}: this layer is random in training and needs a key. "
    "Call apply(params, state, x, key=jax.random.key(0), train=True), "
    "or pass train=False for evaluation."
)


def _short(value: Any) -> str:
    """A compact repr for hyperparameters: functions by name, layers by their own repr."""
    if isinstance(value, Layer):
        return repr(value)
    if callable(value):
        name = getattr(value, "__name__", None) or getattr(value, "__qualname__", None)
        if name is not None:
            return name
        return type(value).__name__
    return repr(value)


class Layer:
    """Base class of every jnn layer.

    Subclasses are frozen dataclasses of hyperparameters and implement ``init`` and
    ``apply``. Because they are frozen and hold no arrays, layers are hashable and can
    be closed over or passed as static arguments to ``jax.jit`` at no cost.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense
        >>> layer = Dense(3)
        >>> params, state = layer.init(jax.random.key(0), jnp.ones((2, 4)))
        >>> y, state = layer.apply(params, state, jnp.ones((2, 4)))
        >>> y.shape
        (2, 3)
    """

    def init(self, key: Array, x: Any) -> tuple[Params, State]:
        """Create ``(params, state)`` for an example input ``x`` (array or ShapeDtypeStruct)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement init")

    def apply(
        self, params: Params, state: State, x: Any, *, key: Array | None = None, train: bool = False
    ) -> tuple[Any, State]:
        """Run the layer: ``(y, new_state)``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement apply")

    def accepts_keyword(self, name: str) -> bool:
        """Whether ``apply`` takes the extra keyword argument ``name`` (such as ``lengths``).

        Containers (``Sequential``, wrappers) pass an extra keyword on to the children
        that accept it; a layer accepts the keywords its ``apply`` names explicitly.
        """
        return name in _keyword_names(type(self).apply)

    def output_shape(self, x: Any) -> Any:
        """The output's shape and dtype (``jax.ShapeDtypeStruct``) for an input like ``x``."""
        params, state = jax.eval_shape(self.init, jax.random.key(0), _as_struct(x))
        return jax.eval_shape(
            lambda p, s, x_: self.apply(p, s, x_)[0], params, state, _as_struct(x)
        )

    def __repr__(self) -> str:
        if not dataclasses.is_dataclass(self):
            return type(self).__name__
        parts = []
        for f in dataclasses.fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING:
                if not _equal(value, f.default):
                    parts.append(f"{f.name}={_short(value)}")
            elif f.default_factory is not dataclasses.MISSING:
                if not _equal(value, f.default_factory()):
                    parts.append(f"{f.name}={_short(value)}")
            else:  # required hyperparameters are shown positionally
                parts.append(_short(value))
        return f"{type(self).__name__}({', '.join(parts)})"


@functools.cache
def _keyword_names(apply: Callable) -> frozenset[str]:
    """The keyword-only parameters ``apply`` names, besides ``key`` and ``train``."""
    return frozenset(
        name for name, p in inspect.signature(apply).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("key", "train")
    )


def keywords_for(layer: Layer, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The extra keyword arguments (besides ``key``/``train``) that ``layer`` accepts."""
    return {name: value for name, value in kwargs.items() if layer.accepts_keyword(name)}


def check_keywords(where: str, kwargs: Mapping[str, Any], layers: Any) -> None:
    """Refuse an extra keyword argument that no layer in ``layers`` takes.

    Containers forward an extra keyword (``lengths=`` for padded sequences) to exactly
    the children whose ``apply`` names it; one that no child takes is a mistake (a typo,
    or the wrong model), never silently dropped.
    """
    for name in kwargs:
        if not any(layer.accepts_keyword(name) for layer in layers):
            raise TypeError(
                f"{where}: no layer here takes the keyword argument {name}=; an extra "
                f"keyword is passed only to the layers whose apply names it (RNN and "
                f"Bidirectional take lengths=). Layers: {list(layers)}."
            )


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays or objects without a boolean equality
        return a is b


def _as_struct(x: Any) -> Any:
    """Map arrays (and pytrees of them) to ShapeDtypeStructs; leave structs as they are."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), _dtype(a)), x)


def _dtype(a: Any) -> Any:
    return a.dtype if hasattr(a, "dtype") else np.result_type(a)


def as_layer(obj: Any, *, where: str) -> Layer:
    """A Layer as is; a plain callable (an activation function) as a parameter-free Lambda."""
    if isinstance(obj, Layer):
        return obj
    if isinstance(obj, type) and issubclass(obj, Layer):
        raise TypeError(
            f"{where}: got the class {obj.__name__}, not a layer; instantiate it, "
            f"e.g. {obj.__name__}(...)."
        )
    if callable(obj):
        return Lambda(obj)
    raise TypeError(
        f"{where}: expected a jnn Layer or a callable such as jax.nn.relu; got {obj!r} "
        f"(type {type(obj).__name__})."
    )


def check_param_keys(where: str, params: Any, expected: set[str], what: str = "params") -> None:
    """Refuse a params dict whose keys differ from the layer's, printing both."""
    if not isinstance(params, Mapping) or set(params) != expected:
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(
            f"{where}: {what} must be a dict with keys {sorted(expected)}; got {got}. "
            f"Pass the {what} returned by this layer's init (inside a Sequential, "
            f"{what}[i] belongs to layer i)."
        )


@dataclasses.dataclass(frozen=True, repr=False)
class Lambda(Layer):
    """A parameter-free layer computing ``fn(x)``; plain callables in Sequential become this."""

    fn: Callable[[Any], Any]

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"Lambda: fn must be callable; got {self.fn!r}.")

    def init(self, key, x):
        del key, x
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        return self.fn(x), state


@dataclasses.dataclass(frozen=True, repr=False)
class Identity(Layer):
    """Returns its input unchanged."""

    def init(self, key, x):
        del key, x
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        return x, state
