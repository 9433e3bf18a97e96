"""Pooling: max and average over sliding windows, and global pooling over all spatial axes."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.layers import _spatial as sp
from jnn.layers._base import Layer


@dataclasses.dataclass(frozen=True, repr=False)
class _Pool(Layer):
    """Window, strides and padding shared by MaxPool and AvgPool; no params, no state."""

    window: int | tuple[int, ...]
    strides: int | tuple[int, ...] | None = None
    padding: Any = "VALID"

    def __post_init__(self):
        where = type(self).__name__
        example = f"{where}(2) or {where}((2, 2), strides=2)"
        object.__setattr__(self, "window", sp.sizes(where, "window", self.window, example=example))
        if self.strides is not None:
            strides = sp.sizes(where, "strides", self.strides, example=example)
            object.__setattr__(self, "strides", strides)
        object.__setattr__(self, "padding", sp.padding(where, self.padding))
        self._fixed_rank()

    def _fixed_rank(self) -> int | None:
        return sp.fixed_rank(
            type(self).__name__, window=self.window,
            strides=self.strides if self.strides is not None else 0, padding=self.padding,
        )

    def _geometry(self, where: str, x: Any):
        """Check x against the window; return lax.reduce_window's per-axis arguments."""
        rank = self._fixed_rank()
        if rank is None:
            if x.ndim < 3:
                raise ValueError(
                    f"{where}: x must be (batch, *spatial, channels) with at least one spatial "
                    f"axis; got shape {tuple(x.shape)}. Add a channel axis (x[..., None]) to "
                    f"a batch of single-channel signals or images."
                )
            rank = x.ndim - 2
        else:
            sp.input_rank(where, x, rank, example_rank_from=f"window={self.window}")
        window = sp.per_axis(self.window, rank)
        strides = window if self.strides is None else sp.per_axis(self.strides, rank)
        pads = sp.pad_pairs(self.padding, x.shape[1:-1], window, strides)
        sp.check_fits(where, x.shape[1:-1], window, pads, strides, "pooling window")
        return (1, *window, 1), (1, *strides, 1), ((0, 0), *pads, (0, 0))

    def init(self, key, x):
        del key
        self._check(f"{type(self).__name__}.init", x)
        return {}, {}

    def _check(self, where: str, x: Any):
        _checks.floating_input(where, "x", x)
        return self._geometry(where, x)


@dataclasses.dataclass(frozen=True, repr=False)
class MaxPool(_Pool):
    r"""Max pooling: the largest entry of each window, channel by channel.

    .. math::
        y_{n,i,j,c} = \max_{0 \le a < k_h,\; 0 \le b < k_w}
            \tilde x_{n,\; s_h i + a,\; s_w j + b,\; c}

    Padded positions count as :math:`-\infty`, so they never win. Output sizes follow
    :func:`jnn.layers.conv_output_size`.

    Args:
        window: an int (every spatial axis; their number is then ``x.ndim - 2``) or a
            tuple with one entry per spatial axis.
        strides: the step between windows; ``None`` (default) means ``window``
            (non-overlapping). ``MaxPool(3, strides=2)`` overlaps, as in AlexNet.
        padding: ``"VALID"`` (default), ``"SAME"``, an int, or per-axis ints/pairs.

    Input ``x``: ``(batch, *spatial, channels)``; returns ``(batch, *out_spatial, channels)``.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> MaxPool(2).apply({}, {}, x)[0][0, :, :, 0]
        Array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        dims, strides, pads = self._check("MaxPool.apply", x)
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, strides, pads), state


@dataclasses.dataclass(frozen=True, repr=False)
class AvgPool(_Pool):
    r"""Average pooling: the mean of each window, channel by channel.

    .. math::
        y_{n,i,j,c} = \frac{1}{|W_{ij}|} \sum_{(a,b) \in W_{ij}}
            \tilde x_{n,\; s_h i + a,\; s_w j + b,\; c}

    Args:
        window, strides, padding: as in :class:`MaxPool`.
        count_include_pad: with padding, divide by the full window size (padded zeros
            count, the default of PyTorch and Flax) or, if ``False``, by the number of
            real entries in the window (Keras' ``"same"`` behaviour).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> AvgPool(2).apply({}, {}, x)[0][0, :, :, 0]
        Array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
    """

    count_include_pad: bool = True

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        dims, strides, pads = self._check("AvgPool.apply", x)
        total = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, strides, pads)
        if self.count_include_pad:
            return total / int(np.prod(dims)), state
        ones = jnp.ones((1, *x.shape[1:-1], 1), x.dtype)
        counts = jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, pads)
        return total / counts, state


@dataclasses.dataclass(frozen=True, repr=False)
class _GlobalPool(Layer):
    keepdims: bool = False

    def _check(self, where: str, x: Any) -> tuple[int, ...]:
        if x.ndim < 3:
            raise ValueError(
                f"{where}: x must be (batch, *spatial, channels) with at least one spatial "
                f"axis; got shape {tuple(x.shape)}. If it is already pooled or flattened, "
                f"drop this layer."
            )
        _checks.floating_input(where, "x", x)
        return tuple(range(1, x.ndim - 1))

    def init(self, key, x):
        del key
        self._check(f"{type(self).__name__}.init", x)
        return {}, {}


@dataclasses.dataclass(frozen=True, repr=False)
class GlobalAvgPool(_GlobalPool):
    r"""The mean over every spatial axis: ``(batch, *spatial, C) -> (batch, C)``.

    .. math:: y_{n,c} = \frac{1}{HW} \sum_{i,j} x_{n,i,j,c}

    Args:
        keepdims: keep the spatial axes with size 1, ``(batch, 1, 1, C)``.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalAvgPool().apply({}, {}, jnp.ones((2, 5, 5, 3)))[0].shape
        (2, 3)
    """

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        axes = self._check("GlobalAvgPool.apply", x)
        return jnp.mean(x, axis=axes, keepdims=self.keepdims), state


@dataclasses.dataclass(frozen=True, repr=False)
class GlobalMaxPool(_GlobalPool):
    r"""The maximum over every spatial axis: ``(batch, *spatial, C) -> (batch, C)``.

    .. math:: y_{n,c} = \max_{i,j} x_{n,i,j,c}

    Args:
        keepdims: keep the spatial axes with size 1, ``(batch, 1, 1, C)``.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalMaxPool().apply({}, {}, jnp.ones((2, 4, 3)))[0].shape
        (2, 3)
    """

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        axes = self._check("GlobalMaxPool.apply", x)
        return jnp.max(x, axis=axes, keepdims=self.keepdims), state
