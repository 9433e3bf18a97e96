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
# # 4 · Loss landscapes
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/jnn/blob/main/notebooks/04_loss_landscapes.ipynb)
#
# A network has thousands of parameters, so its loss $L(\theta)$ lives in thousands of
# dimensions; we can only look at low-dimensional slices of it. This notebook follows Li,
# Xu, Taylor, Studer and Goldstein, *Visualizing the Loss Landscape of Neural Nets*
# (NeurIPS 2018): filter-normalized 1-D and 2-D slices around a trained network, a deep
# network with and without skip connections side by side (the course's ResNet-56 figure),
# sharp and flat minima from small and large batches (in numbers and in pictures), the
# straight path between two solutions and from initialization to a solution, and the
# training trajectory on the plane of its principal components.
#
# Every slice is one compiled XLA program (`jnn.landscape.line`, `plane`, `interpolate`):
# all grid points run in memory-bounded chunks inside one call, never a Python loop per
# point. The CPU defaults use small networks and coarse 21×21 grids; `FULL = True` (in the
# second cell) trains longer and draws 51×51 grids (a TPU or GPU makes it quick).

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
from jax.flatten_util import ravel_pytree

import jnn
from jnn import landscape as ls
from jnn import viz
from jnn.layers import BatchNorm, Dense, Residual, Sequential
from jnn.models import MLP

FULL = False  # True: longer training and 51x51 grids (about 1.5 min on a laptop CPU)
GRID = 51 if FULL else 21  # points per axis of the 2-D slices
key = jax.random.key(0)

x, y = jnn.data.load_digits()  # 1,797 8x8 digits, flattened to 64 features in [0, 1]
train, test = jnn.data.train_test_split(jax.random.key(1), x, y, test_fraction=0.3,
                                        stratify=True)
print("train", train[0].shape, "test", test[0].shape)
cross_entropy = jnn.losses.softmax_cross_entropy
# One optimizer object per setting, reused: fit compiles once per (model, optimizer, batch size).
adam, sgd = optax.adam(1e-3), optax.sgd(0.1)


def train_model(model, optimizer, *, epochs, batch_size, seed=2, callbacks=()):
    """Initialize and train ``model`` on the digits; returns (params, state, history)."""
    params, state = model.init(jax.random.key(seed), train[0])
    params, state, _, history = jnn.train.fit(
        model, params, state, optimizer, cross_entropy, train, epochs=epochs,
        batch_size=batch_size, key=jax.random.key(seed + 1), metrics=["accuracy"],
        callbacks=callbacks, verbose=0)
    return params, state, history


# %% [markdown]
# ## 4.1 Slices, and why directions must be filter-normalized
#
# The simplest picture is a 1-D slice: pick a direction $d$ in parameter space and plot
# $f(\alpha) = L(\theta^* + \alpha d)$ around the trained parameters $\theta^*$. For a 2-D
# slice, pick two directions and plot $f(\alpha, \beta) = L(\theta^* + \alpha d_1 + \beta
# d_2)$ as contours or a surface.
#
# Which directions? Random Gaussian ones, but with a catch: a ReLU network is *scale
# invariant*. Multiplying the weights of one layer by 10 and dividing the next by 10
# computes the same function, yet a random step of fixed size is a tiny change to the big
# weights and a huge one to the small weights, so the same minimum can be made to look
# sharp or flat at will (Dinh et al. 2017). Li et al.'s **filter normalization** removes
# this: each filter (each output neuron's incoming weights, or each convolution filter)
# of the random direction is rescaled to the norm of the same filter of $\theta^*$,
#
# $$d_{i,j} \leftarrow \frac{d_{i,j}}{\|d_{i,j}\|}\,\|\theta^*_{i,j}\|,$$
#
# and biases are set to zero. First a trained MLP:

# %%
mlp = MLP((64, 64, 10))
epochs = 60 if FULL else 25
params, state, history = train_model(mlp, adam, epochs=epochs, batch_size=32)
loss = jnn.objective(mlp, cross_entropy, state)  # loss(params, batch)
accuracy = jnn.objective(mlp, jnn.losses.accuracy, state)
for split, data in [("train", train), ("test", test)]:
    print(f"{split}: loss {float(loss(params, data)):.4f}, "
          f"accuracy {float(accuracy(params, data)):.3f}")

