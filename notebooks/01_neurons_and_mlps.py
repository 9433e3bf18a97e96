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
# # 1 · Neurons and multilayer perceptrons
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/jnn/blob/main/notebooks/01_neurons_and_mlps.ipynb)
#
# From a single threshold unit to a deep network: what one neuron can and cannot compute
# (AND, OR, but not XOR), a forward pass by hand checked against `jnn`, the activation
# functions and their derivatives, and why the scale of the initial weights decides whether
# a deep network can be trained at all.
#
# Everything runs on a laptop CPU in well under a minute; set `FULL = True` for the larger
# versions of the experiments.

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
from jnn.layers import Dense, Sequential

FULL = False  # True: deeper/wider networks, more training (a minute or two on a CPU)
key = jax.random.key(0)

# %% [markdown]
# ## 1.1 The threshold logic unit
#
# A neuron computes a weighted sum of its inputs plus a bias and passes it through an
# activation function, $f(x) = \tau(w^\top x + b)$. McCulloch and Pitts' *threshold logic
# unit* (1943) uses the step $\tau(z) = \mathbb 1[z \ge 0]$ (`jnn.activations.step`), so it
# fires when the weighted sum exceeds the threshold $-b$.
#
# With $w = (1, 1)$ a single unit computes AND for $b = -1.5$ and OR for $b = -0.5$:

# %%
step = jnn.activations.step


def neuron(w, b):
    """A threshold unit x -> step(x w + b) on a batch of points x: (n, 2)."""
    return lambda params, x: step(x @ jnp.asarray(w) + b)


x_gate, y_and = jnn.data.and_gate()
_, y_or = jnn.data.or_gate()
_, y_xor = jnn.data.xor()
and_unit, or_unit = neuron([1.0, 1.0], -1.5), neuron([1.0, 1.0], -0.5)
print("x1 x2 | AND  OR | unit(AND) unit(OR)")
for xi, a, o, ua, uo in zip(x_gate.tolist(), y_and.tolist(), y_or.tolist(),
                            and_unit(None, x_gate).tolist(), or_unit(None, x_gate).tolist()):
    print(f" {xi[0]:.0f}  {xi[1]:.0f} |  {a}    {o} |    {ua:.0f}         {uo:.0f}")

# %% [markdown]
# ### XOR: no single line separates it
#
# A threshold unit's decision boundary is the line $w^\top x + b = 0$. XOR puts $(0,1)$
# and $(1,0)$ on one side and $(0,0)$, $(1,1)$ on the other, and no line does that
# (Minsky and Papert 1969). A brute-force check over a dense grid of weights and biases
# finds units that get three of the four rows right, never four:

# %%
grid = jnp.linspace(-2.0, 2.0, 41)
w1, w2, b = (a.ravel() for a in jnp.meshgrid(grid, grid, grid))
outputs = step(x_gate @ jnp.stack([w1, w2]) + b)  # (4 rows, 41^3 candidate units)
correct = (outputs == y_xor[:, None]).sum(axis=0)
print(f"{correct.size} candidate units; the best gets {int(correct.max())} of 4 XOR rows right")
assert int(correct.max()) == 3

# %% [markdown]
# One hidden layer fixes it: $\text{XOR}(x) = \text{AND}(\text{OR}(x), \text{NAND}(x))$.
# The two hidden units each draw a line; the output unit fires in the band between them.

# %%
def xor_network(params, x):
    hidden = jnp.stack([step(x @ jnp.array([1.0, 1.0]) - 0.5),      # OR
                        step(x @ jnp.array([-1.0, -1.0]) + 1.5)], 1)  # NAND
    return step(hidden @ jnp.array([1.0, 1.0]) - 1.5)                # AND of the two


print("XOR network:", xor_network(None, x_gate).tolist(), " target:", y_xor.tolist())

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, fn, y, title in [(axes[0], and_unit, y_and, "AND: one unit"),
                         (axes[1], or_unit, y_or, "OR: one unit"),
                         (axes[2], xor_network, y_xor, "XOR: two hidden units + one output")]:
    viz.plot_decision_boundary(fn, None, x_gate, y, threshold=0.5, ax=ax, margin=0.4,
                               title=title)
