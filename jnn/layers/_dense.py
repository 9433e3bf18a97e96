"""Dense (fully connected) layer: ``y = x @ kernel + bias``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn.layers._base import Layer, check_param_keys

Initializer = Callable[..., jax.Array]

# Module-level instances, so two Dense(64) layers compare (and hash) equal.
DEFAULT_KERNEL_INIT = jax.nn.initializers.lecun_normal()
DEFAULT_BIAS_INIT = jax.nn.initializers.zeros


def param_dtype_for(x: Any, param_dtype: Any) -> Any:
    """Params follow the input's float dtype; half-precision inputs get float32 params."""
    if param_dtype is not None:
        return jnp.dtype(param_dtype)
    dtype = jnp.dtype(x.dtype)
    if dtype.itemsize < 4:  # bfloat16 / float16 compute keeps float32 master weights
        return jnp.dtype(jnp.float32)
    return dtype


@dataclasses.dataclass(frozen=True, repr=False)
class Dense(Layer):
    r"""A fully connected layer.

    .. math::
        y = x W + b, \qquad W \in \mathbb{R}^{d_\text{in} \times d_\text{out}},\;
        b \in \mathbb{R}^{d_\text{out}}

    Params are ``{"kernel": (in, out), "bias": (out,)}`` (no ``"bias"`` when
    ``use_bias=False``). ``x`` may have any number of leading axes; the last one is
    the feature axis.

    Args:
        features: the number of output units, ``d_out``.
        use_bias: whether to add ``b``.
        kernel_init: ``init(key, shape, dtype)``; LeCun normal (std ``1/sqrt(fan_in)``)
            by default.
        bias_init: ``init(key, shape, dtype)``; zeros by default. An initializer with
            ``needs_kernel = True`` (such as ``jnn.initializers.hinge_bias``) is also
            given ``kernel=`` and the example input ``x=``.
        param_dtype: dtype of the params; by default the input's float dtype
            (float32 for bfloat16/float16 inputs).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Dense(4)
        >>> params, state = layer.init(jax.random.key(0), jnp.ones((8, 3)))
        >>> jax.tree.map(jnp.shape, params)
        {'bias': (4,), 'kernel': (3, 4)}
    """

    features: int
    use_bias: bool = True
    kernel_init: Initializer = DEFAULT_KERNEL_INIT
    bias_init: Initializer = DEFAULT_BIAS_INIT
    param_dtype: Any = None

    def __post_init__(self):
        _checks.positive_int(
            "Dense", "features", self.features,
            fix="Pass the number of output units, e.g. Dense(64).",
        )

    def _check_input(self, where: str, x: Any) -> None:
        _checks.rank_at_least(where, "x", x, 1, "(..., features)")
        _checks.floating_input(where, "x", x)

    def init(self, key, x):
        self._check_input("Dense.init", x)
        dtype = param_dtype_for(x, self.param_dtype)
        k_kernel, k_bias = jax.random.split(key)
        kernel = self.kernel_init(k_kernel, (x.shape[-1], self.features), dtype)
        params = {"kernel": kernel}
        if self.use_bias:
            if getattr(self.bias_init, "needs_kernel", False):
                bias = self.bias_init(k_bias, (self.features,), dtype, kernel=kernel, x=x)
            else:
                bias = self.bias_init(k_bias, (self.features,), dtype)
            params["bias"] = bias
        return params, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        where = "Dense.apply"
        check_param_keys(where, params, {"kernel", "bias"} if self.use_bias else {"kernel"})
        self._check_input(where, x)
        kernel = params["kernel"]
        if kernel.ndim != 2 or kernel.shape[1] != self.features:
            raise ValueError(
                f"{where}: params['kernel'] has shape {tuple(kernel.shape)} but this layer "
                f"is Dense({self.features}), which needs (in, {self.features}); these params "
                f"belong to another layer. Re-run init, or pass this layer's own params."
            )
        if x.shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"{where}: x has {x.shape[-1]} features but kernel expects {kernel.shape[0]}; "
                f"re-run init with an x like this one (shape {tuple(x.shape)})."
            )
        y = x @ kernel
        if self.use_bias:
            # Explicit broadcast: works under jax_numpy_rank_promotion="raise".
            y = y + params["bias"].reshape((1,) * (y.ndim - 1) + (-1,))
        return y, state
