"""Residual networks: BasicBlock, ResNet, CIFAR-style ResNet-20 and ImageNet-style ResNet-18."""

from __future__ import annotations

import dataclasses

import jax

from jnn import _checks
from jnn.layers import (
    BatchNorm,
    Conv,
    Dense,
    GlobalAvgPool,
    Layer,
    MaxPool,
    Residual,
    Sequential,
)
from jnn.models import _common
from jnn.models._common import Model

# He et al. 2015 (PReLU paper) initialization for ReLU networks; one shared instance so
# equal models compare and hash equal.
HE_NORMAL = jax.nn.initializers.he_normal()
BN_MOMENTUM = 0.9  # PyTorch's 0.1 in jnn's convention; Flax's ResNet example uses 0.9 too


def _conv(features: int, size: int, strides: int = 1, *, norm: bool) -> Conv:
    """A square convolution with symmetric padding ``size // 2``; bias-free when BN follows."""
    return Conv(features, (size, size), strides=strides, padding=size // 2, use_bias=not norm,
                kernel_init=HE_NORMAL)


def _norm(norm: bool) -> list[Layer]:
    return [BatchNorm(momentum=BN_MOMENTUM)] if norm else []


@dataclasses.dataclass(frozen=True, repr=False)
class BasicBlock(Layer):
    r"""The two-layer residual block of ResNet-18/34 and the CIFAR ResNets.

    .. math::
        F(x) = \mathrm{BN}(W_2 * \mathrm{relu}(\mathrm{BN}(W_1 *_s x))), \qquad
        y = \mathrm{relu}\big(F(x) + \mathrm{shortcut}(x)\big)

    :math:`W_1` is a 3x3 convolution with stride ``s``, :math:`W_2` a 3x3 convolution,
    both with padding 1 and no bias. The shortcut is the identity when the shapes agree;
    when the block downsamples (``strides > 1``) or changes the number of channels it is
    the projection :math:`W_s`, a 1x1 convolution with stride ``s`` followed by BatchNorm
    (option B of the paper), decided at ``init`` from the input's channels.

    Params and state are those of ``Sequential([Residual(body, shortcut), relu])``.

    Args:
        features: the output channels.
        strides: 1, or 2 to halve the spatial size.
        norm: use BatchNorm (``False`` gives a normalization-free block, whose loss
            does not depend on the rest of the batch; convolutions then have biases).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> block = BasicBlock(32, strides=2)
        >>> x = jnp.ones((2, 16, 16, 16))
        >>> params, state = block.init(jax.random.key(0), x)
        >>> block.apply(params, state, x, train=True)[0].shape
        (2, 8, 8, 32)

    References:
        He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", 2015.
        https://arxiv.org/abs/1512.03385
    """

    features: int
    strides: int = 1
    norm: bool = True

    def __post_init__(self):
        _checks.positive_int("BasicBlock", "features", self.features)
        _checks.positive_int("BasicBlock", "strides", self.strides)

    def network(self, in_channels: int) -> Layer:
        """The block for inputs with ``in_channels`` channels."""
        f, s, norm = self.features, self.strides, self.norm
        body = Sequential([
            _conv(f, 3, s, norm=norm), *_norm(norm), jax.nn.relu,
            _conv(f, 3, norm=norm), *_norm(norm),
        ])
        shortcut = None
        if s != 1 or in_channels != f:
            shortcut = Sequential([_conv(f, 1, s, norm=norm), *_norm(norm)])
        return Sequential([Residual(body, shortcut), jax.nn.relu])

    def _network_for(self, where: str, x) -> Layer:
        if x.ndim != 4:
            raise ValueError(
                f"{where}: x must be an NHWC image batch (batch, height, width, channels); "
                f"got shape {tuple(x.shape)}."
            )
        return self.network(x.shape[-1])

    def init(self, key, x):
        return self._network_for("BasicBlock.init", x).init(key, x)

    def apply(self, params, state, x, *, key=None, train=False):
        net = self._network_for("BasicBlock.apply", x)
        return net.apply(params, state, x, key=key, train=train)