for c in (0.5, 1.5):  # the hidden units' lines x1 + x2 = 0.5 (OR) and x1 + x2 = 1.5 (NAND)
    axes[2].plot([-0.4, 1.4], [c + 0.4, c - 1.4], "k--", lw=0.8)
fig.tight_layout()

# %% [markdown]
# ### Rosenblatt's perceptron learns the weights
#
# The perceptron rule nudges the weights towards every misclassified example,
# $w \leftarrow w + \eta\,(y - \hat y)\,\tilde x$ with the bias absorbed into
# $\tilde x = (1, x_1, x_2)$. On linearly separable data it stops after finitely many
# mistakes (the perceptron convergence theorem); on XOR it never does.

# %%
def perceptron(x, y, epochs=20, lr=1.0):
    x_tilde = np.c_[np.ones(len(x)), np.asarray(x)]
    w = np.zeros(3)
    mistakes = []
    for _ in range(epochs):
        errors = 0
        for xi, yi in zip(x_tilde, np.asarray(y)):
            y_hat = float(xi @ w >= 0)
            w += lr * (yi - y_hat) * xi
            errors += int(y_hat != yi)
        mistakes.append(errors)
    return w, mistakes


for name, y in [("AND", y_and), ("OR", y_or), ("XOR", y_xor)]:
    w, mistakes = perceptron(x_gate, y)
    print(f"{name}: mistakes per epoch {mistakes[:8]} ... final w = {w}")

# %% [markdown]
# ## 1.2 A forward pass by hand, and with jnn
#
# A dense layer computes $h = \sigma(x W + b)$ for a batch of row vectors $x$
# (jnn stores $W$ as (inputs, outputs)). Here is a 2-3-1 network with a sigmoid hidden
# layer and a linear output, computed step by step with numpy:

# %%
W1 = np.array([[0.5, -1.0, 0.25],
               [1.5, 0.5, -0.75]])
b1 = np.array([0.1, 0.0, -0.2])
W2 = np.array([[1.0], [-2.0], [0.5]])
b2 = np.array([0.3])
x = np.array([[1.0, 2.0]])

z1 = x @ W1 + b1                  # pre-activations of the hidden layer
h = 1 / (1 + np.exp(-z1))         # sigmoid
y_hand = h @ W2 + b2              # linear output (a regression head)
print("z1 =", z1.round(4), "\nh  =", h.round(4), "\ny  =", y_hand.round(4))

# %% [markdown]
# The same network in jnn is a `Sequential` of two `Dense` layers with the sigmoid
# between them. Its parameters are a plain list of dicts, so we can put our numbers in:

# %%
model = Sequential([Dense(3), jnn.activations.sigmoid, Dense(1)])
params, state = model.init(key, jnp.asarray(x, jnp.float32))
print(jax.tree.map(jnp.shape, params))
params = [{"kernel": jnp.asarray(W1, jnp.float32), "bias": jnp.asarray(b1, jnp.float32)}, {},
          {"kernel": jnp.asarray(W2, jnp.float32), "bias": jnp.asarray(b2, jnp.float32)}]
y_jnn, _ = model.apply(params, state, jnp.asarray(x, jnp.float32))
print("jnn:", y_jnn, " by hand:", y_hand)
np.testing.assert_allclose(y_jnn, y_hand, rtol=1e-5)
print(jnn.summary(model, jnp.asarray(x, jnp.float32)))

# %% [markdown]
# **Why the nonlinearity matters.** Without the activation the two layers collapse into
# one affine map: $(x W_1 + b_1) W_2 + b_2 = x (W_1 W_2) + (b_1 W_2 + b_2)$. (One of the
# course slides writes the bias as $b_1 + b_2$; the $W_2$ belongs there.)

# %%
linear_net = Sequential([Dense(3), Dense(1)])
y_linear, _ = linear_net.apply([params[0], params[2]], [{}, {}], jnp.asarray(x, jnp.float32))
collapsed = x @ (W1 @ W2) + (b1 @ W2 + b2)
print(y_linear, collapsed)
np.testing.assert_allclose(y_linear, collapsed, rtol=1e-5)

