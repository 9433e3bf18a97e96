"""Normalization layers: BatchNorm, LayerNorm, GroupNorm."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
from jax import lax

from jnn import _checks
from jnn.layers._base import Layer, check_param_keys
from jnn.layers._dense import param_dtype_for


def _axes(where: str, name: str, axis: Any) -> tuple[int, ...]:
    """``axis`` (an int or a tuple of ints) as a tuple, refusing anything else."""
    axes = (axis,) if isinstance(axis, int) and not isinstance(axis, bool) else axis
    if (
        not isinstance(axes, tuple)
        or not axes
        or any(isinstance(a, bool) or not isinstance(a, int) for a in axes)
    ):
        raise TypeError(
            f"{where}: {name} must be an int or a non-empty tuple of ints; got {axis!r}. "
            f"Use e.g. {name}=-1 for the last (feature) axis."
        )
    return axes


def _resolve(where: str, name: str, axes: tuple[int, ...], x: Any) -> tuple[int, ...]:
    """Normalize negative axes against ``x``'s rank; refuse axes ``x`` does not have."""
    ndim = x.ndim
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(
            f"{where}: {name}={axes if len(axes) > 1 else axes[0]} is out of range for x of "
            f"shape {tuple(x.shape)} (rank {ndim}); pass an axis in [-{ndim}, {ndim})."
        )
    resolved = tuple(sorted(a % ndim for a in axes))
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"{where}: {name}={axes} repeats an axis; list each axis once.")
    return resolved


def _stat_dtype(x: Any) -> Any:
    """Statistics are computed in at least float32, even for half-precision inputs."""
    return jnp.promote_types(x.dtype, jnp.float32)


def _check_param_shape(where: str, name: str, value: Any, shape: tuple[int, ...], x) -> None:
    if tuple(value.shape) != shape:
        raise ValueError(
            f"{where}: {name} has shape {tuple(value.shape)} but x of shape "
            f"{tuple(x.shape)} needs {shape}; re-run init with an x like this one."
        )


def _affine(y, params, feature_shape, use_scale, use_bias):
    """``y * scale + bias`` with scale/bias broadcast over the non-feature axes."""
    if use_scale:
        y = y * params["scale"].reshape(feature_shape)
    if use_bias:
        y = y + params["bias"].reshape(feature_shape)
    return y


def _affine_params(x, shape, use_scale, use_bias, param_dtype):
    dtype = param_dtype_for(x, param_dtype)
    params = {}
    if use_scale:
        params["scale"] = jnp.ones(shape, dtype)
    if use_bias:
        params["bias"] = jnp.zeros(shape, dtype)
    return params


def _param_keys(use_scale: bool, use_bias: bool) -> set[str]:
    return ({"scale"} if use_scale else set()) | ({"bias"} if use_bias else set())


