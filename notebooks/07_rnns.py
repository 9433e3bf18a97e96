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
# # 7 · Recurrent networks
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/jnn/blob/main/notebooks/07_rnns.ipynb)
#
# A recurrent network applies the same cell at every time step,
# $h_t = f_W(h_{t-1}, x_t)$, carrying a state through the sequence. Here: an Elman RNN
# step by step and as a `jnn.layers.RNN` (one `lax.scan`); vanilla RNN, LSTM and GRU on
# a long-memory many-to-one task (the adding problem) and on many-to-many next-step
# prediction (with free-running generation); and vanishing gradients over time, measured.

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
from jnn.layers import RNN, Dense, GRUCell, LSTMCell, Sequential, SimpleRNNCell, generate

FULL = False  # True: longer sequences, more data and epochs
key = jax.random.key(0)

# %% [markdown]
# ## 7.1 One cell, many steps
#
# The Elman cell computes $h_t = \tanh(x_t W + h_{t-1} U + b)$. Looping over time in
# Python and running `RNN(SimpleRNNCell(H))` (a `jax.lax.scan` over the time axis) give
# the same states. Sequences are batch-first: `(batch, time, features)`.

# %%
cell = SimpleRNNCell(4)
xs = jax.random.normal(key, (2, 6, 3))  # 2 sequences, 6 steps, 3 features
params = cell.init(key, xs[:, 0])
h = cell.initial_carry((2,))
states = []
for t in range(xs.shape[1]):
    h = jnp.tanh(xs[:, t] @ params["input_kernel"] + h @ params["recurrent_kernel"]
                 + params["bias"])
    states.append(h)
by_hand = jnp.stack(states, axis=1)

rnn = RNN(cell, return_sequences=True)   # many-to-many: every step's output
ys, _ = rnn.apply(params, {}, xs)
last, _ = RNN(cell).apply(params, {}, xs)  # many-to-one: the last output only
print("states by hand vs RNN: max difference", float(jnp.max(jnp.abs(ys - by_hand))))
print("shapes: many-to-many", ys.shape, " many-to-one", last.shape)

# %% [markdown]
# ## 7.2 Many-to-one: the adding problem
#
# Each input step is a pair (a random number in $[0, 1]$, a marker); exactly two steps are
# marked, one in each half of the sequence, and the target is the sum of the two marked
# numbers (Hochreiter and Schmidhuber 1997). The network must carry a number across many
# steps. Predicting the mean (1.0) gives a mean squared error of $2/12 \approx 0.167$.