# %% [markdown]
# ### Training a hidden layer on XOR
#
# With a smooth activation (tanh) the network can be trained by gradient descent:
# `jnn.train.fit` runs the epochs, and the learned boundary is a curved band, not a line.

# %%
x_xor, y_xor_rep = jnn.data.xor(jax.random.key(1), n_repeats=25, noise=0.1)
xor_mlp = Sequential([Dense(8), jnp.tanh, Dense(2)])
p0, s0 = xor_mlp.init(jax.random.key(2), x_xor)
p_xor, s_xor, _, history = jnn.train.fit(
    xor_mlp, p0, s0, optax.adam(0.05), jnn.losses.softmax_cross_entropy, (x_xor, y_xor_rep),
    epochs=60, batch_size=25, key=jax.random.key(3), metrics=["accuracy"], verbose=0)
print(f"final training accuracy {history['accuracy'][-1]:.2f}")
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
viz.plot_decision_boundary(xor_mlp, p_xor, x_xor, y_xor_rep, state=s_xor, ax=axes[0],
                           title="tanh MLP with 8 hidden units on XOR")
viz.plot_learning_curves(history, ["loss"], ax=axes[1])
fig.tight_layout()

# %% [markdown]
# ## 1.3 Activation functions and their derivatives
#
# Backpropagation multiplies the derivatives of the activations layer by layer, so their
# shape matters as much as the functions'. The derivatives below are computed by
# `jax.vmap(jax.grad(f))`, exactly what training uses.
#
# - The logistic sigmoid saturates: $\sigma'(z) = \sigma(z)(1-\sigma(z)) \le 1/4$ (one slide
#   says only "$< 1$"; the maximum is $0.25$, at $z = 0$). tanh's derivative peaks at 1.
# - ReLU's derivative is exactly 1 for $z > 0$ (no shrinking) and 0 for $z < 0$ (a unit
#   stuck there gets no gradient: a *dead* ReLU). Leaky ReLU, ELU and SELU keep a
#   gradient for negative inputs.

# %%
fig = viz.plot_activations(["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu",
                            "softplus"])

# %%
_, d_sigmoid = viz.activation_curves("sigmoid", jnp.linspace(-5.0, 5.0, 1001))
_, d_tanh = viz.activation_curves("tanh", jnp.linspace(-5.0, 5.0, 1001))
print(f"max sigmoid' = {float(d_sigmoid.max()):.4f},  max tanh' = {float(d_tanh.max()):.4f}")

# %% [markdown]
# ## 1.4 Initialization: the scale of the weights decides everything
#
# Take a deep tanh MLP and feed it standard-normal inputs. If each layer's weights have
# standard deviation $s$, a unit's pre-activation sums $n$ terms and has standard
# deviation about $s\sqrt n$ times that of its inputs. So
#
# - **tiny** weights ($s = 0.01$) shrink the signal by $0.01\sqrt n$ per layer: the
#   activations and the backpropagated gradients die out;
# - **large** weights ($s = 1$) blow it up: tanh saturates, every activation is pinned
#   near $\pm 1$ whatever the input, and going backwards the gradient is multiplied by
#   about $s\sqrt n \cdot \mathbb E[\tanh'] \approx 3$ per layer: it *explodes* in the
#   early layers;
# - **LeCun** initialization, $s = 1/\sqrt{n_\text{in}}$ (jnn's default for `Dense`), keeps
#   the variance roughly constant from layer to layer.

# %%
depth, width = (20, 512) if FULL else (10, 256)
x_init = jax.random.normal(jax.random.key(4), (256, width))
inits = {"tiny, s = 0.01": jnn.initializers.normal(0.01),
         "LeCun, s = 1/sqrt(n)": jnn.initializers.lecun_normal(),
         "large, s = 1": jnn.initializers.normal(1.0)}


def deep_mlp(init, activation, depth=depth):
    layers = []
    for _ in range(depth):
        layers += [Dense(width, kernel_init=init), activation]
    return Sequential(layers + [Dense(10, kernel_init=init)])


