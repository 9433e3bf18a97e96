"""Multilayer perceptron."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from jnn.layers import Dense, Sequential
from jnn.layers._dense import DEFAULT_BIAS_INIT, DEFAULT_KERNEL_INIT
from jnn.models import _common
from jnn.models._common import Model


@dataclasses.dataclass(frozen=True, repr=False)
class MLP(Model):
    r"""A multilayer perceptron: dense layers with an activation between them.

    .. math::
        h^{[0]} = x, \qquad h^{[l]} = \sigma\!\left(h^{[l-1]} W^{[l]} + b^{[l]}\right),
        \qquad y = h^{[L-1]} W^{[L]} + b^{[L]}

    The input size is inferred from the example input at ``init``; ``sizes`` lists the
    hidden widths and, last, the output width. The output layer has no activation unless
    ``final_activation`` is given (losses such as softmax cross-entropy take logits).

    Args:
        sizes: ``(h_1, ..., h_{L-1}, d_out)``, e.g. ``(64, 64, 10)``.
        activation: a name from ``jnn.activations`` (``"relu"``, ``"tanh"``,
            ``"sigmoid"``, ...) or a function.
        final_activation: applied to the output; ``None`` for none.
        dropout_rate: if > 0, a ``Dropout`` after every hidden activation.
        use_bias, kernel_init, bias_init: passed to every ``Dense``.

    Params: a list, one entry per layer of the built ``Sequential``
    (``[{"kernel", "bias"}, {}, {"kernel", "bias"}, ...]``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = MLP((16, 16, 3), activation="tanh")
        >>> params, state = model.init(jax.random.key(0), jnp.ones((5, 2)))
        >>> model.apply(params, state, jnp.ones((5, 2)))[0].shape
        (5, 3)
        >>> [p["kernel"].shape for p in params if p]
        [(2, 16), (16, 16), (16, 3)]
    """

    sizes: tuple[int, ...]
    activation: str | Callable = "relu"
    final_activation: str | Callable | None = None
    dropout_rate: float = 0.0
    use_bias: bool = True
    kernel_init: Callable = DEFAULT_KERNEL_INIT
    bias_init: Callable = DEFAULT_BIAS_INIT

    def __post_init__(self):
        sizes = _common.positive_sizes("MLP", "sizes", self.sizes, "MLP((64, 64, 10))")
        object.__setattr__(self, "sizes", sizes)
        _common.activation("MLP", self.activation)
        if self.final_activation is not None:
            _common.activation("MLP", self.final_activation)
        _common.dropout_rate("MLP", self.dropout_rate)

    def build(self):
        act = _common.activation("MLP", self.activation)
        dense: Any = lambda n: Dense(n, use_bias=self.use_bias, kernel_init=self.kernel_init,
                                     bias_init=self.bias_init)
        layers = []
        for size in self.sizes[:-1]:
            layers += [dense(size), act, *_common.maybe_dropout(self.dropout_rate)]
        layers.append(dense(self.sizes[-1]))
        if self.final_activation is not None:
            layers.append(_common.activation("MLP", self.final_activation))
        return Sequential(layers)
