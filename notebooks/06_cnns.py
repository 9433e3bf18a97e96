# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6 · Convolutional networks
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/jnn/blob/main/notebooks/06_cnns.ipynb)
#
# A convolution computed by hand and by `jnn.layers.Conv`; Sobel edge filters on an
# image; output sizes under padding and stride; pooling; LeNet-5 on the handwritten
# digits; and residual blocks, with the gradient norms that show why skip connections
# make deep networks trainable.

# %%
import subprocess
import sys

if "google.colab" in sys.modules:  # on Colab: install jnn (elsewhere: pip install -e . in the repo)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "jnn @ git+https://github.com/OWNER/jnn"], check=True)

import jax

print(f"JAX {jax.__version__} on {jax.default_backend()}: {jax.devices()}")

# %%
# %matplotlib inline
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jnn
from jnn import viz
from jnn.layers import (
    AvgPool,
    Conv,
    Dense,
    FixedConv,
    MaxPool,
    Residual,
    Sequential,
    conv_output_size,
    sobel_kernel,
)
from jnn.models import MLP, BasicBlock, LeNet5

FULL = False  # True: longer training and deeper networks
key = jax.random.key(0)

# %% [markdown]
# ## 6.1 A convolution by hand
#
# A convolution layer slides a small kernel $K$ over the image and takes a weighted sum at
# every position. Deep-learning frameworks compute the *cross-correlation* (the kernel is
# not flipped):
#
# $$y_{i,j} = b + \sum_{a=0}^{k-1}\sum_{c=0}^{k-1} x_{i+a,\,j+c}\,K_{a,c}.$$
#
# Images are NHWC in jnn, and a `Conv` kernel is `(kh, kw, in_channels, out_channels)`.

# %%
x = jnp.arange(25.0).reshape(5, 5) % 7  # a small 5x5 "image"
K = jnp.array([[1.0, 0.0, -1.0],
               [2.0, 0.0, -2.0],
               [1.0, 0.0, -1.0]])

by_hand = np.zeros((3, 3))
for i in range(3):
    for j in range(3):
        by_hand[i, j] = float(jnp.sum(x[i:i + 3, j:j + 3] * K))

conv = Conv(1, (3, 3), padding="VALID")
params, state = conv.init(key, x[None, :, :, None])
params = {"kernel": K[:, :, None, None], "bias": jnp.zeros(1)}
y, _ = conv.apply(params, state, x[None, :, :, None])
print("input:\n", x, "\nby hand:\n", by_hand, "\njnn Conv:\n", y[0, :, :, 0])
np.testing.assert_allclose(y[0, :, :, 0], by_hand)

# %% [markdown]
# The same kernel is used at every position (*parameter sharing*: 9 weights however large
# the image), and shifting the input shifts the output (*translation equivariance*):
# $\mathrm{conv}(\mathrm{shift}(x)) = \mathrm{shift}(\mathrm{conv}(x))$ away from the border.

# %%
image = jax.random.normal(key, (1, 12, 12, 1))
shifted = jnp.roll(image, 2, axis=2)
a = conv.apply(params, state, shifted)[0]
b = jnp.roll(conv.apply(params, state, image)[0], 2, axis=2)
print("equivariant away from the wrapped border:",
      bool(jnp.allclose(a[:, :, 2:], b[:, :, 2:], atol=1e-5)))

# %% [markdown]
# ## 6.2 Sobel filters find edges
#
# The Sobel kernels combine smoothing across and differencing along one direction:
# $S_x = (1, 2, 1)^\top (-1, 0, 1)$ responds to vertical edges, $S_y = S_x^\top$ to
# horizontal ones, and $G = \sqrt{G_x^2 + G_y^2}$ is the edge strength. `FixedConv` is a
# convolution with a given kernel and no parameters. First the course's kind of toy
# example, a 10×10 image with a bright right half:

# %%
toy = jnp.zeros((1, 10, 10, 1)).at[:, :, 5:].set(10.0)
sobel_x = FixedConv(sobel_kernel("x")[:, :, None, None], padding="VALID")
print("G_x of a vertical edge (8x8 output):\n", sobel_x.apply({}, {}, toy)[0][0][..., 0])

# %% [markdown]
# Now a synthetic picture with a rectangle, a disk and a triangle:

# %%
n = 96
rows, cols = np.mgrid[0:n, 0:n]
picture = np.zeros((n, n))
picture[15:45, 10:50] = 1.0                                      # rectangle
picture[(rows - 65) ** 2 + (cols - 30) ** 2 < 18**2] = 0.6      # disk
picture[(rows > 20) & (rows < 80) & (np.abs(cols - 72) < (rows - 20) / 3)] = 0.8  # triangle
picture = jnp.asarray(picture + 0.03 * np.random.default_rng(0).normal(size=(n, n)),
                      jnp.float32)[None, :, :, None]

both = jnp.stack([sobel_kernel("x"), sobel_kernel("y")], axis=-1)[:, :, None, :]
edges = FixedConv(both, padding="SAME")
g, _ = edges.apply({}, {}, picture)
magnitude = jnp.sqrt(g[..., :1] ** 2 + g[..., 1:] ** 2)

fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
for ax, img, title in zip(axes, [picture[0, ..., 0], g[0, ..., 0], g[0, ..., 1],
                                 magnitude[0, ..., 0]],
                          ["image", "G_x (vertical edges)", "G_y (horizontal edges)",
                           "G = sqrt(G_x^2 + G_y^2)"]):
    ax.imshow(img, cmap="gray" if title in ("image", "G = sqrt(G_x^2 + G_y^2)") else "RdBu_r")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
fig = viz.plot_filters(both, titles=True)

# %% [markdown]
# ## 6.3 Padding and stride
#
# Along each axis a convolution or pooling window of size $k$ with stride $s$ and $p$
# zeros of padding on each side gives
#
# $$o = \left\lfloor \frac{i + 2p - k}{s} \right\rfloor + 1.$$
#
# "valid" is $p = 0$ ($o = i - k + 1$ for stride 1); "same" pads so that
# $o = \lceil i/s \rceil$. `jnn.layers.conv_output_size` computes it, and `Conv` produces
# exactly that size:

# %%
print(" i  k  s  p  | o (formula)  o (Conv)")
for i, k, s, p in [(7, 3, 1, 0), (7, 3, 1, 1), (7, 3, 2, 0), (7, 3, 2, 1), (32, 5, 1, 0),
                   (28, 5, 1, 2), (224, 11, 4, 2), (8, 3, 2, "SAME")]:
    o = conv_output_size(i, k, s, p)
    layer = Conv(1, k, strides=s, padding=p)
    shape = layer.output_shape(jax.ShapeDtypeStruct((1, i, i, 1), jnp.float32)).shape
    print(f"{i:3d} {k:2d} {s:2d} {p!s:>4} | {o:6d} {shape[1]:11d}")
    assert shape[1] == o

# %% [markdown]
# ## 6.4 Pooling
#
# Max pooling keeps the largest value in each window (2×2 windows with stride 2 halve the
# height and width); average pooling takes the mean. Pooling shrinks the maps and makes
# the features insensitive to small shifts.

# %%
block = jnp.array([[1.0, 3.0, 2.0, 1.0],
                   [4.0, 2.0, 0.0, 1.0],
                   [5.0, 1.0, 7.0, 2.0],
                   [0.0, 6.0, 3.0, 8.0]])[None, :, :, None]
print("input:\n", block[0, ..., 0])
print("max pool 2x2 / 2:\n", MaxPool(2).apply({}, {}, block)[0][0, ..., 0])
print("average pool 2x2 / 2:\n", AvgPool(2).apply({}, {}, block)[0][0, ..., 0])

