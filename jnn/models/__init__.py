"""A small model zoo built from jnn layers: each model is itself a layer.

``params, state = model.init(key, x)``; ``y, state = model.apply(params, state, x,
key=..., train=...)``. Models with BatchNorm update running averages in the returned
state when ``train=True``; models with dropout need a ``key`` when ``train=True``.
"""

from jnn.models._cnn import AlexNet as AlexNet
from jnn.models._cnn import LeNet5 as LeNet5
from jnn.models._common import Model as Model
from jnn.models._mlp import MLP as MLP
from jnn.models._resnet import BasicBlock as BasicBlock
from jnn.models._resnet import ResNet as ResNet
from jnn.models._resnet import ResNet18 as ResNet18
from jnn.models._resnet import ResNet20 as ResNet20
from jnn.models._vgg import VGG as VGG
from jnn.models._vgg import VGG11_STAGES as VGG11_STAGES
from jnn.models._vgg import VGG16_STAGES as VGG16_STAGES
