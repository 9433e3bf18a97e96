"""VGG: stacks of 3x3 convolutions and 2x2 max pooling."""

from __future__ import annotations

import dataclasses

import jax

from jnn import _checks
from jnn.layers import BatchNorm, Conv, Dense, Flatten, MaxPool, Sequential
from jnn.models import _common
from jnn.models._common import Model

# Simonyan & Zisserman 2015, Table 1: channels of each convolution, stage by stage.
VGG11_STAGES = ((64,), (128,), (256, 256), (512, 512), (512, 512))
VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


@dataclasses.dataclass(frozen=True, repr=False)
class VGG(Model):
    r"""A VGG network (Simonyan & Zisserman 2015); small by default, for 32x32 images.

    .. code-block:: text

        for each stage: (conv 3x3 SAME - [BN] - relu) x len(stage) - maxpool 2x2
        flatten - (dense hidden - relu - [dropout]) x len(hidden) - dense num_classes

    The default is a three-stage net with 16, 32 and 64+64 channels and one hidden
    layer of 128 units. ``VGG(VGG16_STAGES, hidden=(4096, 4096), num_classes=1000)`` is
    the paper's configuration D (VGG-16) for 224x224 images. Each stage halves the
    spatial size, so the input needs at least ``2**len(stages)`` pixels per side.

    Args:
        stages: channels per convolution, grouped by stage.
        num_classes: the number of outputs (logits).
        hidden: widths of the hidden dense layers.
        dropout_rate: dropout after each hidden dense layer (the paper: 0.5); 0 for none.
        batch_norm: BatchNorm after every convolution (as torchvision's ``vgg*_bn``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = VGG()
        >>> x = jnp.ones((2, 32, 32, 3))
        >>> params, state = model.init(jax.random.key(0), x)
        >>> model.apply(params, state, x)[0].shape
        (2, 10)

    References:
        Simonyan, Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
        Recognition", ICLR 2015. https://arxiv.org/abs/1409.1556
    """

    stages: tuple[tuple[int, ...], ...] = ((16,), (32,), (64, 64))
    num_classes: int = 10
    hidden: tuple[int, ...] = (128,)
    dropout_rate: float = 0.5
    batch_norm: bool = False

    def __post_init__(self):
        example = "VGG(stages=((16,), (32,), (64, 64)))"
        if isinstance(self.stages, (str, bytes)) or not hasattr(self.stages, "__len__") or \
                len(self.stages) == 0:
            raise TypeError(f"VGG: stages must be a non-empty sequence of stages; got "
                            f"{self.stages!r}. Example: {example}.")
        stages = tuple(_common.positive_sizes("VGG", f"stages[{i}]", stage, example)
                       for i, stage in enumerate(self.stages))
        object.__setattr__(self, "stages", stages)
        hidden = tuple(self.hidden)
        if hidden:
            hidden = _common.positive_sizes("VGG", "hidden", hidden, "VGG(hidden=(128,))")
        object.__setattr__(self, "hidden", hidden)
        _checks.positive_int("VGG", "num_classes", self.num_classes)
        _common.dropout_rate("VGG", self.dropout_rate)

    def build(self):
        layers = []
        for stage in self.stages:
            for channels in stage:
                layers += [Conv(channels, (3, 3), padding="SAME", use_bias=not self.batch_norm)]
                layers += [BatchNorm(momentum=0.9)] if self.batch_norm else []
                layers += [jax.nn.relu]
            layers.append(MaxPool(2))
        layers.append(Flatten())
        for units in self.hidden:
            layers += [Dense(units), jax.nn.relu, *_common.maybe_dropout(self.dropout_rate)]
        layers.append(Dense(self.num_classes))
        return Sequential(layers)
