"""What every zoo model shares: it is a layer that builds its network from hyperparameters."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jnn import _checks, activations
from jnn.layers import Dropout, Layer


class Model(Layer):
    """A layer defined by the network :meth:`build` returns (built once, then cached).

    Params and state are those of the built network (for a ``Sequential``, lists with
    one entry per layer), so a model is used exactly like any other layer.
    """

    def build(self) -> Layer:
        raise NotImplementedError(f"{type(self).__name__} does not implement build")

    @functools.cached_property
    def network(self) -> Layer:
        """The built network (a plain jnn layer, usually a ``Sequential``)."""
        return self.build()

    def init(self, key, x):
        return self.network.init(key, x)

    def accepts_keyword(self, name: str) -> bool:
        return self.network.accepts_keyword(name)

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        return self.network.apply(params, state, x, key=key, train=train, **kwargs)


def activation(where: str, value: Any) -> Callable:
    """An activation by name (``jnn.activations.get``) or a callable as it is."""
    try:
        return activations.get(value)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}") from None


def positive_sizes(where: str, name: str, value: Any, example: str) -> tuple[int, ...]:
    """A non-empty tuple of positive ints (a list is accepted)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) == 0:
        raise TypeError(
            f"{where}: {name} must be a non-empty sequence of positive ints; got {value!r}. "
            f"Example: {example}."
        )
    return tuple(_checks.positive_int(where, f"{name}[{i}]", v, fix=f"Example: {example}.")
                 for i, v in enumerate(value))


def dropout_rate(where: str, rate: Any) -> None:
    _checks.number_in_range(
        where, "dropout_rate", rate, 0.0, 1.0, high_inclusive=False,
        fix="It is the probability of dropping a unit; 0 switches dropout off.",
    )


def maybe_dropout(rate: float) -> list[Layer]:
    return [Dropout(rate)] if rate > 0 else []