direction = ls.filter_normalized_direction(jax.random.key(10), params)
for i in (0, 2, 4):  # the three Dense layers of the MLP's Sequential
    same = jnp.allclose(jnp.linalg.norm(direction[i]["kernel"], axis=0),
                        jnp.linalg.norm(params[i]["kernel"], axis=0), rtol=1e-5)
    print(f"layer {i}: every column of d has the norm of the same column of theta: {bool(same)};"
          f" bias direction zero: {bool(jnp.all(direction[i]['bias'] == 0))}")

# %% [markdown]
# Now the scale-invariance trap in action. `rescaled` multiplies the first layer by 10
# and divides the second by 10: the same function (ReLU is positively homogeneous), the
# same loss. Along a plain random direction the two copies look completely different;
# along filter-normalized directions they coincide.

# %%
def rescale(p, c):
    p = list(p)
    p[0] = {"kernel": p[0]["kernel"] * c, "bias": p[0]["bias"] * c}
    p[2] = {"kernel": p[2]["kernel"] / c, "bias": p[2]["bias"]}
    return p


rescaled = rescale(params, 10.0)
alphas = jnp.linspace(-1, 1, 41)
print("same loss at the center:", float(loss(params, train)), float(loss(rescaled, train)))
raw = ls.random_direction(jax.random.key(11), params)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
viz.plot_landscape_line({"trained": ls.line(loss, params, raw, 0.1 * alphas, train),
                         "rescaled copy": ls.line(loss, rescaled, raw, 0.1 * alphas, train)},
                        ax=axes[0], log=True, xlabel=r"$\alpha$ (0.1 × random Gaussian d)")
axes[0].set_title("plain random direction")
viz.plot_landscape_line(
    {"trained": ls.line(loss, params, ls.filter_normalize(raw, params), alphas, train),
     "rescaled copy": ls.line(loss, rescaled, ls.filter_normalize(raw, rescaled), alphas,
                              train)},
    ax=axes[1], log=True, xlabel=r"$\alpha$ (filter-normalized d)")
axes[1].set_title("filter-normalized direction")
fig.tight_layout()

# %% [markdown]
# ### A 1-D slice: loss and accuracy, train and test
#
# `line` evaluates extra metrics at every point in the same compiled call. With
# filter-normalized directions, $\alpha = 1$ is a step as large as the weights themselves.

# %%
on_train = ls.line(loss, params, direction, alphas, train, metrics={"accuracy": accuracy})
on_test = ls.line(loss, params, direction, alphas, test, metrics={"accuracy": accuracy})
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
viz.plot_landscape_line({"train": on_train, "test": on_test}, ax=axes[0], log=True)
viz.plot_landscape_line({"train": on_train, "test": on_test}, value="accuracy", ax=axes[1])
axes[0].set_title("loss along a filter-normalized direction")
axes[1].set_title("accuracy along the same direction")
fig.tight_layout()

# %% [markdown]
# ## 4.2 Two-dimensional slices: contours, heatmap, surface
#
# `plane` evaluates the whole $n \times n$ grid in one call. The same `Landscape` feeds
# every plot: contour lines with labelled levels, a heatmap and a 3-D surface. Li et al.
# use two independent random directions; in many dimensions they are nearly orthogonal
# (`ls.orthogonalize` makes them exactly so).

# %%
d1 = ls.filter_normalized_direction(jax.random.key(12), params)
d2 = ls.filter_normalized_direction(jax.random.key(13), params)
flat1, flat2 = ravel_pytree(d1)[0], ravel_pytree(d2)[0]
cosine = float(flat1 @ flat2 / (jnp.linalg.norm(flat1) * jnp.linalg.norm(flat2)))
print(f"cosine between the two random directions: {cosine:.4f}")
grid = jnp.linspace(-1, 1, GRID)
surface = ls.plane(loss, params, d1, d2, grid, grid, train)
print(f"{GRID}x{GRID} grid, chunk size {surface.metadata['chunk_size']}, "
      f"loss from {float(surface.loss.min()):.3f} to {float(surface.loss.max()):.1f}")

