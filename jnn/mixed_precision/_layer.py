"""MixedPrecision: run any layer under a precision policy."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jnn.layers._base import Layer, as_layer
from jnn.mixed_precision._policy import Policy, policy


def _cast_like(new: Any, old: Any) -> Any:
    """Floating leaves of ``new`` cast to the dtype of the matching leaf of ``old``.

    Keeps a layer's state in the dtype it was created in (float32 BatchNorm statistics),
    so the state carried through ``lax.scan`` or a training loop never changes dtype.
    """
    if jax.tree.structure(new) != jax.tree.structure(old):
        return new

    def cast(a, b):
        if (hasattr(a, "dtype") and hasattr(b, "dtype") and jnp.issubdtype(a.dtype, jnp.floating)
                and jnp.issubdtype(b.dtype, jnp.floating)):
            return a.astype(b.dtype)
        return a

    return jax.tree.map(cast, new, old)


@dataclasses.dataclass(frozen=True, repr=False)
class MixedPrecision(Layer):
    r"""Run ``layer`` under a precision :class:`Policy`.

    ``init`` returns the wrapped layer's params cast to ``param_dtype`` (float32 master
    weights) and its state as the layer made it. ``apply`` computes

    .. math::
        y = \mathrm{cast}_{o}\big(f(\mathrm{cast}_{c}(\theta),\ \mathrm{cast}_{c}(x))\big)

    with :math:`c` the compute and :math:`o` the output dtype: params and floating
    inputs are cast to the compute dtype (integer inputs such as token ids are left
    alone), the layer runs, and floating outputs are cast to the output dtype. The
    state is passed through uncast and the new state is cast back to the dtypes of the
    old one, so BatchNorm's running statistics stay float32 (BatchNorm itself computes
    its batch statistics in float32 for half-precision inputs). Because the casts are
    differentiable, the gradients with respect to float32 params are float32.

    Args:
        layer: the layer (or a plain callable) to run.
        policy: a :class:`Policy` or anything :func:`policy` reads (``"bfloat16"``,
            ``"params=float32,compute=float16,output=float32"``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense, Sequential
        >>> from jnn.mixed_precision import MixedPrecision
        >>> model = MixedPrecision(Sequential([Dense(8), jax.nn.relu, Dense(2)]), "bfloat16")
        >>> params, state = model.init(jax.random.key(0), jnp.ones((4, 3)))
        >>> params[0]["kernel"].dtype
        dtype('float32')
        >>> model.apply(params, state, jnp.ones((4, 3)))[0].dtype
        dtype('float32')

    References:
        Micikevicius et al., "Mixed Precision Training", 2018.
        https://arxiv.org/abs/1710.03740
    """

    layer: Layer
    policy: Policy = Policy()

    def __post_init__(self):
        object.__setattr__(self, "layer", as_layer(self.layer, where="MixedPrecision"))
        object.__setattr__(self, "policy", policy(self.policy))

    def __repr__(self) -> str:
        return f"MixedPrecision({self.layer!r}, '{self.policy}')"

    def accepts_keyword(self, name: str) -> bool:
        return self.layer.accepts_keyword(name)

    def init(self, key, x):
        params, state = self.layer.init(key, x)
        return self.policy.cast_to_param(params), state

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        y, new_state = self.layer.apply(
            self.policy.cast_to_compute(params), state, self.policy.cast_to_compute(x),
            key=key, train=train, **kwargs,
        )
        return self.policy.cast_to_output(y), _cast_like(new_state, state)