@dataclasses.dataclass(frozen=True, repr=False)
class ResNet(Model):
    r"""A residual network of :class:`BasicBlock` stages (He et al. 2015).

    .. code-block:: text

        stem - stage 1 - stage 2 - ... - global average pool - dense num_classes

    Stage ``i`` has ``stage_sizes[i]`` blocks with ``width * 2**i`` channels; its first
    block halves the spatial size (except in stage 1) through a projection shortcut.
    The stem is ``"cifar"`` (3x3 convolution, BN, ReLU: for 32x32 images) or
    ``"imagenet"`` (7x7/2 convolution, BN, ReLU, 3x3/2 max pool: for 224x224 images).

    Train with ``train=True`` (batch statistics; the returned state holds the updated
    running averages) and evaluate with ``train=False``.

    Args:
        stage_sizes: blocks per stage, e.g. ``(3, 3, 3)`` for ResNet-20.
        num_classes: the number of outputs (logits).
        width: channels of the first stage (16 for the CIFAR nets, 64 for ImageNet).
        stem: ``"cifar"`` or ``"imagenet"``.
        norm: use BatchNorm (see :class:`BasicBlock`).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = ResNet20(width=4)
        >>> x = jnp.ones((2, 32, 32, 3))
        >>> params, state = model.init(jax.random.key(0), x)
        >>> logits, state = model.apply(params, state, x, train=True)
        >>> logits.shape
        (2, 10)

    References:
        He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", 2015.
        https://arxiv.org/abs/1512.03385
    """

    stage_sizes: tuple[int, ...]
    num_classes: int = 10
    width: int = 16
    stem: str = "cifar"
    norm: bool = True

    def __post_init__(self):
        sizes = _common.positive_sizes("ResNet", "stage_sizes", self.stage_sizes,
                                       "ResNet((3, 3, 3))")
        object.__setattr__(self, "stage_sizes", sizes)
        _checks.positive_int("ResNet", "num_classes", self.num_classes)
        _checks.positive_int("ResNet", "width", self.width)
        if self.stem not in ("cifar", "imagenet"):
            raise ValueError(f"ResNet: stem must be 'cifar' or 'imagenet'; got {self.stem!r}.")

    def build(self):
        w = self.width
        if self.stem == "cifar":
            stem = [_conv(w, 3, norm=self.norm), *_norm(self.norm), jax.nn.relu]
        else:
            stem = [_conv(w, 7, 2, norm=self.norm), *_norm(self.norm), jax.nn.relu,
                    MaxPool(3, strides=2, padding=1)]
        blocks = [
            BasicBlock(w * 2**i, strides=2 if i > 0 and j == 0 else 1, norm=self.norm)
            for i, n in enumerate(self.stage_sizes) for j in range(n)
        ]
        return Sequential([*stem, *blocks, GlobalAvgPool(), Dense(self.num_classes)])


def ResNet20(num_classes: int = 10, width: int = 16, norm: bool = True) -> ResNet:  # noqa: N802
    """The CIFAR-10 ResNet-20 of He et al. (3 stages of 3 blocks, 16/32/64 channels).

    About 0.27 million params with ``width=16``. Its downsampling shortcuts are 1x1
    projections (option B), not the paper's zero-padding (option A).

    Example:
        >>> ResNet20()
        ResNet((3, 3, 3))
    """
    return ResNet((3, 3, 3), num_classes=num_classes, width=width, stem="cifar", norm=norm)


def ResNet18(num_classes: int = 1000, width: int = 64, norm: bool = True) -> ResNet:  # noqa: N802
    """The ImageNet ResNet-18 of He et al. (4 stages of 2 blocks, 64 to 512 channels).

    About 11.7 million params with ``width=64`` and 1000 classes.

    Example:
        >>> ResNet18(num_classes=10, width=8)
        ResNet((2, 2, 2, 2), width=8, stem='imagenet')
    """
    return ResNet((2, 2, 2, 2), num_classes=num_classes, width=width, stem="imagenet", norm=norm)