# %%
def adding_problem(key, n, length):
    k_values, k_first, k_second = jax.random.split(key, 3)
    values = jax.random.uniform(k_values, (n, length))
    first = jax.random.randint(k_first, (n,), 0, length // 2)
    second = jax.random.randint(k_second, (n,), length // 2, length)
    markers = (jax.nn.one_hot(first, length) + jax.nn.one_hot(second, length))
    x = jnp.stack([values, markers], axis=-1)                  # (n, length, 2)
    y = jnp.sum(values * markers, axis=1, keepdims=True)       # (n, 1)
    return x, y


length = 100 if FULL else 30
train = adding_problem(jax.random.key(1), 4000 if FULL else 2000, length)
val = adding_problem(jax.random.key(2), 500, length)
print("baseline MSE (predict 1.0):", float(jnp.mean((val[1] - 1.0) ** 2)))

cells = {"vanilla RNN": SimpleRNNCell(32), "LSTM": LSTMCell(32), "GRU": GRUCell(32)}
adders, histories = {}, {}
for name, c in cells.items():
    model = Sequential([RNN(c), Dense(1)])
    p, s = model.init(jax.random.key(3), train[0][:1])
    p, s, _, hist = jnn.train.fit(model, p, s, optax.adam(3e-3), jnn.losses.mse, train,
                                  val_data=val, epochs=40 if FULL else 20, batch_size=50,
                                  key=jax.random.key(4), verbose=0)
    adders[name], histories[name] = (model, p, s), hist["val_loss"]
    print(f"{name:12s} validation MSE {hist['val_loss'][-1]:.4f}")
fig = viz.plot_curves(histories, xlabel="epoch", ylabel="validation MSE",
                      title=f"adding problem, T = {length}")
fig.axes[0].axhline(2 / 12, color="0.5", ls=":", label="predict the mean")
fig.axes[0].legend()

# %% [markdown]
# ## 7.3 Vanishing gradients over time
#
# The gradient of the final output with respect to the input at step $t$ is a product of
# $T - t$ Jacobians $\partial h_{k+1}/\partial h_k$. For the Elman cell each factor is
# $\mathrm{diag}(\tanh'(\cdot))\,U^\top$, so the product usually shrinks geometrically
# with the distance: early inputs barely influence the output, and gradient descent can
# hardly learn long-range dependencies. The LSTM's cell state is updated additively,
# $c_t = f_t \odot c_{t-1} + i_t \odot g_t$, so where the forget gates are near 1 the
# gradient flows back almost unchanged. We measure $\|\partial \hat y / \partial x_t\|$
# on sequences three times longer than in training (the weights do not depend on the
# length).
#
# At initialization (dashed) the sensitivity falls geometrically for all three cells, by
# many orders of magnitude over 90 steps; the LSTM, whose forget gates start at
# $\sigma(1) \approx 0.73$, keeps the most. Training on a task that rewards remembering
# (solid) teaches the cells to keep the marked numbers: afterwards the output depends on
# inputs far in the past. The vanilla RNN gets there too at this short length, but its
# error above stays about ten times larger than the gated cells'.

# %%
probe = adding_problem(jax.random.key(5), 200, 3 * length)[0]
sensitivity = {}
for name, (model, p, s) in adders.items():
    init_p, _ = model.init(jax.random.key(3), probe[:1])
    for label, params_ in [("init", init_p), ("trained", p)]:
        grad = jax.grad(lambda x, params_=params_: jnp.sum(model.apply(params_, s, x)[0]))(probe)
        norms = jnp.mean(jnp.linalg.norm(grad, axis=-1), axis=0)    # (time,)
        sensitivity[f"{name}, {label}"] = norms[::-1]              # index = steps before the end
fig, ax = plt.subplots(figsize=(7, 4))
for i, (label, norms) in enumerate(sensitivity.items()):
    ax.plot(np.asarray(norms), color=f"C{i // 2}", ls="--" if "init" in label else "-",
            label=label)
ax.set_yscale("log")
ax.set_xlabel("steps before the output (T - t)")
ax.set_ylabel("mean |d y / d x_t|")
ax.set_title("how far back can the output see?")
ax.legend(fontsize="small", ncol=2)
for name in cells:
    norms = sensitivity[f"{name}, trained"]
    print(f"{name:12s} trained: |dy/dx| at the last step {float(norms[0]):.2e}, "
          f"{3 * length - 1} steps back {float(norms[-1]):.2e}")

# %% [markdown]
# The same shrinking product appears across the layers of a deep sigmoid network
# (notebook 1, section 1.4): depth in time and depth in layers are the same problem.
#
# ## 7.4 Many-to-many: next-step prediction, then free-running generation
#
# Each training sequence is a sine wave with a random frequency and phase; at every step
# the network predicts the next value (`return_sequences=True`, one output per step).
# After training, we warm the GRU up on the start of a new wave and then let it run on its
# own predictions with `jnn.layers.generate`, one `lax.scan` feeding each output back in.

# %%
def waves(key, n, length):
    k_freq, k_phase = jax.random.split(key)
    freq = jax.random.uniform(k_freq, (n, 1), minval=0.1, maxval=0.3)
    phase = jax.random.uniform(k_phase, (n, 1), maxval=2 * jnp.pi)
    t = jnp.arange(length + 1)[None, :]
    signal = jnp.sin(freq * t + phase)[..., None]             # (n, length + 1, 1)
    return signal[:, :-1], signal[:, 1:]                       # inputs, next values


wave_train = waves(jax.random.key(6), 2000 if FULL else 1000, 40)
gru = GRUCell(32)
seq_model = Sequential([RNN(gru, return_sequences=True), Dense(1)])
p_seq, s_seq = seq_model.init(jax.random.key(7), wave_train[0][:1])
p_seq, s_seq, _, hist = jnn.train.fit(seq_model, p_seq, s_seq, optax.adam(1e-2), jnn.losses.mse,
                                      wave_train, epochs=40 if FULL else 20, batch_size=50,
                                      key=jax.random.key(8), verbose=0)
print(f"next-step MSE after training: {hist['loss'][-1]:.2e}")

# Warm up on 40 observed steps of three new waves, then generate 80 steps.
observed, _ = waves(jax.random.key(9), 3, 120)
p_cell, p_dense = p_seq[0], p_seq[1]
(_, carry), _ = RNN(gru, return_state=True).apply(p_cell, {}, observed[:, :40])
first = Dense(1).apply(p_dense, {}, carry)[0]  # the GRU's output is its state h


def step(carry, x):
    carry, h = gru.apply(p_cell, carry, x)
    return carry, Dense(1).apply(p_dense, {}, h)[0]


_, generated = generate(step, carry, first, length=80)
fig, axes = plt.subplots(1, 3, figsize=(13, 3), sharey=True)
for i, ax in enumerate(axes):
    ax.plot(np.arange(121), np.r_[np.asarray(observed[i, :, 0]), np.nan], "k-", lw=1,
            label="true wave")
    ax.plot(np.arange(40, 121), np.r_[float(first[i, 0]), np.asarray(generated[i, :, 0])],
            "C1--", lw=2, label="generated (free-running)")
    ax.axvline(39.5, color="0.6", ls=":")
    ax.set_xlabel("t")
axes[0].legend(fontsize="small", loc="lower left")
axes[0].set_title("warm-up on t < 40, then the GRU runs on its own")
fig.tight_layout()

# %% [markdown]
# **Takeaways.** An RNN is one cell scanned over time (in jnn literally `lax.scan`).
# Gradients through time shrink like gradients through depth, which limits what a vanilla
# RNN can learn about the distant past; gated cells (LSTM, GRU) keep an additive path for
# the state and the gradient, and learn the long-range dependency.
