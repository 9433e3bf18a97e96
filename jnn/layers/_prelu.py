"""PReLU: a leaky ReLU whose negative slope is learned."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from jnn import _checks
from jnn.layers._base import Layer, check_param_keys
from jnn.layers._dense import param_dtype_for


@dataclasses.dataclass(frozen=True, repr=False)
class PReLU(Layer):
    r"""Parametric ReLU (He et al. 2015): a leaky ReLU with a learned slope.

    .. math::
        \operatorname{PReLU}(x) = \max(0, x) + \alpha \min(0, x)

    Params are ``{"alpha": (features,)}``: one slope per feature (the last axis), or
    ``{"alpha": ()}`` when ``shared=True`` (one slope for the whole layer, as
    PyTorch's default).

    Args:
        init_alpha: the initial slope (0.25, as in the paper).
        shared: one slope for all features instead of one per feature.

    References:
        He, Zhang, Ren, Sun, "Delving Deep into Rectifiers: Surpassing Human-Level
        Performance on ImageNet Classification", 2015. https://arxiv.org/abs/1502.01852

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = PReLU()
        >>> params, state = layer.init(jax.random.key(0), jnp.ones((2, 3)))
        >>> layer.apply(params, state, jnp.array([[-1.0, 0.0, 2.0]]))[0]
        Array([[-0.25,  0.  ,  2.  ]], dtype=float32)
    """

    init_alpha: float = 0.25
    shared: bool = False

    def init(self, key, x):
        del key
        _checks.rank_at_least("PReLU.init", "x", x, 1, "(..., features)")
        _checks.floating_input("PReLU.init", "x", x)
        shape = () if self.shared else (x.shape[-1],)
        return {"alpha": jnp.full(shape, self.init_alpha, param_dtype_for(x, None))}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        check_param_keys("PReLU.apply", params, {"alpha"})
        _checks.floating_input("PReLU.apply", "x", x)
        alpha = params["alpha"]
        if alpha.ndim == 1 and x.shape[-1] != alpha.shape[0]:
            raise ValueError(
                f"PReLU.apply: x has {x.shape[-1]} features but alpha has {alpha.shape[0]}; "
                f"re-run init with an x like this one (shape {tuple(x.shape)})."
            )
        alpha = alpha.reshape((1,) * (x.ndim - alpha.ndim) + alpha.shape)
        return jnp.where(x >= 0, x, alpha * x), state
