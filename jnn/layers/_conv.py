r"""Convolution (cross-correlation) and transposed convolution over 1, 2 or 3 spatial axes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn.layers import _spatial as sp
from jnn.layers._base import Layer, check_param_keys
from jnn.layers._dense import DEFAULT_BIAS_INIT, DEFAULT_KERNEL_INIT, param_dtype_for

Initializer = Callable[..., jax.Array]


def _one_axis_pad(where: str, p: Any) -> Any:
    """Padding of a single axis: 'SAME', 'VALID' or a (low, high) pair."""
    if isinstance(p, str):
        return sp.padding(where, p)
    if sp.is_int(p) and p >= 0:
        return (int(p), int(p))
    if isinstance(p, (tuple, list)) and len(p) == 2 and all(sp.is_int(v) and v >= 0 for v in p):
        return (int(p[0]), int(p[1]))
    raise ValueError(
        f"{where}: p must be a non-negative int, a (low, high) pair of them, 'SAME' or "
        f"'VALID'; got {p!r}."
    )


def _check_sizes(where: str, i: Any, k: Any, s: Any, d: Any) -> None:
    for name, value in (("i", i), ("k", k), ("s", s), ("d", d)):
        _checks.positive_int(where, name, value)


def conv_output_size(i: int, k: int, s: int = 1, p: Any = 0, d: int = 1) -> int:
    r"""The output length of a convolution or pooling window along one axis.

    .. math::
        o = \left\lfloor \frac{i + 2p - k_\text{eff}}{s} \right\rfloor + 1,
        \qquad k_\text{eff} = d (k - 1) + 1

    With ``p = "VALID"`` this is :math:`\lfloor (i - k_\text{eff}) / s \rfloor + 1`;
    with ``p = "SAME"`` it is :math:`\lceil i / s \rceil`; with a pair ``(low, high)``
    the :math:`2p` becomes ``low + high``. ``Conv``, ``MaxPool`` and ``AvgPool`` produce
    exactly these sizes.

    Args:
        i: the input length.
        k: the kernel (window) size.
        s: the stride.
        p: the padding on each side: an int, a ``(low, high)`` pair, ``"SAME"`` or ``"VALID"``.
        d: the dilation of the kernel.

    Returns:
        ``o``, an int >= 1.

    Raises:
        ValueError: if the (dilated) kernel is larger than the padded input.

    Example:
        >>> conv_output_size(32, 5, s=1, p=0)          # 'valid' 5x5 conv on 32x32
        28
        >>> conv_output_size(7, 3, s=2, p=1)
        4
        >>> conv_output_size(10, 3, d=2)                # effective kernel 5
        6
    """
    where = "conv_output_size"
    _check_sizes(where, i, k, s, d)
    k_eff = sp.effective(k, d)
    pad = _one_axis_pad(where, p)
    pads = sp.pad_pairs(pad if isinstance(pad, str) else (pad,), (i,), (k_eff,), (s,))
    return sp.check_fits(where, (i,), (k_eff,), pads, (s,), "kernel")[0]


def conv_transpose_output_size(i: int, k: int, s: int = 1, p: Any = 0, d: int = 1) -> int:
    r"""The output length of :class:`ConvTranspose` along one axis.

    ``p`` is the padding of the forward convolution that this layer transposes (the
    convention of PyTorch's ``ConvTranspose`` without ``output_padding``):

    .. math::
        o = (i - 1) s + k_\text{eff} - 2p, \qquad k_\text{eff} = d (k - 1) + 1

    ``"SAME"`` gives :math:`o = i s`; ``"VALID"`` gives
    :math:`o = i s + \max(k_\text{eff} - s, 0)` (as ``jax.lax.conv_transpose``, Keras
    and Flax).

    Example:
        >>> conv_transpose_output_size(4, 3, s=2, p=1)   # inverts conv_output_size(7, 3, 2, 1)
        7
        >>> conv_transpose_output_size(16, 4, s=2, p="SAME")
        32
    """
    where = "conv_transpose_output_size"
    _check_sizes(where, i, k, s, d)
    k_eff = sp.effective(k, d)
    pad = _one_axis_pad(where, p)
    pads = _transpose_pads(pad if isinstance(pad, str) else (pad,), (k_eff,), (s,))
    return sp.check_fits(where, ((i - 1) * s + 1,), (k_eff,), pads, (1,), "kernel")[0]


def _transpose_pads(pad: Any, window: tuple[int, ...], strides: tuple[int, ...]) -> tuple:
    """Pads of the stride-1 convolution over the stride-dilated input that ConvTranspose runs.

    'SAME' and 'VALID' follow ``jax.lax.conv_transpose``; an explicit forward padding
    ``(lo, hi)`` becomes ``(k_eff - 1 - lo, k_eff - 1 - hi)``, which makes the output
    ``(i - 1) s + k_eff - lo - hi``.
    """
    pairs = []
    for axis, (k, s) in enumerate(zip(window, strides)):
        if pad == "SAME":
            total = k + s - 2
            low = k - 1 if s > k - 1 else -(-total // 2)
        elif pad == "VALID":
            total = k + s - 2 + max(k - s, 0)
            low = k - 1
        else:
            p = sp.per_axis(pad, len(window))[axis]
            lo, hi = p if isinstance(p, tuple) else (p, p)
            low, total = k - 1 - lo, 2 * (k - 1) - lo - hi
        pairs.append((low, total - low))
    return tuple(pairs)


def _dimension_numbers(rank: int) -> jax.lax.ConvDimensionNumbers:
    """Channels-last input and output, kernel (*spatial, in, out)."""
    spatial = tuple(range(1, rank + 1))
    io = (0, rank + 1) + spatial
    return jax.lax.ConvDimensionNumbers(io, (rank + 1, rank) + tuple(range(rank)), io)


@dataclasses.dataclass(frozen=True, repr=False)
class _ConvBase(Layer):
    """Hyperparameters and checks shared by Conv and ConvTranspose."""

    features: int
    kernel_size: int | tuple[int, ...]
    strides: int | tuple[int, ...] = 1
    padding: Any = "SAME"
    dilation: int | tuple[int, ...] = 1
    use_bias: bool = True
    kernel_init: Initializer = DEFAULT_KERNEL_INIT
    bias_init: Initializer = DEFAULT_BIAS_INIT
    param_dtype: Any = None
    precision: Any = None

    def __post_init__(self):
        where = type(self).__name__
        _checks.positive_int(
            where, "features", self.features,
            fix=f"Pass the number of output channels, e.g. {where}(32, (3, 3)).",
        )
        example = f"{where}({self.features}, (3, 3))"
        for name in ("kernel_size", "strides", "dilation"):
            value = sp.sizes(where, name, getattr(self, name), example=example)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "padding", sp.padding(where, self.padding))
        self._fixed_rank()

    def _fixed_rank(self) -> int | None:
        return sp.fixed_rank(
            type(self).__name__, kernel_size=self.kernel_size, strides=self.strides,
            dilation=self.dilation, padding=self.padding,
        )

    def _init_rank(self, where: str, x: Any) -> int:
        rank = self._fixed_rank()
        if rank is None:
            if x.ndim < 3:
                raise ValueError(
                    f"{where}: x must be (batch, *spatial, channels) with at least one spatial "
                    f"axis; got shape {tuple(x.shape)}. A batch of 1-D signals "
                    f"(batch, length) needs a channel axis: x[..., None]."
                )
            return x.ndim - 2
        sp.input_rank(where, x, rank, example_rank_from=f"kernel_size={self.kernel_size}")
        return rank

    def _kernel_rank(self, where: str, kernel: Any) -> int:
        """Check that params['kernel'] was made by this layer; return its spatial rank."""
        rank = kernel.ndim - 2
        fixed = self._fixed_rank()
        ok = kernel.ndim >= 3 and kernel.shape[-1] == self.features and (
            fixed is None or rank == fixed
        )
        ok = ok and tuple(kernel.shape[:rank]) == sp.per_axis(self.kernel_size, rank)
        if not ok:
            raise ValueError(
                f"{where}: params['kernel'] has shape {tuple(kernel.shape)} but this layer is "
                f"{self!r}, which needs (*kernel_size, in_channels, {self.features}); these "
                f"params belong to another layer. Re-run init, or pass this layer's own params."
            )
        return rank

    def _make_params(self, key, x, kernel_shape):
        dtype = param_dtype_for(x, self.param_dtype)
        k_kernel, k_bias = jax.random.split(key)
        params = {"kernel": self.kernel_init(k_kernel, kernel_shape, dtype)}
        if self.use_bias:
            params["bias"] = self.bias_init(k_bias, (self.features,), dtype)
        return params

    def _check_params(self, where, params):
        check_param_keys(where, params, {"kernel", "bias"} if self.use_bias else {"kernel"})

    def _check_channels(self, where: str, x: Any, expected: int, rank: int) -> None:
        if x.shape[-1] != expected:
            raise ValueError(
                f"{where}: x has {x.shape[-1]} channels (last axis of shape {tuple(x.shape)}) "
                f"but the kernel expects {expected}; images are channels-last "
                f"{sp.layout(rank)}. Re-run init with an x like this one, or move the "
                f"channel axis last (e.g. jnp.moveaxis(x, 1, -1) for NCHW data)."
            )

    def _add_bias(self, y, params):
        if self.use_bias:
            y = y + params["bias"].astype(y.dtype).reshape((1,) * (y.ndim - 1) + (-1,))
        return y


@dataclasses.dataclass(frozen=True, repr=False)
class Conv(_ConvBase):
    r"""A convolution layer (cross-correlation, as in every deep-learning framework).

    For a 2-D input :math:`x \in \mathbb{R}^{N \times H \times W \times C}` and kernel
    :math:`K \in \mathbb{R}^{k_h \times k_w \times C \times F}`:

    .. math::
        y_{n,i,j,f} = b_f + \sum_{a=0}^{k_h-1} \sum_{b=0}^{k_w-1} \sum_{c}
            \tilde x_{n,\; s_h i + d_h a,\; s_w j + d_w b,\; c}\, K_{a,b,c,f}

    where :math:`\tilde x` is :math:`x` zero-padded, :math:`s` the strides and :math:`d`
    the dilation. Each output axis has :func:`conv_output_size` entries,
    :math:`o = \lfloor (i + 2p - d(k-1) - 1)/s \rfloor + 1`. The same holds with one
    spatial axis (NWC, kernel ``(k, C, F)``) and three (NDHWC, kernel ``(kd, kh, kw, C, F)``).

    Params are ``{"kernel": (*kernel_size, C // feature_group_count, F), "bias": (F,)}``.

    Args:
        features: the number of output channels ``F``.
        kernel_size: an int (the same on every spatial axis; the number of spatial axes is
            then ``x.ndim - 2``) or a tuple with one entry per spatial axis.
        strides: an int or a tuple; the step between windows.
        padding: ``"SAME"`` (output size ``ceil(i / s)``), ``"VALID"`` (no padding), an int
            ``p`` (zeros on both sides of every axis), or one entry per spatial axis, each
            an int or a ``(low, high)`` pair.
        dilation: an int or a tuple; the gap between kernel taps (atrous convolution).
        use_bias: whether to add ``b``.
        kernel_init: ``init(key, shape, dtype)``; LeCun normal by default (fan-in is
            ``prod(kernel_size) * C``), as Flax.
        bias_init: ``init(key, shape, dtype)``; zeros by default.
        param_dtype: dtype of the params; by default the input's float dtype.
        precision: passed to ``jax.lax.conv_general_dilated``.
        feature_group_count: split the channels into this many groups, each convolved
            separately (``feature_group_count = C`` is a depthwise convolution).

    Input ``x``: ``(batch, *spatial, C)`` (NWC, NHWC or NDHWC); exactly one batch axis.
    Under ``jax.vmap`` over examples, give each example its batch axis (``x[None]``).

    Returns:
        ``(batch, *out_spatial, F)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Conv(8, (3, 3), strides=2, padding=1)
        >>> x = jnp.ones((2, 7, 7, 3))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> jax.tree.map(jnp.shape, params)
        {'bias': (8,), 'kernel': (3, 3, 3, 8)}
        >>> layer.apply(params, state, x)[0].shape
        (2, 4, 4, 8)

    References:
        LeCun, Boser, Denker, Henderson, Howard, Hubbard, Jackel, "Backpropagation
        Applied to Handwritten Zip Code Recognition", Neural Computation, 1989.
        Dumoulin, Visin, "A guide to convolution arithmetic for deep learning", 2016.
        https://arxiv.org/abs/1603.07285
    """

    feature_group_count: int = 1

    def __post_init__(self):
        super().__post_init__()
        _checks.positive_int("Conv", "feature_group_count", self.feature_group_count)
        if self.features % self.feature_group_count:
            raise ValueError(
                f"Conv: features={self.features} must be divisible by "
                f"feature_group_count={self.feature_group_count}."
            )

    def _check_groups(self, where: str, channels: int) -> None:
        if channels % self.feature_group_count:
            raise ValueError(
                f"{where}: x has {channels} channels, which feature_group_count="
                f"{self.feature_group_count} does not divide; use a group count that divides "
                f"the number of input channels."
            )

    def _run(self, where, x, kernel, rank):
        strides = sp.per_axis(self.strides, rank)
        dilation = sp.per_axis(self.dilation, rank)
        window = tuple(sp.effective(k, d) for k, d in zip(kernel.shape[:rank], dilation))
        pads = sp.pad_pairs(self.padding, x.shape[1:-1], window, strides)
        sp.check_fits(where, x.shape[1:-1], window, pads, strides, "kernel")
        dtype = jnp.result_type(x.dtype, kernel.dtype)
        return jax.lax.conv_general_dilated(
            x.astype(dtype), kernel.astype(dtype), strides, pads, rhs_dilation=dilation,
            dimension_numbers=_dimension_numbers(rank),
            feature_group_count=self.feature_group_count, precision=self.precision,
        )

    def init(self, key, x):
        where = "Conv.init"
        rank = self._init_rank(where, x)
        _checks.floating_input(where, "x", x)
        self._check_groups(where, x.shape[-1])
        kernel_shape = sp.per_axis(self.kernel_size, rank) + (
            x.shape[-1] // self.feature_group_count, self.features,
        )
        window = tuple(
            sp.effective(k, d) for k, d in zip(kernel_shape, sp.per_axis(self.dilation, rank))
        )
        strides = sp.per_axis(self.strides, rank)
        pads = sp.pad_pairs(self.padding, x.shape[1:-1], window, strides)
        sp.check_fits(where, x.shape[1:-1], window, pads, strides, "kernel")
        return self._make_params(key, x, kernel_shape), {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        where = "Conv.apply"
        self._check_params(where, params)
        kernel = params["kernel"]
        rank = self._kernel_rank(where, kernel)
        sp.input_rank(where, x, rank, example_rank_from=f"kernel shape {tuple(kernel.shape)}")
        _checks.floating_input(where, "x", x)
        self._check_channels(where, x, kernel.shape[-2] * self.feature_group_count, rank)
        return self._add_bias(self._run(where, x, kernel, rank), params), state


@dataclasses.dataclass(frozen=True, repr=False)
class ConvTranspose(_ConvBase):
    r"""A transposed ("fractionally strided") convolution, which upsamples by ``strides``.

    It runs a stride-1 cross-correlation over the input dilated by ``strides`` (``s - 1``
    zeros between neighbours), with the kernel ``(*kernel_size, C, F)`` as is, the same
    computation as ``flax.linen.ConvTranspose`` and ``jax.lax.conv_transpose``. Along each
    axis (:func:`conv_transpose_output_size`):

    .. math::
        o = (i - 1) s + k_\text{eff} - 2p, \qquad k_\text{eff} = d (k - 1) + 1,

    where ``padding`` ``p`` is the padding of the forward convolution this layer
    transposes, so ``Conv(..., strides=s, padding=p)`` maps size ``o`` back to ``i``.
    ``"SAME"`` gives ``o = i s``.

    .. warning::
        An explicit ``padding`` means the forward convolution's padding, as in PyTorch
        (``nn.ConvTranspose2d(padding=p)`` without ``output_padding``) and
        ``jax.lax.conv_transpose(..., use_consistent_padding=True)``. Flax Linen instead
        pads the dilated input by ``p`` directly; Flax's ``padding=q`` equals jnn's
        ``padding=k_eff - 1 - q``. ``"SAME"`` and ``"VALID"`` agree with Flax. The kernel
        is not flipped; a PyTorch ``ConvTranspose`` weight ``(C, F, kh, kw)`` becomes
        ``w.transpose(2, 3, 0, 1)[::-1, ::-1]``.

    Params are ``{"kernel": (*kernel_size, C, F), "bias": (F,)}``.

    Args:
        features: the number of output channels ``F``.
        kernel_size: an int or a tuple with one entry per spatial axis.
        strides: the upsampling factor per axis.
        padding: ``"SAME"``, ``"VALID"``, an int, or per-axis ints / ``(low, high)`` pairs
            (forward-convolution padding; see above).
        dilation: the kernel dilation.
        use_bias, kernel_init, bias_init, param_dtype, precision: as in :class:`Conv`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = ConvTranspose(4, (3, 3), strides=2, padding="SAME")
        >>> x = jnp.ones((1, 5, 5, 8))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> layer.apply(params, state, x)[0].shape
        (1, 10, 10, 4)

    References:
        Dumoulin, Visin, "A guide to convolution arithmetic for deep learning", 2016,
        section 4. https://arxiv.org/abs/1603.07285
    """

    def _pads(self, where, x, window, rank):
        strides = sp.per_axis(self.strides, rank)
        pads = _transpose_pads(self.padding, window, strides)
        dilated = tuple((i - 1) * s + 1 for i, s in zip(x.shape[1:-1], strides))
        sp.check_fits(where, dilated, window, pads, (1,) * rank, "kernel")
        return strides, pads

    def init(self, key, x):
        where = "ConvTranspose.init"
        rank = self._init_rank(where, x)
        _checks.floating_input(where, "x", x)
        kernel_shape = sp.per_axis(self.kernel_size, rank) + (x.shape[-1], self.features)
        window = tuple(
            sp.effective(k, d) for k, d in zip(kernel_shape, sp.per_axis(self.dilation, rank))
        )
        self._pads(where, x, window, rank)
        return self._make_params(key, x, kernel_shape), {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        where = "ConvTranspose.apply"
        self._check_params(where, params)
        kernel = params["kernel"]
        rank = self._kernel_rank(where, kernel)
        sp.input_rank(where, x, rank, example_rank_from=f"kernel shape {tuple(kernel.shape)}")
        _checks.floating_input(where, "x", x)
        self._check_channels(where, x, kernel.shape[-2], rank)
        dilation = sp.per_axis(self.dilation, rank)
        window = tuple(sp.effective(k, d) for k, d in zip(kernel.shape[:rank], dilation))
        strides, pads = self._pads(where, x, window, rank)
        dtype = jnp.result_type(x.dtype, kernel.dtype)
        y = jax.lax.conv_general_dilated(
            x.astype(dtype), kernel.astype(dtype), (1,) * rank, pads, lhs_dilation=strides,
            rhs_dilation=dilation, dimension_numbers=_dimension_numbers(rank),
            precision=self.precision,
        )
        return self._add_bias(y, params), state