def layer_statistics(model, params, state, x, labels):
    """Std of each hidden layer's activations, and the norm of each kernel's gradient."""
    def loss(params):
        return jnn.losses.softmax_cross_entropy(model.apply(params, state, x)[0], labels)

    grads = jax.grad(loss)(params)
    stds, h = [], x
    for layer, p, s in zip(model.layers, params, state):
        h, _ = layer.apply(p, s, h)
        if not p:  # after each activation
            stds.append(float(jnp.std(h)))
    grad_norms = [float(jnp.linalg.norm(g["kernel"])) for g in grads if g]
    return np.array(stds), np.array(grad_norms)


labels = jax.random.randint(jax.random.key(5), (256,), 0, 10)
act_std, grad_norm = {}, {}
for name, init in inits.items():
    model = deep_mlp(init, jnp.tanh)
    params, state = model.init(jax.random.key(6), x_init)
    act_std[name], grad_norm[name] = layer_statistics(model, params, state, x_init, labels)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
viz.plot_curves(act_std, ax=axes[0], xlabel="hidden layer", ylabel="std of activations",
                title=f"tanh MLP, depth {depth}: forward signal")
viz.plot_curves(grad_norm, ax=axes[1], xlabel="layer", ylabel="|dL/dW|",
                title="backward signal: gradient norm per layer")
fig.tight_layout()
for name in inits:
    print(f"{name:22s} activation std: first {act_std[name][0]:.2e}, last "
          f"{act_std[name][-1]:.2e} | grad norm: first layer {grad_norm[name][0]:.2e}")

# %% [markdown]
# ### Sigmoid vs ReLU: vanishing gradients
#
# Even with a sensible scale, sigmoid layers shrink the backpropagated error: the
# recursion $\delta^{(l)} = (\delta^{(l+1)} W^{(l+1)\top}) \odot \sigma'(z^{(l)})$
# multiplies by $\sigma' \le 1/4$ at every layer, so early layers learn very slowly. ReLU
# with He initialization ($s = \sqrt{2/n_\text{in}}$, which makes up for ReLU zeroing half
# of its inputs) passes the gradient through unchanged in scale.

# %%
variants = {"sigmoid, LeCun init": (jnn.activations.sigmoid, jnn.initializers.lecun_normal()),
            "tanh, LeCun init": (jnp.tanh, jnn.initializers.lecun_normal()),
            "ReLU, He init": (jnn.activations.relu, jnn.initializers.he_normal())}
grads_by_activation = {}
for name, (activation, init) in variants.items():
    model = deep_mlp(init, activation)
    params, state = model.init(jax.random.key(7), x_init)
    grads_by_activation[name] = layer_statistics(model, params, state, x_init, labels)[1]
fig = viz.plot_curves(grads_by_activation, xlabel="layer (0 = closest to the input)",
                      ylabel="|dL/dW|", title="gradient norm per layer at initialization")
for name, norms in grads_by_activation.items():
    print(f"{name:20s} gradient norm, first layer / output layer: {norms[0] / norms[-1]:.2e}")

# %% [markdown]
# ### Zero initialization never breaks the symmetry
#
# If all weights start equal, every hidden unit computes the same function and receives
# the same gradient, so they stay identical forever: the layer behaves like one unit.
# Random initialization breaks the symmetry (biases may start at zero).

# %%
same = jnn.initializers.constant(0.5)
sym = Sequential([Dense(4, kernel_init=same), jnp.tanh, Dense(2, kernel_init=same)])
params, state = sym.init(key, x_xor)
grads = jax.grad(lambda p: jnn.losses.softmax_cross_entropy(
    sym.apply(p, state, x_xor)[0], y_xor_rep))(params)
print("gradient of the first kernel (every column the same):\n", grads[0]["kernel"])
assert np.allclose(grads[0]["kernel"], grads[0]["kernel"][:, :1])

# %% [markdown]
# **Takeaways.** One neuron draws one line; a hidden layer combines lines into regions.
# The activations' derivatives and the weights' scale multiply through the depth of the
# network, so initialize with $1/\sqrt{n_\text{in}}$ (LeCun, for tanh/SELU) or
# $\sqrt{2/n_\text{in}}$ (He, for ReLU), and prefer non-saturating activations in deep
# networks.