# A feature map shifted by one pixel: max-pooled outputs change much less than the maps.
features = jax.nn.relu(g)
moved = jax.nn.relu(edges.apply({}, {}, jnp.roll(picture, 1, axis=2))[0])
pooled = lambda m: MaxPool(4).apply({}, {}, m)[0]
change = lambda a, b: float(jnp.linalg.norm(a - b) / jnp.linalg.norm(a))
print(f"relative change after a 1-pixel shift: feature maps {change(features, moved):.2f}, "
      f"after 4x4 max pooling {change(pooled(features), pooled(moved)):.2f}")

# %% [markdown]
# ## 6.5 LeNet-5 on the handwritten digits
#
# LeNet-5 (LeCun et al. 1998) alternates convolutions and subsampling before three dense
# layers. It expects images of at least 12×12; the UCI digits are 8×8, so we pad them
# with a 2-pixel border of zeros. An MLP of similar size is the baseline.

# %%
x_dg, y_dg = jnn.data.load_digits(flatten=False)
x_dg = jnp.pad(x_dg, ((0, 0), (2, 2), (2, 2), (0, 0)))  # 8x8 -> 12x12
train, val, test = jnn.data.train_val_test_split(jax.random.key(1), x_dg, y_dg,
                                                 val_fraction=0.15, test_fraction=0.2,
                                                 stratify=True)
lenet = LeNet5(activation="tanh", pool="max")
print(jnn.summary(lenet.network, train[0][:1]))

epochs = 30 if FULL else 10
p_le, s_le = lenet.init(jax.random.key(2), train[0][:1])
p_le, s_le, _, hist_le = jnn.train.fit(
    lenet, p_le, s_le, optax.adam(5e-3), jnn.losses.softmax_cross_entropy, train,
    val_data=val, epochs=epochs, batch_size=32, key=jax.random.key(3), metrics=["accuracy"],
    verbose=0)

mlp = Sequential([jnn.layers.Flatten(), MLP((96, 64, 10))])
p_mlp, s_mlp = mlp.init(jax.random.key(4), train[0][:1])
p_mlp, s_mlp, _, hist_mlp = jnn.train.fit(
    mlp, p_mlp, s_mlp, optax.adam(5e-3), jnn.losses.softmax_cross_entropy, train,
    val_data=val, epochs=epochs, batch_size=32, key=jax.random.key(3), metrics=["accuracy"],
    verbose=0)

