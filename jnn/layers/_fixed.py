"""Layers that are not trained: fixed filters (Sobel, Prewitt) and frozen copies of any layer."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.layers import _spatial as sp
from jnn.layers._base import Layer, as_layer, check_keywords, check_param_keys
from jnn.layers._conv import Conv

# Each operator is (smoothing across the edge) outer (central difference along it).
_SMOOTHING = {"sobel": np.array([1.0, 2.0, 1.0]), "prewitt": np.array([1.0, 1.0, 1.0])}
_DIFFERENCE = np.array([-1.0, 0.0, 1.0])


def _edge_kernel(name: str, direction: str, dtype: Any) -> jax.Array:
    if direction not in ("x", "y"):
        raise ValueError(
            f"{name}_kernel: direction must be 'x' (horizontal gradient, finds vertical "
            f"edges) or 'y' (vertical gradient, finds horizontal edges); got {direction!r}."
        )
    kernel = np.outer(_SMOOTHING[name], _DIFFERENCE)
    return jnp.asarray(kernel if direction == "x" else kernel.T, dtype=dtype)


def sobel_kernel(direction: str = "x", dtype: Any = jnp.float32) -> jax.Array:
    r"""The 3x3 Sobel operator: a smoothed central difference.

    .. math::
        S_x = \begin{pmatrix} 1 \\ 2 \\ 1 \end{pmatrix}
              \begin{pmatrix} -1 & 0 & 1 \end{pmatrix}
            = \begin{pmatrix} -1 & 0 & 1 \\ -2 & 0 & 2 \\ -1 & 0 & 1 \end{pmatrix},
        \qquad S_y = S_x^\top

    Cross-correlating an image with :math:`S_x` gives the horizontal gradient
    :math:`G_x` (large at *vertical* edges), with :math:`S_y` the vertical gradient
    :math:`G_y`; the edge strength is :math:`G = \sqrt{G_x^2 + G_y^2}`.

    Args:
        direction: ``"x"`` or ``"y"``.
        dtype: the array's dtype.

    Returns:
        A ``(3, 3)`` array (rows, columns). Use it with :class:`FixedConv`.

    Example:
        >>> sobel_kernel("x")
        Array([[-1.,  0.,  1.],
               [-2.,  0.,  2.],
               [-1.,  0.,  1.]], dtype=float32)

    References:
        Sobel, Feldman, "A 3x3 Isotropic Gradient Operator for Image Processing", 1968.
    """
    return _edge_kernel("sobel", direction, dtype)


def prewitt_kernel(direction: str = "x", dtype: Any = jnp.float32) -> jax.Array:
    r"""The 3x3 Prewitt operator: an unweighted-average central difference.

    .. math::
        P_x = \begin{pmatrix} 1 \\ 1 \\ 1 \end{pmatrix}
              \begin{pmatrix} -1 & 0 & 1 \end{pmatrix}, \qquad P_y = P_x^\top

    Example:
        >>> prewitt_kernel("y")
        Array([[-1., -1., -1.],
               [ 0.,  0.,  0.],
               [ 1.,  1.,  1.]], dtype=float32)

    References:
        Prewitt, "Object Enhancement and Extraction", in Picture Processing and
        Psychopictorics, 1970.
    """
    return _edge_kernel("prewitt", direction, dtype)


def _nested_tuple(value: Any) -> Any:
    return tuple(_nested_tuple(v) for v in value) if isinstance(value, list) else value


@dataclasses.dataclass(frozen=True, repr=False)
class FixedConv(Layer):
    r"""A convolution with a given, fixed kernel: no params, nothing to train.

    It computes exactly what :class:`Conv` computes with ``params = {"kernel": kernel}``
    and no bias. The kernel is a hyperparameter (stored as nested tuples, so the layer
    stays hashable and can be a static argument of ``jax.jit``); use it for classic
    image filters and small hand-designed kernels.

    Args:
        kernel: ``(*kernel_size, in_channels, out_channels)``, or with
            ``per_channel=True`` just ``kernel_size`` (e.g. ``(3, 3)``), applied to every
            input channel separately (a depthwise convolution; the output has as many
            channels as the input).
        strides, padding, dilation: as in :class:`Conv`. ``padding`` defaults to
            ``"SAME"``.
        per_channel: see ``kernel``.

    Example:
        The Sobel gradients of a greyscale image, as two output channels:

        >>> import jax.numpy as jnp
        >>> both = jnp.stack([sobel_kernel("x"), sobel_kernel("y")], axis=-1)[:, :, None, :]
        >>> edges = FixedConv(both, padding="VALID")
        >>> image = jnp.zeros((1, 5, 6, 1)).at[:, :, 3:].set(10.0)   # a vertical edge
        >>> g, _ = edges.apply({}, {}, image)
        >>> g[0, 0, :, 0]          # G_x: strong next to the edge
        Array([ 0., 40., 40.,  0.], dtype=float32)
        >>> float(jnp.abs(g[..., 1]).max())   # G_y: no horizontal edges
        0.0
    """

    kernel: Any = dataclasses.field(repr=False)
    strides: Any = 1
    padding: Any = "SAME"
    dilation: Any = 1
    per_channel: bool = False

    def __post_init__(self):
        array = np.asarray(self.kernel)
        real = np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
        if not real:
            raise TypeError(
                f"FixedConv: kernel must be a real numeric array; got dtype {array.dtype}."
            )
        min_ndim = 1 if self.per_channel else 3
        if array.ndim < min_ndim or array.size == 0:
            what = (
                "kernel_size, e.g. (3, 3)" if self.per_channel
                else "(*kernel_size, in_channels, out_channels), e.g. (3, 3, 1, 2)"
            )
            raise ValueError(
                f"FixedConv: kernel must have shape {what}; got shape {array.shape}. "
                + ("" if self.per_channel else
                   "For one 2-D filter on every channel pass per_channel=True, or add the "
                   "channel axes: kernel[:, :, None, None].")
            )
        if not np.all(np.isfinite(array)):
            raise ValueError("FixedConv: kernel has non-finite entries; give finite numbers.")
        object.__setattr__(self, "kernel", _nested_tuple(array.astype(np.float64).tolist()))
        example = "FixedConv(kernel, strides=2)"
        for name in ("strides", "dilation"):
            value = sp.sizes("FixedConv", name, getattr(self, name), example=example)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "padding", sp.padding("FixedConv", self.padding))
        self._conv(array.shape, channels=None)  # the same checks Conv makes

    def __repr__(self) -> str:
        shape = "x".join(map(str, np.shape(self.kernel)))
        extras = [f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                  if f.name != "kernel" and getattr(self, f.name) != f.default]
        return f"FixedConv(kernel=<{shape}>{''.join(', ' + e for e in extras)})"

    def _conv(self, shape: tuple[int, ...], channels: int | None) -> Conv:
        if self.per_channel:
            groups = channels or 1
            return Conv(groups, shape, self.strides, self.padding, self.dilation,
                        use_bias=False, feature_group_count=groups)
        return Conv(shape[-1], shape[:-2], self.strides, self.padding, self.dilation,
                    use_bias=False)

    def _kernel(self, where: str, x: Any) -> tuple[Conv, jax.Array]:
        _checks.floating_input(where, "x", x)
        _checks.rank_at_least(where, "x", x, 3, "(batch, *spatial, channels)")
        array = np.asarray(self.kernel)
        if not self.per_channel and x.shape[-1] != array.shape[-2]:
            raise ValueError(
                f"{where}: x has {x.shape[-1]} channels (shape {tuple(x.shape)}) but the "
                f"kernel {array.shape} expects {array.shape[-2]}. Pass per_channel=True with "
                f"a kernel of shape {array.shape[:-2]} to filter every channel separately, "
                f"or give x {array.shape[-2]} channel(s), e.g. x.mean(-1, keepdims=True)."
            )
        conv = self._conv(array.shape, x.shape[-1])
        kernel = jnp.asarray(array, x.dtype)
        if self.per_channel:  # the same filter for each of the C groups of one channel
            kernel = jnp.broadcast_to(kernel[..., None, None], array.shape + (1, x.shape[-1]))
        return conv, kernel

    def init(self, key, x):
        del key
        conv, kernel = self._kernel("FixedConv.init", x)
        jax.eval_shape(lambda x_: conv.apply({"kernel": kernel}, {}, x_), x)  # checks x
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        check_param_keys("FixedConv.apply", params, set())
        conv, kernel = self._kernel("FixedConv.apply", x)
        return conv.apply({"kernel": kernel}, {}, x)[0], state


@dataclasses.dataclass(frozen=True, repr=False)
class Frozen(Layer):
    r"""Any layer with its params frozen: no gradient, no optimizer update, no weight decay.

    The wrapped layer's params live in the *state* of this layer, not in its params
    (which are ``{}``):

    .. code-block:: python

        params = {}
        state  = {"params": inner_params, "state": inner_state}

    Optimizers only ever see ``params``, so a frozen layer gets no update (and no weight
    decay) from any optimizer, without masks; gradients are not even computed for it.
    As a second guard the inner params pass through ``jax.lax.stop_gradient``, so
    differentiating with respect to the state gives zero as well.

    Args:
        layer: the layer to freeze (a plain callable is allowed but has nothing to
            freeze).
        eval_mode: run the wrapped layer with ``train=False`` always (the default), so
            its statistics (BatchNorm running averages) are frozen too and its dropout
            is off, as Keras does for frozen layers. With ``False``, ``train`` passes
            through: BatchNorm keeps updating its running averages in the returned state.

    To freeze params that were trained before (fine-tuning a pretrained block), use
    :meth:`from_params`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense, Sequential
        >>> model = Sequential([Frozen(Dense(3)), Dense(1)])
        >>> params, state = model.init(jax.random.key(0), jnp.ones((2, 4)))
        >>> params[0], sorted(state[0])
        ({}, ['params', 'state'])
    """

    layer: Layer
    eval_mode: bool = True

    def __post_init__(self):
        object.__setattr__(self, "layer", as_layer(self.layer, where="Frozen"))

    def init(self, key, x):
        params, state = self.layer.init(key, x)
        return {}, {"params": params, "state": state}

    def from_params(self, params: Any, state: Any) -> tuple[dict, dict]:
        """``(params, state)`` for this frozen layer, holding the given trained params.

        Args:
            params: the wrapped layer's params (e.g. from a model trained earlier).
            state: the wrapped layer's state (``{}`` for most layers).
        """
        return {}, {"params": params, "state": state}

    def accepts_keyword(self, name: str) -> bool:
        return self.layer.accepts_keyword(name)

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        where = "Frozen.apply"
        check_param_keys(where, params, set())
        check_param_keys(where, state, {"params", "state"}, what="state")
        check_keywords(where, kwargs, [self.layer])
        inner = jax.lax.stop_gradient(state["params"])
        y, inner_state = self.layer.apply(
            inner, state["state"], x, key=key, train=train and not self.eval_mode, **kwargs
        )
        return y, {"params": state["params"], "state": inner_state}
