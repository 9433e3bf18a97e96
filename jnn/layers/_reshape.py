"""Reshaping layers."""

from __future__ import annotations

import dataclasses

from jnn import _checks
from jnn.layers._base import Layer


@dataclasses.dataclass(frozen=True, repr=False)
class Flatten(Layer):
    """Flattens every axis but the batch axis: ``(batch, d1, d2, ...) -> (batch, d1*d2*...)``."""

    def init(self, key, x):
        del key
        _checks.rank_at_least("Flatten.init", "x", x, 1, "(batch, ...)")
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        _checks.rank_at_least("Flatten.apply", "x", x, 1, "(batch, ...)")
        return x.reshape(x.shape[0], -1), state