@dataclasses.dataclass(frozen=True, repr=False)
class BatchNorm(Layer):
    r"""Batch normalization (Ioffe & Szegedy 2015).

    In training (``train=True``) each feature is normalized with the statistics of
    the current batch, over every axis except ``axis``:

    .. math::
        \mu_B = \frac{1}{m}\sum_{i=1}^m x_i, \qquad
        \sigma_B^2 = \frac{1}{m}\sum_{i=1}^m (x_i - \mu_B)^2, \qquad
        y_i = \gamma\,\frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta

    With ``fast_variance=True`` (the default, as Flax's ``use_fast_variance``) the
    variance is computed in one pass over the batch, from the same sweep as the mean,

    .. math::
        \sigma_B^2 = \max\Big(0,\ \frac{1}{m}\sum_{i=1}^m x_i^2 - \mu_B^2\Big),

    and with ``fast_variance=False`` in two passes, as written above.

    and the running averages in the returned state are updated as

    .. math::
        \hat\mu \leftarrow \rho\,\hat\mu + (1-\rho)\,\mu_B, \qquad
        \hat\sigma^2 \leftarrow \rho\,\hat\sigma^2 + (1-\rho)\,\sigma_B^2

    with ``momentum`` :math:`\rho`. In evaluation (``train=False``) the running
    averages replace the batch statistics and the state is returned unchanged.

    Params are ``{"scale": (C,), "bias": (C,)}`` (:math:`\gamma`, :math:`\beta`; either
    absent when switched off); state is ``{"mean": (C,), "var": (C,)}``, starting at
    zeros and ones. ``C`` is the size of ``axis`` (a tuple of axes gives a tuple shape).

    .. warning::
        The one-pass variance subtracts two nearly equal numbers when a feature's mean
        is large against its spread: in float32 (unit roundoff :math:`u \approx 6\cdot
        10^{-8}`) its relative error grows like :math:`u\,\mu_B^2/\sigma_B^2`, about
        :math:`10^{-3}` at :math:`|\mu_B| = 100\,\sigma_B` and all of it at
        :math:`10^4\,\sigma_B`; the two-pass form stays accurate. Inside a network
        (after a convolution or another normalization) :math:`|\mu_B|/\sigma_B` is small
        and the one pass saves a full read of the activations in the forward and the
        backward pass (a ResNet-20 training step about 7% faster on CPU). Pass
        ``fast_variance=False`` for raw inputs with a large offset (unnormalized
        measurements, pixel values far from zero). Statistics are always computed in
        at least float32, also for bfloat16/float16 inputs, and the variance is clamped
        at zero.

    .. warning::
        :math:`\sigma_B^2` is the *biased* batch variance (divide by ``m``), in both the
        normalization and the running average, as in Flax and Keras. PyTorch's
        ``BatchNorm`` stores the unbiased variance (divide by ``m - 1``) in its running
        average, and its ``momentum`` is ``1 - momentum`` here (PyTorch 0.1 = jnn 0.9).

    Args:
        momentum: :math:`\rho`, the decay of the running averages, in ``[0, 1]``.
        epsilon: added to the variance, ``> 0``.
        axis: the feature axis (or axes) that keep their own statistics; ``-1`` is
            the channel axis of NHWC images and of ``(batch, features)`` inputs.
        use_scale: learn :math:`\gamma`.
        use_bias: learn :math:`\beta`.
        axis_name: the name of a mapped axis (``shard_map``, ``pmap``, ``vmap``) to
            average the batch statistics over, so all devices normalize with the
            statistics of the global batch (equal per-device batch sizes assumed).
        param_dtype: dtype of params and state; by default the input's float dtype
            (float32 for half-precision inputs).
        fast_variance: one-pass batch variance :math:`E[x^2] - E[x]^2` (faster; Flax's
            default) instead of the two-pass :math:`E[(x - E[x])^2]` (more accurate when
            :math:`|\mu_B| \gg \sigma_B`; see the warning).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> bn = BatchNorm(momentum=0.9)
        >>> x = jnp.arange(8.0).reshape(4, 2)
        >>> params, state = bn.init(jax.random.key(0), x)
        >>> y, state = bn.apply(params, state, x, train=True)
        >>> y.mean(axis=0), state["mean"]
        (Array([0., 0.], dtype=float32), Array([0.3, 0.4], dtype=float32))

    References:
        Ioffe, Szegedy, "Batch Normalization: Accelerating Deep Network Training by
        Reducing Internal Covariate Shift", 2015. https://arxiv.org/abs/1502.03167
    """

    momentum: float = 0.99
    epsilon: float = 1e-5
    axis: int | tuple[int, ...] = -1
    use_scale: bool = True
    use_bias: bool = True
    axis_name: Any = None
    param_dtype: Any = None
    fast_variance: bool = True

    def __post_init__(self):
        if not isinstance(self.fast_variance, bool):
            raise TypeError(
                f"BatchNorm: fast_variance must be True or False; got {self.fast_variance!r}."
            )
        _checks.number_in_range(
            "BatchNorm", "momentum", self.momentum, 0.0, 1.0,
            fix="It is the decay of the running averages, e.g. 0.99 or 0.9.",
        )
        _checks.number_in_range(
            "BatchNorm", "epsilon", self.epsilon, 0.0, None, low_inclusive=False,
            fix="Use a small positive number such as 1e-5.",
        )
        _axes("BatchNorm", "axis", self.axis)

    def _feature_axes(self, where: str, x: Any) -> tuple[int, ...]:
        _checks.rank_at_least(where, "x", x, 2, "(batch, ..., features)")
        _checks.floating_input(where, "x", x)
        axes = _resolve(where, "axis", _axes(where, "axis", self.axis), x)
        if 0 in axes:
            raise ValueError(
                f"{where}: axis={self.axis} includes the batch axis 0 of x (shape "
                f"{tuple(x.shape)}); BatchNorm averages over the batch, so pass the "
                f"feature axis, e.g. axis=-1."
            )
        return axes

    def init(self, key, x):
        del key
        axes = self._feature_axes("BatchNorm.init", x)
        shape = tuple(x.shape[a] for a in axes)
        dtype = param_dtype_for(x, self.param_dtype)
        params = _affine_params(x, shape, self.use_scale, self.use_bias, self.param_dtype)
        state = {"mean": jnp.zeros(shape, dtype), "var": jnp.ones(shape, dtype)}
        return params, state

    def apply(self, params, state, x, *, key=None, train=False):
        del key
        where = "BatchNorm.apply"
        check_param_keys(where, params, _param_keys(self.use_scale, self.use_bias))
        check_param_keys(where, state, {"mean", "var"}, what="state")
        axes = self._feature_axes(where, x)
        shape = tuple(x.shape[a] for a in axes)
        for name, tree in (("params", params), ("state", state)):
            for k, v in tree.items():
                _check_param_shape(where, f"{name}['{k}']", v, shape, x)
        reduce_axes = tuple(a for a in range(x.ndim) if a not in axes)
        # Stats broadcast against x: keep reduced axes as size 1.
        feature_shape = tuple(x.shape[a] if a in axes else 1 for a in range(x.ndim))
        xf = x.astype(_stat_dtype(x))
        if train:
            mean, var = self._batch_stats(xf, reduce_axes, feature_shape)
            rho = self.momentum
            new_state = {
                "mean": (rho * state["mean"] + (1 - rho) * mean).astype(state["mean"].dtype),
                "var": (rho * state["var"] + (1 - rho) * var).astype(state["var"].dtype),
            }
        else:
            mean, var = state["mean"].astype(xf.dtype), state["var"].astype(xf.dtype)
            new_state = state
        # Fold rsqrt(var + eps) and the scale into one per-feature multiplier, so the
        # full-size tensor sees one subtraction, one product and one sum.
        mul = lax.rsqrt(var + self.epsilon)
        if self.use_scale:
            mul = mul * params["scale"].astype(xf.dtype)
        y = (xf - mean.reshape(feature_shape)) * mul.reshape(feature_shape)
        if self.use_bias:
            y = y + params["bias"].astype(xf.dtype).reshape(feature_shape)
        return y.astype(x.dtype), new_state

    def _batch_stats(self, xf, reduce_axes, feature_shape):
        """The batch mean and biased variance, averaged over ``axis_name`` if given."""
        mean = jnp.mean(xf, axis=reduce_axes)
        if self.fast_variance:
            mean_sq = jnp.mean(jnp.square(xf), axis=reduce_axes)
            if self.axis_name is not None:
                mean, mean_sq = lax.pmean((mean, mean_sq), self.axis_name)
            # Rounding can leave E[x^2] - E[x]^2 slightly negative when var << mean^2.
            return mean, jnp.maximum(mean_sq - jnp.square(mean), 0.0)
        if self.axis_name is not None:
            mean = lax.pmean(mean, self.axis_name)
        var = jnp.mean(jnp.square(xf - mean.reshape(feature_shape)), axis=reduce_axes)
        if self.axis_name is not None:
            var = lax.pmean(var, self.axis_name)
        return mean, var


