"""Residual connections: ``y = F(x) + shortcut(x)``."""

from __future__ import annotations

import dataclasses

import jax

from jnn.layers._base import (
    Identity,
    Layer,
    _as_struct,
    as_layer,
    check_keywords,
    check_param_keys,
    keywords_for,
)
from jnn.layers._conv import Conv
from jnn.layers._dense import Dense


def _stride(i: int, o: int) -> int | None:
    """The stride s with ceil(i / s) == o (what a 1x1 conv gives), or None if there is none."""
    s = -(-i // o)
    return s if -(-i // s) == o else None


def projection(where: str, x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> Layer:
    """The linear map ``W_s`` that takes x's shape to the block's output shape.

    ``(batch, features)``: a Dense layer without bias. Images and sequences: a 1x1
    convolution without bias, strided where the block downsamples.
    """
    fail = (
        f"{where}: the block maps shape {x_shape} to {y_shape}, and no automatic projection "
        f"shortcut (1x1 convolution with a stride, or Dense) takes one to the other. Pass "
        f"shortcut=... explicitly, or make the block keep the batch axis and the rank."
    )
    if len(x_shape) != len(y_shape) or x_shape[0] != y_shape[0] or len(x_shape) < 2:
        raise ValueError(fail)
    if len(x_shape) == 2:
        return Dense(y_shape[-1], use_bias=False)
    strides = tuple(_stride(i, o) for i, o in zip(x_shape[1:-1], y_shape[1:-1]))
    if None in strides:
        raise ValueError(fail)
    rank = len(strides)
    strides = strides[0] if len(set(strides)) == 1 else strides
    return Conv(y_shape[-1], (1,) * rank, strides=strides, padding="VALID", use_bias=False)


@dataclasses.dataclass(frozen=True, repr=False)
class Residual(Layer):
    r"""A residual block: the block learns the residual :math:`F(x) = H(x) - x`.

    .. math::
        y = F(x) + x \quad \text{(same shapes)}, \qquad
        y = F(x) + W_s x \quad \text{(shapes differ: projection shortcut)}

    When the block keeps the input's shape the shortcut is the identity. When it changes
    the number of channels or downsamples, ``shortcut=None`` inserts the projection
    :math:`W_s` of He et al. (option B): a 1x1 convolution without bias whose stride
    is inferred from the shapes (``Dense`` without bias for ``(batch, features)``
    inputs). Pass your own ``shortcut`` layer for anything else, e.g. a 1x1 convolution
    followed by ``BatchNorm`` as in ResNet. No activation is applied after the sum; put
    one after the block in a ``Sequential`` (``[Residual(...), jax.nn.relu]``).

    Params are ``{"block": ..., "shortcut": ...}`` (``{}`` for the identity), and state
    likewise. The key is split between block and shortcut.

    Args:
        block: the residual branch :math:`F`, any layer (a ``Sequential``).
        shortcut: the skip branch; ``None`` for identity-or-projection.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Conv, Sequential
        >>> block = Sequential([Conv(16, (3, 3), strides=2), jax.nn.relu, Conv(16, (3, 3))])
        >>> layer = Residual(block)            # 8 -> 16 channels, 32 -> 16 pixels
        >>> x = jnp.ones((2, 32, 32, 8))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> params["shortcut"]["kernel"].shape  # the inferred 1x1, stride-2 projection
        (1, 1, 8, 16)
        >>> layer.apply(params, state, x)[0].shape
        (2, 16, 16, 16)

    References:
        He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", 2015.
        https://arxiv.org/abs/1512.03385
    """

    block: Layer
    shortcut: Layer | None = None

    def __post_init__(self):
        object.__setattr__(self, "block", as_layer(self.block, where="Residual"))
        if self.shortcut is not None:
            object.__setattr__(self, "shortcut", as_layer(self.shortcut, where="Residual"))

    def _shortcut_for(self, where: str, x_shape: tuple, y_shape: tuple) -> Layer:
        if self.shortcut is not None:
            return self.shortcut
        if x_shape == y_shape:
            return Identity()
        return projection(where, x_shape, y_shape)

    def init(self, key, x):
        where = "Residual.init"
        k_block, k_short = jax.random.split(key)
        block_params, block_state = self.block.init(k_block, x)
        y = jax.eval_shape(
            lambda p, s, x_: self.block.apply(p, s, x_)[0], block_params, block_state,
            _as_struct(x),
        )
        shortcut = self._shortcut_for(where, tuple(x.shape), tuple(y.shape))
        short_params, short_state = shortcut.init(k_short, x)
        s = jax.eval_shape(
            lambda p, s_, x_: shortcut.apply(p, s_, x_)[0], short_params, short_state,
            _as_struct(x),
        )
        self._check_sum(where, y.shape, s.shape)
        return (
            {"block": block_params, "shortcut": short_params},
            {"block": block_state, "shortcut": short_state},
        )

    def _check_sum(self, where: str, y_shape: tuple, s_shape: tuple) -> None:
        if tuple(y_shape) != tuple(s_shape):
            raise ValueError(
                f"{where}: the block gives shape {tuple(y_shape)} but the shortcut "
                f"{self.shortcut!r} gives {tuple(s_shape)}; they are added, so they must "
                f"match. Fix the shortcut's channels/stride, or pass shortcut=None for an "
                f"automatic projection."
            )

    def accepts_keyword(self, name: str) -> bool:
        # The automatic shortcut (identity or projection) takes no extra keywords.
        return self.block.accepts_keyword(name) or (
            self.shortcut is not None and self.shortcut.accepts_keyword(name)
        )

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        where = "Residual.apply"
        check_param_keys(where, params, {"block", "shortcut"})
        check_param_keys(where, state, {"block", "shortcut"}, what="state")
        check_keywords(where, kwargs, [self.block, self.shortcut or self.block])
        k_block, k_short = (None, None) if key is None else jax.random.split(key)
        y, block_state = self.block.apply(
            params["block"], state["block"], x, key=k_block, train=train,
            **keywords_for(self.block, kwargs),
        )
        shortcut = self._shortcut_for(where, tuple(x.shape), tuple(y.shape))
        s, short_state = shortcut.apply(
            params["shortcut"], state["shortcut"], x, key=k_short, train=train,
            **keywords_for(shortcut, kwargs),
        )
        self._check_sum(where, y.shape, s.shape)
        return y + s, {"block": block_state, "shortcut": short_state}