for name, model, p, s in [("LeNet-5", lenet, p_le, s_le), ("MLP", mlp, p_mlp, s_mlp)]:
    size = sum(a.size for a in jax.tree.leaves(p))
    acc = jnn.train.evaluate(model, p, s, jnn.losses.softmax_cross_entropy, test,
                             metrics=["accuracy"])["accuracy"]
    print(f"{name:8s} {size:6d} parameters, test accuracy {acc:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
viz.plot_curves({"LeNet-5": hist_le["val_accuracy"], "MLP": hist_mlp["val_accuracy"]},
                ax=axes[0], xlabel="epoch", ylabel="validation accuracy", log=False)
viz.plot_confusion_matrix(test[1], jnn.train.predict(lenet, p_le, s_le, test[0]), ax=axes[1])
fig.tight_layout()

# %% [markdown]
# What did the first layer learn? Its six 5×5 filters, and their feature maps (after the
# tanh) for one digit:

# %%
fig = viz.plot_filters(p_le[0], titles=True)
first_stage = lenet.network[:2]  # Conv + tanh
maps, _ = first_stage.apply(p_le[:2], s_le[:2], test[0][:1])
fig = viz.plot_feature_maps(maps)
fig.suptitle(f"feature maps of a '{int(test[1][0])}'", y=1.05)

predictions = jnn.train.predict(lenet, p_le, s_le, test[0]).argmax(-1)
wrong = np.flatnonzero(np.asarray(predictions != test[1]))[:8]
if wrong.size:
    fig = viz.plot_images(test[0][wrong], test[1][wrong], predictions[wrong])
    fig.suptitle("misclassified test digits: prediction (label)", y=1.12)

# %% [markdown]
# ## 6.6 Residual blocks: why skip connections help
#
# A residual block learns the *residual* $F(x) = H(x) - x$ and outputs $F(x) + x$
# (He et al. 2015). When the shapes differ, the shortcut becomes a projection
# $W_s x$ (a 1×1 convolution). `jnn.models.BasicBlock` is ResNet's two-convolution block:

# %%
block = BasicBlock(32, strides=2)
x_img = jnp.ones((2, 16, 16, 16))
bp, bs = block.init(key, x_img)
y_img, _ = block.apply(bp, bs, x_img, train=True)
print(f"BasicBlock(32, strides=2): {x_img.shape} -> {y_img.shape}; the shortcut is a "
      f"1x1 projection: {jax.tree.map(jnp.shape, bp[0]['shortcut'])}")

# %% [markdown]
# Why skip connections help: the gradient reaching layer $l$ is the product of the
# Jacobians of all later layers. In a plain deep network this product shrinks (or grows)
# geometrically with depth; a residual block's Jacobian is $I + \partial F/\partial x$,
# so the identity path carries the gradient to the early layers undiminished. Compare the
# gradient norms per block of a deep MLP whose blocks are
# `Dense → sigmoid → Dense`, plain and with skip connections, at initialization, on a batch
# of digits (sigmoid makes the effect stark: $\sigma' \le 1/4$ at every block):

# %%
depth, width = (40, 64) if FULL else (20, 64)
x_flat = train[0][:256].reshape(256, -1)


def deep_net(residual):
    blocks = []
    for _ in range(depth):
        body = Sequential([Dense(width), jax.nn.sigmoid, Dense(width)])
        blocks.append(Residual(body) if residual else body)
    return Sequential([Dense(width), *blocks, Dense(10)])


grad_norms, nets = {}, {}
for name, residual in [("plain", False), ("residual", True)]:
    net = deep_net(residual)
    p, s = net.init(jax.random.key(5), x_flat)
    grads = jax.grad(lambda p: jnn.losses.softmax_cross_entropy(
        net.apply(p, s, x_flat)[0], train[1][:256]))(p)
    # One norm per block: the blocks are entries 1 .. depth of the Sequential.
    grad_norms[f"{depth} {name} blocks"] = [
        float(jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads[i]))))
        for i in range(1, depth + 1)]
    nets[name] = (net, p, s)
fig = viz.plot_curves(grad_norms, xlabel="block (0 = nearest the input)",
                      ylabel="gradient norm of the block's weights",
                      title="gradients at initialization")

# %% [markdown]
# And training both for a few epochs: the plain network barely moves while the residual
# one learns (the *degradation problem* of deep plain networks is an optimization
# problem, not overfitting). Notebook 4 looks at the same contrast as loss landscapes:
# filter-normalized slices of a deep network with and without skip connections.

# %%
histories = {}
for name, (net, p, s) in nets.items():
    _, _, _, hist = jnn.train.fit(net, p, s, optax.adam(1e-3),
                                  jnn.losses.softmax_cross_entropy,
                                  (train[0].reshape(len(train[0]), -1), train[1]),
                                  epochs=8 if FULL else 4, batch_size=64,
                                  key=jax.random.key(6), metrics=["accuracy"], verbose=0)
    histories[name] = hist["loss"]
    print(f"{name:8s} training accuracy after {hist.epochs} epochs: {hist['accuracy'][-1]:.3f}")
fig = viz.plot_curves(histories, xlabel="epoch", ylabel="training loss",
                      title=f"{depth} blocks deep: plain vs residual")

# %% [markdown]
# **Takeaways.** Convolutions share a small kernel across positions, so they need few
# parameters and respond to a pattern wherever it appears; pooling adds some invariance
# to small shifts; and skip connections keep gradients alive through many layers.