fig = plt.figure(figsize=(15, 4.3))
viz.plot_landscape_contour(surface, ax=fig.add_subplot(1, 3, 1), log=True, levels=15)
viz.plot_landscape_heatmap(surface, ax=fig.add_subplot(1, 3, 2), log=True)
viz.plot_landscape_surface(surface, ax=fig.add_subplot(1, 3, 3, projection="3d"), log=True)
fig.suptitle("MLP on the digits: loss around the trained parameters")
fig.tight_layout()

# %% [markdown]
# The course contrasts a *convex* problem with the *highly non-convex* loss of a deep
# network. Softmax regression (a single `Dense` layer with cross-entropy) is convex in its
# parameters, so every slice of it is convex too; the deep network's slices need not be.
# The same tool on both:

# %%
linear = Sequential([Dense(10)])
p_lin, s_lin, _ = train_model(linear, adam, epochs=epochs, batch_size=32)
loss_lin = jnn.objective(linear, cross_entropy, s_lin)
surface_lin = ls.plane(loss_lin, p_lin, ls.filter_normalized_direction(jax.random.key(12), p_lin),
                       ls.filter_normalized_direction(jax.random.key(13), p_lin), grid, grid,
                       train)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
viz.plot_landscape_contour(surface_lin, ax=axes[0], log=True, levels=15)
axes[0].set_title("softmax regression (convex)")
viz.plot_landscape_contour(surface, ax=axes[1], log=True, levels=15)
axes[1].set_title("MLP 64-64-10 (non-convex)")
fig.tight_layout()

# %% [markdown]
# ## 4.3 Skip connections make the landscape smooth
#
# Li et al.'s best-known figure: the surface of ResNet-56 with skip connections is a
# single smooth bowl; remove the skips (the same network otherwise) and it turns chaotic,
# with the minimum in a narrow, rugged valley. The deeper the network, the stronger the
# effect: their 20-layer net without skips still looks convex, the 56- and 110-layer ones
# do not. Skip connections keep the network close to the identity plus a small residual,
# so the loss changes smoothly with the weights, which is also why deep residual networks
# train at all (notebook 6).
#
# Here a small version: the same deep fully connected net, blocks of
# `Dense → ReLU → Dense`, with and without `Residual` around each block, trained the same
# way on the digits, then the same kind of filter-normalized 2-D slice for both.

# %%
depth, width = 10, 32


def deep_net(skip):
    blocks = []
    for _ in range(depth):
        body = Sequential([Dense(width), jax.nn.relu, Dense(width)])
        blocks.append(Sequential([Residual(body) if skip else body, jax.nn.relu]))
    return Sequential([Dense(width), jax.nn.relu, *blocks, Dense(10)])


deep = {}
for name, skip in [("with skip connections", True), ("without skip connections", False)]:
    net = deep_net(skip)
    p, s, hist = train_model(net, adam, epochs=40 if FULL else 15, batch_size=64)
    loss_net = jnn.objective(net, cross_entropy, s)
    e1 = ls.filter_normalized_direction(jax.random.key(20), p)
    e2 = ls.filter_normalized_direction(jax.random.key(21), p)
    deep[name] = ls.plane(loss_net, p, e1, e2, grid, grid, train)
    print(f"{2 * depth + 2} layers {name}: train loss {hist['loss'][-1]:.3f}, "
          f"accuracy {hist['accuracy'][-1]:.3f}")

levels = np.geomspace(0.05, 50, 16)  # the same levels for both, like Li et al.'s figure
fig = plt.figure(figsize=(12, 9))
for i, (name, surf) in enumerate(deep.items()):
    ax = fig.add_subplot(2, 2, i + 1)
    viz.plot_landscape_contour(surf, ax=ax, log=True, levels=levels)
    ax.set_title(name)
    ax3 = fig.add_subplot(2, 2, i + 3, projection="3d")
    viz.plot_landscape_surface(surf, ax=ax3, log=True)
fig.suptitle(f"{2 * depth + 2}-layer network on the digits, filter-normalized 2-D slices")
fig.tight_layout()

