"""Classic convolutional networks: LeNet-5 and a scaled-down AlexNet."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax

from jnn import _checks
from jnn.layers import AvgPool, Conv, Dense, Flatten, MaxPool, Sequential
from jnn.models import _common
from jnn.models._common import Model


@dataclasses.dataclass(frozen=True, repr=False)
class LeNet5(Model):
    r"""LeNet-5 (LeCun et al. 1998): two convolution/subsampling stages and three dense layers.

    .. code-block:: text

        conv 6@5x5 (SAME) - act - pool 2x2 - conv 16@5x5 (VALID) - act - pool 2x2
        - flatten - dense 120 - act - dense 84 - act - dense num_classes

    The first convolution pads (``"SAME"``), so a 28x28 MNIST digit gives the paper's
    5x5x16 maps before the dense layers (the paper padded digits to 32x32 instead). The
    input must be at least 12x12.

    Args:
        num_classes: the number of outputs (logits).
        activation: a name from ``jnn.activations`` or a function; ``"tanh"`` is close
            to the paper's scaled tanh, ``"relu"`` is the modern choice.
        pool: ``"avg"`` (the paper's subsampling) or ``"max"``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = LeNet5()
        >>> x = jnp.ones((2, 28, 28, 1))
        >>> params, state = model.init(jax.random.key(0), x)
        >>> model.apply(params, state, x)[0].shape
        (2, 10)

    References:
        LeCun, Bottou, Bengio, Haffner, "Gradient-Based Learning Applied to Document
        Recognition", Proceedings of the IEEE, 1998.
    """

    num_classes: int = 10
    activation: str | Callable = "tanh"
    pool: str = "avg"

    def __post_init__(self):
        _checks.positive_int("LeNet5", "num_classes", self.num_classes)
        _common.activation("LeNet5", self.activation)
        if self.pool not in ("avg", "max"):
            raise ValueError(f"LeNet5: pool must be 'avg' or 'max'; got {self.pool!r}.")

    def build(self):
        act = _common.activation("LeNet5", self.activation)
        pool = AvgPool(2) if self.pool == "avg" else MaxPool(2)
        return Sequential([
            Conv(6, (5, 5), padding="SAME"), act, pool,
            Conv(16, (5, 5), padding="VALID"), act, pool,
            Flatten(), Dense(120), act, Dense(84), act, Dense(self.num_classes),
        ])


# The paper's channel counts (both GPU halves together).
ALEXNET_CHANNELS = (96, 256, 384, 384, 256)


@dataclasses.dataclass(frozen=True, repr=False)
class AlexNet(Model):
    r"""An AlexNet-style network (Krizhevsky et al. 2012), scaled down for small images.

    Five ReLU convolutions with overlapping 3x3/2 max pooling after the first, second
    and fifth, then a classifier of two hidden dense layers, each preceded by dropout:

    .. code-block:: text

        conv c1@5x5 - relu - maxpool 3/2 - conv c2@5x5 - relu - maxpool 3/2
        - conv c3@3x3 - relu - conv c4@3x3 - relu - conv c5@3x3 - relu - maxpool 3/2
        - flatten - dropout - dense hidden - relu - dropout - dense hidden - relu
        - dense num_classes

    The channels are the paper's ``(96, 256, 384, 384, 256)`` times ``width``, all
    convolutions are stride 1 with ``"SAME"`` padding (the paper's 11x11/4 first layer is
    meant for 224x224 images), so a 32x32 image reaches the classifier as 3x3 maps.
    Inputs must be at least 15x15. Dropout needs ``key`` and ``train=True`` in training.

    Args:
        num_classes: the number of outputs (logits).
        width: a multiplier on the channel counts (``0.25`` gives 24, 64, 96, 96, 64).
        hidden: the width of the two hidden dense layers (the paper: 4096).
        dropout_rate: the probability of dropping a unit in the classifier (paper: 0.5).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = AlexNet(width=0.125, hidden=64)
        >>> x = jnp.ones((2, 32, 32, 3))
        >>> params, state = model.init(jax.random.key(0), x)
        >>> model.apply(params, state, x)[0].shape
        (2, 10)

    References:
        Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional
        Neural Networks", NeurIPS 2012.
    """

    num_classes: int = 10
    width: float = 1.0
    hidden: int = 1024
    dropout_rate: float = 0.5

    def __post_init__(self):
        _checks.positive_int("AlexNet", "num_classes", self.num_classes)
        _checks.positive_int("AlexNet", "hidden", self.hidden)
        _checks.number_in_range("AlexNet", "width", self.width, 0.0, None,
                                low_inclusive=False, fix="E.g. width=0.25 for a small net.")
        _common.dropout_rate("AlexNet", self.dropout_rate)

    def channels(self) -> tuple[int, ...]:
        """The five convolutions' channel counts: the paper's times ``width``, at least 1."""
        return tuple(max(1, round(c * self.width)) for c in ALEXNET_CHANNELS)

    def build(self):
        c1, c2, c3, c4, c5 = self.channels()
        relu, pool = jax.nn.relu, MaxPool(3, strides=2)
        drop = _common.maybe_dropout(self.dropout_rate)
        return Sequential([
            Conv(c1, (5, 5)), relu, pool,
            Conv(c2, (5, 5)), relu, pool,
            Conv(c3, (3, 3)), relu, Conv(c4, (3, 3)), relu, Conv(c5, (3, 3)), relu, pool,
            Flatten(),
            *drop, Dense(self.hidden), relu,
            *drop, Dense(self.hidden), relu,
            Dense(self.num_classes),
        ])