@dataclasses.dataclass(frozen=True, repr=False)
class LayerNorm(Layer):
    r"""Layer normalization (Ba et al. 2016): each example normalized over its features.

    .. math::
        \mu = \frac{1}{H}\sum_{j=1}^H x_j, \qquad
        \sigma^2 = \frac{1}{H}\sum_{j=1}^H (x_j - \mu)^2, \qquad
        y_j = \gamma_j\,\frac{x_j - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_j

    The statistics run over ``axis`` (the last axis by default, or a tuple of axes),
    separately for every position on the other axes; training and evaluation agree,
    and there is no state. Params are ``{"scale", "bias"}`` with the shape of ``x``
    on ``axis``.

    Args:
        epsilon: added to the variance, ``> 0``. (Flax's default is 1e-6, PyTorch's 1e-5.)
        axis: the axis or axes to normalize over.
        use_scale: learn :math:`\gamma`.
        use_bias: learn :math:`\beta`.
        param_dtype: dtype of the params; by default the input's float dtype.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> ln = LayerNorm()
        >>> x = jnp.array([[1.0, 2.0, 3.0]])
        >>> params, state = ln.init(jax.random.key(0), x)
        >>> ln.apply(params, state, x)[0].round(3)  # (x - 2) / sqrt(2/3 + 1e-5)
        Array([[-1.225,  0.   ,  1.225]], dtype=float32)

    References:
        Ba, Kiros, Hinton, "Layer Normalization", 2016. https://arxiv.org/abs/1607.06450
    """

    epsilon: float = 1e-5
    axis: int | tuple[int, ...] = -1
    use_scale: bool = True
    use_bias: bool = True
    param_dtype: Any = None

    def __post_init__(self):
        _checks.number_in_range(
            "LayerNorm", "epsilon", self.epsilon, 0.0, None, low_inclusive=False,
            fix="Use a small positive number such as 1e-5.",
        )
        _axes("LayerNorm", "axis", self.axis)

    def _norm_axes(self, where, x):
        _checks.rank_at_least(where, "x", x, 1, "(..., features)")
        _checks.floating_input(where, "x", x)
        return _resolve(where, "axis", _axes(where, "axis", self.axis), x)

    def init(self, key, x):
        del key
        axes = self._norm_axes("LayerNorm.init", x)
        shape = tuple(x.shape[a] for a in axes)
        return _affine_params(x, shape, self.use_scale, self.use_bias, self.param_dtype), {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        where = "LayerNorm.apply"
        check_param_keys(where, params, _param_keys(self.use_scale, self.use_bias))
        axes = self._norm_axes(where, x)
        shape = tuple(x.shape[a] for a in axes)
        for k, v in params.items():
            _check_param_shape(where, f"params['{k}']", v, shape, x)
        xf = x.astype(_stat_dtype(x))
        mean = jnp.mean(xf, axis=axes, keepdims=True)
        centered = xf - mean
        var = jnp.mean(jnp.square(centered), axis=axes, keepdims=True)
        y = centered * lax.rsqrt(var + self.epsilon)
        feature_shape = tuple(x.shape[a] if a in axes else 1 for a in range(x.ndim))
        y = _affine(y, params, feature_shape, self.use_scale, self.use_bias)
        return y.astype(x.dtype), state


@dataclasses.dataclass(frozen=True, repr=False)
class GroupNorm(Layer):
    r"""Group normalization (Wu & He 2018): channels split into groups, each normalized.

    For an input ``(batch, ..., C)`` (channels last) the ``C`` channels form
    ``num_groups`` groups of ``C / num_groups`` consecutive channels; each example's
    group is normalized over its channels and every spatial position:

    .. math::
        \mu_g = \frac{1}{|S_g|}\sum_{k \in S_g} x_k, \qquad
        \sigma_g^2 = \frac{1}{|S_g|}\sum_{k \in S_g} (x_k - \mu_g)^2, \qquad
        y_k = \gamma_c\,\frac{x_k - \mu_g}{\sqrt{\sigma_g^2 + \epsilon}} + \beta_c

    ``num_groups=1`` is LayerNorm over all non-batch axes; ``num_groups=C`` is
    instance normalization. No state; training and evaluation agree. Params are
    ``{"scale": (C,), "bias": (C,)}``.

    Args:
        num_groups: the number of groups; must divide the channel count.
        epsilon: added to the variance, ``> 0``.
        use_scale: learn :math:`\gamma`.
        use_bias: learn :math:`\beta`.
        param_dtype: dtype of the params; by default the input's float dtype.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> gn = GroupNorm(num_groups=2)
        >>> x = jnp.ones((1, 4, 4, 8))
        >>> params, state = gn.init(jax.random.key(0), x)
        >>> gn.apply(params, state, x)[0].shape
        (1, 4, 4, 8)

    References:
        Wu, He, "Group Normalization", 2018. https://arxiv.org/abs/1803.08494
    """

    num_groups: int = 32
    epsilon: float = 1e-5
    use_scale: bool = True
    use_bias: bool = True
    param_dtype: Any = None

    def __post_init__(self):
        _checks.positive_int(
            "GroupNorm", "num_groups", self.num_groups,
            fix="Pass how many channel groups to normalize, e.g. GroupNorm(num_groups=8).",
        )
        _checks.number_in_range(
            "GroupNorm", "epsilon", self.epsilon, 0.0, None, low_inclusive=False,
            fix="Use a small positive number such as 1e-5.",
        )

    def _check_input(self, where, x):
        _checks.rank_at_least(where, "x", x, 2, "(batch, ..., channels)")
        _checks.floating_input(where, "x", x)
        channels = x.shape[-1]
        if channels % self.num_groups:
            divisors = [d for d in range(1, channels + 1) if channels % d == 0]
            raise ValueError(
                f"{where}: num_groups={self.num_groups} does not divide the {channels} "
                f"channels of x (shape {tuple(x.shape)}); pick num_groups from {divisors}."
            )

    def init(self, key, x):
        del key
        self._check_input("GroupNorm.init", x)
        shape = (x.shape[-1],)
        return _affine_params(x, shape, self.use_scale, self.use_bias, self.param_dtype), {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        where = "GroupNorm.apply"
        check_param_keys(where, params, _param_keys(self.use_scale, self.use_bias))
        self._check_input(where, x)
        channels = x.shape[-1]
        for k, v in params.items():
            _check_param_shape(where, f"params['{k}']", v, (channels,), x)
        grouped = x.astype(_stat_dtype(x)).reshape(
            x.shape[:-1] + (self.num_groups, channels // self.num_groups)
        )
        # Reduce over all spatial axes and the channels inside each group.
        axes = tuple(range(1, grouped.ndim - 2)) + (grouped.ndim - 1,)
        mean = jnp.mean(grouped, axis=axes, keepdims=True)
        centered = grouped - mean
        var = jnp.mean(jnp.square(centered), axis=axes, keepdims=True)
        y = (centered * lax.rsqrt(var + self.epsilon)).reshape(x.shape)
        feature_shape = (1,) * (x.ndim - 1) + (channels,)
        y = _affine(y, params, feature_shape, self.use_scale, self.use_bias)
        return y.astype(x.dtype), state