# %% [markdown]
# The net with skips sits at the bottom of one deep funnel with nested, regular contours
# (the log-scale surfaces show it); the same net without skips trains more slowly, stops
# at a loss about twenty times higher, in a shallower basin whose contours are lopsided
# and irregular. `FULL = True` (40 epochs, a 51×51 grid; about a minute and a half for
# the whole notebook on a laptop CPU) trains both further: the residual net to a training
# loss near 0.001, the plain one to about 0.16, and the plain net's surface stays the
# rougher and more lopsided of the two. Going deeper shows the other half of the story
# rather than a more chaotic picture: with 30 blocks (62 layers) and this initialization,
# the net *without* skips does not train at all (its loss stays at
# $\ln 10 \approx 2.303$, chance level, after 40 epochs) while the residual one reaches
# about 97% training accuracy. Li et al.'s chaotic surfaces come from plain nets that
# BatchNorm keeps trainable at 56 and 110 layers, on CIFAR-10: a GPU-sized experiment.

# %% [markdown]
# ## 4.4 Sharp and flat minima: small vs large batches
#
# Keskar et al. (2017) observed that large-batch training tends to converge to *sharp*
# minima (the loss rises quickly around them) and small-batch training to *flat* ones,
# and that flat minima generalize better: the test loss is the training loss shifted a
# little, and a flat minimum tolerates the shift. Sharpness in numbers:
#
# - the top Hessian eigenvalue $\lambda_{\max}(\nabla^2 L(\theta^*))$, the curvature along
#   the sharpest direction (`ls.top_hessian_eigenvalue`, or `ls.hessian_eigenpairs` for
#   the eigenvector too: Lanczos with Hessian-vector products, no Hessian formed);
# - Keskar et al.'s $\epsilon$-sharpness: the largest relative loss increase in a small box
#   $|y_i| \le \epsilon(|\theta_i| + 1)$ around $\theta^*$, found by gradient ascent
#   (`ls.epsilon_sharpness`).
#
# Two copies of the same MLP trained with plain SGD at the same learning rate, one with
# minibatches of 16 and one with the whole training set in every step (full-batch
# gradient descent, given many more epochs; at the CPU size it still stops at a higher
# training loss, on a slope rather than at the bottom).

# %%
solutions, sharpest = {}, {}
for name, batch_size, n_epochs in [("batch 16", 16, 30 if FULL else 15),
                                   ("full batch", len(train[0]), 2000 if FULL else 600)]:
    p, _, _ = train_model(mlp, sgd, epochs=n_epochs, batch_size=batch_size, seed=3)
    solutions[name] = p
    top = ls.hessian_eigenpairs(loss, p, train, 1, key=jax.random.key(30))  # Lanczos
    lam = top.eigenvalues[0]
    sharpest[name] = jax.tree.map(lambda v: v[0], top.eigenvectors)  # unit-norm direction
    eps = ls.epsilon_sharpness(loss, p, train, epsilon=1e-3, key=jax.random.key(31))
    grad_norm = jnp.linalg.norm(ravel_pytree(jax.grad(loss)(p, train))[0])
    print(f"{name:10s}: train loss {float(loss(p, train)):.4f}, test loss "
          f"{float(loss(p, test)):.4f}, test accuracy {float(accuracy(p, test)):.3f} | "
          f"lambda_max {float(lam):5.2f} | epsilon-sharpness {float(eps.sharpness):.2f}% | "
          f"|gradient| {float(grad_norm):.4f}")

# %% [markdown]
# The top eigenvalue ranks the small-batch minimum as the flatter one. The
# $\epsilon$-sharpness need not agree: it is the largest increase in a box, first-order
# term included, and SGD with small batches stops at a noisy point where the full-batch
# gradient is not zero, so for a small box the slope can outweigh the curvature. Two
# measures of "sharp" answer different questions; always say which one a claim uses.

# %% [markdown]
# The pictures: each solution along a filter-normalized random direction (filter
# normalization is what makes two different networks comparable), along its own sharpest
# direction (the top Hessian eigenvector, unit norm: the loss rises like
# $\tfrac12\lambda_{\max}\alpha^2$), and the straight path from one solution to the
# other (Keskar et al.'s Figure 3): $\alpha = 0$ is the small-batch solution, $\alpha = 1$
# the full-batch one. A random direction averages the curvature of thousands of
# directions, so the two random slices differ less than the eigenvalues do.

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 3.8))
viz.plot_landscape_line(
    {name: ls.line(loss, p, ls.filter_normalized_direction(jax.random.key(32), p), alphas, train)
     for name, p in solutions.items()}, ax=axes[0], log=True)
