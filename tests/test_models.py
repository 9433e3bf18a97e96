"""The model zoo: each model builds, runs forward, trains a few steps; known sizes; references."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn.layers import Dense, Dropout, Sequential
from jnn.models import (
    MLP,
    VGG,
    VGG16_STAGES,
    AlexNet,
    BasicBlock,
    LeNet5,
    ResNet,
    ResNet18,
    ResNet20,
)

RNG = np.random.default_rng(0)


def n_params(model, shape):
    """Parameter count from shapes alone (jax.eval_shape: nothing is computed)."""
    params, _ = jax.eval_shape(model.init, jax.random.key(0), jax.ShapeDtypeStruct(shape,
                                                                                   jnp.float32))
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))


# These tests check correctness, not speed: skipping XLA's backend optimizations cuts the
# compile time of a ResNet training step about threefold on CPU.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def quick_jit(f=None, **kwargs):
    if f is None:
        return lambda g: quick_jit(g, **kwargs)
    return jax.jit(f, compiler_options=FAST_COMPILE, **kwargs)


def fill(tree):
    """Init-shaped params from numpy (LeCun-scaled kernels, unit BN scales, zero biases).

    Real inits compile a random-number program per kernel shape; the zoo's init code is
    still run (traced) by jax.eval_shape, and the layers' own tests check the real inits.
    """
    def leaf(path, s):
        name = path[-1].key if hasattr(path[-1], "key") else ""
        if name in ("scale", "var"):
            return jnp.ones(s.shape, s.dtype)
        if name in ("bias", "mean"):
            return jnp.zeros(s.shape, s.dtype)
        fan_in = math.prod(s.shape[:-1])
        return jnp.asarray(RNG.normal(size=s.shape) / math.sqrt(fan_in), s.dtype)
    return jax.tree_util.tree_map_with_path(leaf, tree)


def train(model, x, labels, steps, learning_rate):
    """Adam on one fixed batch and one fixed dropout key: the training-mode losses.

    Each step also returns the evaluation-mode logits (running averages, no dropout).
    """
    params, state = fill(jax.eval_shape(model.init, jax.random.key(0), x))
    optimizer = optax.adam(learning_rate)

    def loss_fn(p, s):
        logits, new_state = model.apply(p, s, x, key=jax.random.key(1), train=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, new_state

    @quick_jit
    def step(p, s, o):
        (loss, new_s), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, s)
        updates, o = optimizer.update(grads, o, p)
        eval_logits, _ = model.apply(p, s, x)  # evaluation mode needs no key
        return optax.apply_updates(p, updates), new_s, o, loss, eval_logits

    opt_state, losses = optimizer.init(params), []
    for _ in range(steps):
        params, state, opt_state, loss, eval_logits = step(params, state, opt_state)
        losses.append(float(loss))
    return losses, eval_logits


ZOO = {
    "mlp": (MLP((32, 32, 3), activation="tanh", dropout_rate=0.1), (16, 5), 0.01),
    "lenet5": (LeNet5(num_classes=3), (8, 16, 16, 1), 0.01),
    "alexnet": (AlexNet(num_classes=3, width=1 / 16, hidden=32), (8, 16, 16, 3), 0.003),
    "resnet20": (ResNet20(num_classes=3, width=4), (8, 8, 8, 3), 0.01),
    "resnet18": (ResNet18(num_classes=3, width=4), (8, 32, 32, 3), 0.01),
    "vgg": (VGG(stages=((4,), (8, 8)), hidden=(16,), num_classes=3, batch_norm=True),
            (8, 8, 8, 3), 0.01),
}


@pytest.mark.parametrize("name", list(ZOO))
def test_model_builds_runs_forward_and_trains(name):
    model, shape, learning_rate = ZOO[name]
    x = jnp.asarray(RNG.normal(size=shape).astype(np.float32))
    labels = jnp.asarray(RNG.integers(0, 3, size=shape[0]))
    losses, eval_logits = train(model, x, labels, steps=6, learning_rate=learning_rate)
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.9 * losses[0], losses
    assert eval_logits.shape == (shape[0], 3) and bool(jnp.all(jnp.isfinite(eval_logits)))
    assert model.output_shape(x).shape == (shape[0], 3)


def test_real_init_of_a_zoo_model():
    model = LeNet5(num_classes=3)
    x = jnp.ones((2, 16, 16, 1))
    params, state = quick_jit(model.init)(jax.random.key(0), x)
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, (params, state)) == jax.tree.map(lambda s: s.shape, shapes)
    assert model.apply(params, state, x)[0].shape == (2, 3)


# ------------------------------------------------------------ known sizes


def test_parameter_counts_match_the_reference_architectures():
    # torchvision.models.resnet18(): 11,689,512 params; vgg16(): 138,357,544.
    assert n_params(ResNet18(), (1, 224, 224, 3)) == 11_689_512
    assert n_params(VGG(VGG16_STAGES, hidden=(4096, 4096), num_classes=1000,
                        dropout_rate=0.5), (1, 224, 224, 3)) == 138_357_544
    # ResNet-20 with option-A shortcuts has 269,722 params (He et al.: "0.27M"); the two
    # projection shortcuts (1x1 conv + BN) add 16*32 + 2*32 + 32*64 + 2*64 = 2,752.
    assert n_params(ResNet20(), (1, 32, 32, 3)) == 269_722 + 2_752
    # LeNet-5: 156 + 2,416 + 48,120 + 10,164 + 850.
    assert n_params(LeNet5(), (1, 28, 28, 1)) == 61_706
    # MLP 2-16-16-3: (2+1)16 + (16+1)16 + (16+1)3.
    assert n_params(MLP((16, 16, 3)), (1, 2)) == 48 + 272 + 51


def test_alexnet_shape_arithmetic():
    model = AlexNet(width=0.25, hidden=64, dropout_rate=0.5)
    assert model.channels() == (24, 64, 96, 96, 64)
    # 32 -> pool 15 -> pool 7 -> pool 3 (overlapping 3x3/2 windows): 3*3*64 features.
    convs = 3 * 25 * 24 + 24 + 24 * 25 * 64 + 64 + 64 * 9 * 96 + 96 + 96 * 9 * 96 + 96 \
        + 96 * 9 * 64 + 64
    dense = (3 * 3 * 64 + 1) * 64 + 65 * 64 + 65 * 10
    assert n_params(model, (1, 32, 32, 3)) == convs + dense
    n_dropout = sum(isinstance(layer, Dropout) for layer in model.network.layers)
    assert n_dropout == 2


# ------------------------------------------------------------ references


def test_mlp_equals_hand_written_forward():
    model = MLP((8, 8, 2), activation="tanh", final_activation=jax.nn.sigmoid)
    x = jnp.asarray(RNG.normal(size=(4, 3)).astype(np.float32))
    params, state = fill(jax.eval_shape(model.init, jax.random.key(0), x))
    h = jnp.tanh(x @ params[0]["kernel"] + params[0]["bias"][None])
    h = jnp.tanh(h @ params[2]["kernel"] + params[2]["bias"][None])
    expected = jax.nn.sigmoid(h @ params[4]["kernel"] + params[4]["bias"][None])
    np.testing.assert_allclose(model.apply(params, state, x)[0], expected, rtol=1e-6, atol=1e-6)
    relu = jnn.activations.relu
    assert MLP((8, 2), activation="relu").network == Sequential([Dense(8), relu, Dense(2)])
    assert MLP((8, 2), activation="relu") == MLP([8, 2])
    assert hash(ResNet20()) == hash(ResNet20()) and ResNet20() != ResNet20(width=8)


class FlaxBasicBlock(nn.Module):
    """The standard ResNet basic block (torchvision / Flax examples), written in Flax."""

    features: int
    strides: int

    @nn.compact
    def __call__(self, x, train):
        norm = lambda name: nn.BatchNorm(use_running_average=not train, momentum=0.9,
                                         epsilon=1e-5, name=name)
        s = (self.strides, self.strides)
        y = nn.Conv(self.features, (3, 3), s, padding=1, use_bias=False, name="conv1")(x)
        y = nn.relu(norm("bn1")(y))
        y = nn.Conv(self.features, (3, 3), padding=1, use_bias=False, name="conv2")(y)
        y = norm("bn2")(y)
        shortcut = x
        if x.shape != y.shape:
            shortcut = nn.Conv(self.features, (1, 1), s, padding=0, use_bias=False,
                               name="proj")(x)
            shortcut = norm("proj_bn")(shortcut)
        return nn.relu(y + shortcut)


@pytest.mark.parametrize("in_channels,features,strides", [(8, 8, 1), (4, 8, 2)])
def test_basic_block_equals_flax_linen(in_channels, features, strides):
    x = jnp.asarray(RNG.normal(size=(4, 8, 8, in_channels)).astype(np.float32))
    block = BasicBlock(features, strides)
    params, state = jax.eval_shape(block.init, jax.random.key(0), x)
    # Random BN affine params and running stats, so the mapping is really exercised.
    random = lambda a: jnp.asarray(  # kernels: LeCun scale; BN scale and bias: around 1
        RNG.normal(size=a.shape) / math.sqrt(math.prod(a.shape[:-1])) if a.ndim > 1
        else RNG.uniform(0.5, 1.5, a.shape), a.dtype)
    params = jax.tree.map(random, params)
    state = jax.tree.map(lambda a: jnp.asarray(RNG.uniform(0.5, 1.5, a.shape), a.dtype), state)
    body, short = params[0]["block"], params[0]["shortcut"]
    flax_params = {"conv1": body[0], "bn1": body[1], "conv2": body[3], "bn2": body[4]}
    flax_stats = {"bn1": state[0]["block"][1], "bn2": state[0]["block"][4]}
    if strides != 1 or in_channels != features:
        flax_params |= {"proj": short[0], "proj_bn": short[1]}
        flax_stats |= {"proj_bn": state[0]["shortcut"][1]}
    else:
        assert short == {}  # identity shortcut
    variables = {"params": flax_params, "batch_stats": flax_stats}
    flax_block = FlaxBasicBlock(features, strides)

    @quick_jit(static_argnums=0)
    def both(train_mode):
        ours = block.apply(params, state, x, train=train_mode)
        theirs = flax_block.apply(variables, x, train=train_mode, mutable=["batch_stats"])
        return ours, theirs

    for train_mode in (False, True):
        (ours, new_state), (theirs, updates) = both(train_mode)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
        if train_mode:
            np.testing.assert_allclose(new_state[0]["block"][1]["mean"],
                                       updates["batch_stats"]["bn1"]["mean"], rtol=1e-5)
            np.testing.assert_allclose(new_state[0]["block"][4]["var"],
                                       updates["batch_stats"]["bn2"]["var"], rtol=1e-5)


def test_resnet_downsampling_and_batchnorm_state():
    model = ResNet((1, 1, 1), num_classes=4, width=4)
    x = jnp.asarray(RNG.normal(size=(2, 8, 8, 3)).astype(np.float32))
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)[0]
    blocks = [p for p, layer in zip(shapes, model.network.layers) if isinstance(layer, BasicBlock)]
    # Stage 1 keeps 4 channels (identity); stages 2 and 3 downsample with a projection.
    assert blocks[0][0]["shortcut"] == {}
    assert blocks[1][0]["shortcut"][0]["kernel"].shape == (1, 1, 4, 8)
    assert blocks[2][0]["shortcut"][0]["kernel"].shape == (1, 1, 8, 16)
    params, state = fill(jax.eval_shape(model.init, jax.random.key(0), x))
    state = jax.tree.map(lambda a: a + 0.5, state)
    run = quick_jit(lambda p, s: (model.apply(p, s, x, train=True)[1],
                                  model.apply(p, s, x, train=False)[1]))
    train_state, eval_state = run(params, state)
    changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), train_state, state)
    assert all(jax.tree.leaves(changed))  # every running average moved
    unchanged = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), eval_state, state)
    assert all(jax.tree.leaves(unchanged))
    no_norm = ResNet((1, 1), num_classes=2, width=2, norm=False)
    params, state = jax.eval_shape(no_norm.init, jax.random.key(0), x)
    assert jax.tree.leaves(state) == []


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize("make,error,match", [
    (lambda: MLP(()), TypeError, r"MLP: sizes must be a non-empty sequence of positive ints"),
    (lambda: MLP((8, 0)), ValueError, r"MLP: sizes\[1\] must be a positive integer; got 0"),
    (lambda: MLP((8,), activation="relux"), ValueError,
     r"MLP: activations.get: unknown activation 'relux'"),
    (lambda: MLP((8,), dropout_rate=1.0), ValueError, r"MLP: dropout_rate must be in \[0.0, 1.0\)"),
    (lambda: LeNet5(pool="min"), ValueError, r"LeNet5: pool must be 'avg' or 'max'"),
    (lambda: AlexNet(width=0), ValueError, r"AlexNet: width must be in \(0.0, inf\)"),
    (lambda: ResNet((3, -1)), ValueError, r"ResNet: stage_sizes\[1\] must be a positive integer"),
    (lambda: ResNet((2,), stem="tiny"), ValueError, r"ResNet: stem must be 'cifar' or 'imagenet'"),
    (lambda: BasicBlock(0), ValueError, r"BasicBlock: features must be a positive integer"),
    (lambda: VGG(stages=()), TypeError, r"VGG: stages must be a non-empty sequence"),
    (lambda: VGG(stages=((8,), (0,))), ValueError, r"VGG: stages\[1\]\[0\] must be a positive"),
])
def test_bad_hyperparameters(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"BasicBlock.init: x must be an NHWC image batch"):
        BasicBlock(4).init(jax.random.key(0), jnp.ones((8, 8, 3)))
    with pytest.raises(ValueError, match=r"MaxPool.init: on spatial axis 0 the pooling window"):
        jax.eval_shape(AlexNet().init, jax.random.key(0), jnp.ones((1, 8, 8, 3)))
    model = MLP((4, 2), dropout_rate=0.5)
    params, state = model.init(jax.random.key(0), jnp.ones((3, 2)))
    with pytest.raises(ValueError, match=r"Dropout.apply: this layer is random in training and "
                                         r"needs a key"):
        model.apply(params, state, jnp.ones((3, 2)), train=True)