axes[0].set_title("along a filter-normalized random direction")
viz.plot_landscape_line({name: ls.line(loss, p, sharpest[name], alphas, train)
                         for name, p in solutions.items()}, ax=axes[1],
                        xlabel=r"$\alpha$ (unit top Hessian eigenvector)")
axes[1].set_title("along each solution's sharpest direction")
path = jnp.linspace(-0.5, 1.5, 41)
between = {split: ls.interpolate(loss, solutions["batch 16"], solutions["full batch"], path, data,
                                 metrics={"accuracy": accuracy})
           for split, data in [("train", train), ("test", test)]}
viz.plot_landscape_line(between, ax=axes[2], log=True,
                        xlabel=r"$\alpha$: (1 - $\alpha$) batch 16 + $\alpha$ full batch")
axes[2].set_title("the straight path between the two solutions")
fig.tight_layout()

# %% [markdown]
# A caveat from the lecture: sharpness is not invariant to reparametrization (the
# rescaled copy of Section 4.1 has the same function but a different Hessian), so the
# number only compares like with like: the same architecture, measured the same way.

# %% [markdown]
# ## 4.5 Interpolation: from initialization to a solution, and between two solutions
#
# Goodfellow, Vinyals and Saxe (2015) looked along the straight line from the initial
# parameters $\theta_0$ to the solution $\theta^*$: for many networks the loss falls
# monotonically along it, with no bump to climb, even though training took a long curved
# path. Between two solutions found from *different* random initializations the straight
# line usually crosses a barrier: the minima are not *linearly mode-connected* (though
# Garipov et al. 2018 and Draxler et al. 2018 found curved low-loss paths between them).
# Hidden units can be permuted without changing the function, so two runs land in
# different copies of the same basin.

# %%
runs = {}
for seed in (40, 50):
    p0, _ = mlp.init(jax.random.key(seed), train[0])
    p, _, _ = train_model(mlp, adam, epochs=epochs, batch_size=32, seed=seed)
    runs[seed] = (p0, p)
path = jnp.linspace(0, 1, 41)
init_to_solution = ls.interpolate(loss, *runs[40], path, train, metrics={"accuracy": accuracy})
solution_to_solution = ls.interpolate(loss, runs[40][1], runs[50][1], path, train,
                                      metrics={"accuracy": accuracy})
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
viz.plot_landscape_line({"initialization -> solution": init_to_solution,
                         "solution (seed 40) -> solution (seed 50)": solution_to_solution},
                        ax=axes[0], log=True, xlabel=r"interpolation coefficient $\alpha$")
viz.plot_landscape_line({"initialization -> solution": init_to_solution,
                         "solution (seed 40) -> solution (seed 50)": solution_to_solution},
                        value="accuracy", ax=axes[1], xlabel=r"interpolation coefficient $\alpha$")
fig.tight_layout()
barrier = float(solution_to_solution.loss.max() - jnp.maximum(solution_to_solution.loss[0],
                                                              solution_to_solution.loss[-1]))
print(f"loss barrier between the two solutions: {barrier:.3f}; "
      f"monotone from initialization: {bool(jnp.all(jnp.diff(init_to_solution.loss) <= 1e-6))}")

# %% [markdown]
# ### With BatchNorm, the running statistics must travel too
#
# A network with BatchNorm carries, besides its parameters, the running mean and variance
# of every normalized unit (its *state*), used at evaluation time. Along the path between
# two solutions the parameters mix, but what are the right statistics at
# $\theta(\alpha)$? `interpolate_model` offers two answers: mix the two endpoints'
# statistics the same way (`state="interpolate"`, exact at both ends), or recompute them at
# every point by a pass over the training data in training mode (`state="recompute"`, as
# SWA's `update_bn` does). Mixed statistics no longer match the mixed network, and part of
# the barrier in the middle is that mismatch, not the loss surface itself:

# %%
bn_net = Sequential([Dense(64), BatchNorm(), jax.nn.relu, Dense(64), BatchNorm(), jax.nn.relu,
                     Dense(10)])
endpoints = []
for seed in (70, 80):
    p, s, _ = train_model(bn_net, adam, epochs=epochs, batch_size=32, seed=seed)
    endpoints.append((p, s))
bn_paths = {f"state={mode!r}": ls.interpolate_model(bn_net, cross_entropy, *endpoints, path,
                                                     train, state=mode)
            for mode in ("interpolate", "recompute")}
fig = viz.plot_landscape_line(bn_paths, log=True, xlabel=r"interpolation coefficient $\alpha$")
fig.axes[0].set_title("two BatchNorm nets: training loss on the path")
for name, result in bn_paths.items():
    print(f"{name:22s} highest loss on the path: {float(result.loss.max()):.3f}")

# %% [markdown]
# ## 4.6 The training trajectory on its PCA plane
#
# Can we draw the path that training took? Not in random directions: in high dimensions
# two random directions are almost orthogonal to everything, including the path, so its
# projection is a dot. Li et al. instead take the parameters saved along training,
# $\theta_0, \dots, \theta_T$, subtract their mean, and use the top two principal
# components of that matrix as the plane's directions, centered at the final
# $\theta_T$. The path then lies (mostly) *in* the plane, and the explained variance says
# how much of it the picture shows. `TrajectoryRecorder` keeps the params after every
# epoch of `fit`.

# %%
recorder = ls.TrajectoryRecorder(every=1)
p_traj, _, _ = train_model(mlp, sgd, epochs=30 if FULL else 15, batch_size=16, seed=60,
                           callbacks=[recorder])
pca = ls.trajectory_pca(recorder, k=2)
print(f"{len(recorder.params)} snapshots; the two components explain "
      f"{100 * float(pca.explained_variance_ratio.sum()):.1f}% of the path's variance")
# Two random directions scaled to unit norm, like the PCA directions: same units.
rand = [ls.random_direction(jax.random.key(k), p_traj) for k in (61, 62)]
rand = [jax.tree.map(lambda v, d=d: v / jnp.linalg.norm(ravel_pytree(d)[0]), d) for d in rand]
in_random_plane = ls.project_trajectory(recorder, pca.origin, rand)
print("extent of the path along PC1, PC2:     ",
      np.round(np.ptp(np.asarray(pca.coordinates), axis=0), 3))
print("extent along two random unit directions:",
      np.round(np.ptp(np.asarray(in_random_plane), axis=0), 3))

coords = np.asarray(pca.coordinates)
pad = 0.25 * np.ptp(coords, axis=0)
a_grid = jnp.linspace(coords[:, 0].min() - pad[0], coords[:, 0].max() + pad[0], GRID)
b_grid = jnp.linspace(coords[:, 1].min() - pad[1], coords[:, 1].max() + pad[1], GRID)
pca_plane = ls.plane(loss, pca.origin, *pca.directions, a_grid, b_grid, train)
fig = viz.plot_landscape_trajectory(pca_plane, pca, log=True, levels=20,
                                    labels=[e if e % 5 == 0 else "" for e in recorder.epochs])
fig.axes[0].set_title("SGD, batch 16: the path on its PCA plane (labels: epochs)")

# %% [markdown]
# ## 4.7 Saving a landscape
#
# A large surface can take a while on a big model; `save_landscape` writes it with its
# metadata (grid, chunking, and whatever you add: the directions' seeds, the model) as an
# `.npz` file that `load_landscape` reads back, so a figure can be redrawn later.

# %%
import os
import tempfile

target = os.path.join(tempfile.mkdtemp(), "mlp_plane.npz")
ls.save_landscape(target, surface, metadata={"model": "MLP 64-64-10 on digits",
                                             "direction_seeds": [12, 13]})
back = ls.load_landscape(target)
print(back.metadata["model"], back.metadata["direction_seeds"], back.loss.shape,
      "| identical:", bool(np.array_equal(back.loss, np.asarray(surface.loss))))

# %% [markdown]
# **Takeaways.** Only filter-normalized directions give slices that can be compared across
# networks; skip connections keep a deep network's landscape regular and its minimum
# within reach; small batches tend to find flatter minima (in $\lambda_{\max}$ and in the
# pictures), though each measure of sharpness answers its own question; the straight path
# from initialization to a solution is often downhill all the way, while two independent
# solutions are separated by a barrier (with BatchNorm, partly an artifact of mismatched
# statistics); and the training path is best seen on the plane of its own principal
# components.
