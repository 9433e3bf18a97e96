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
# # 5 · Regularization
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/jnn/blob/main/notebooks/05_regularization.ipynb)
#
# Everything that trades a little training fit for better generalization: L2 weight decay
# and L1, dropout (and why its weight-scaling rule is exact for one logistic unit),
# max-norm constraints, early stopping, ensembles, data augmentation, label smoothing;
# then adversarial examples, a network memorizing random labels, and the spirals'
# decision boundary across L2 strength and hidden-layer size.

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
import functools
import itertools

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jnn
from jnn import viz
from jnn.models import MLP

FULL = False  # True: more data, more epochs, the full hidden-size sweep
key = jax.random.key(0)
xent = jnn.losses.softmax_cross_entropy

# %% [markdown]
# ## 5.1 L2 and L1 penalties
#
# Ridge regression on the course's $y = 3x_1 - 2x_2 + \varepsilon$: gradient descent on
# $R(w) + \tfrac\lambda2\|w\|^2$ (`jnn.optim.l2_penalty` carries the $\tfrac12$) ends
# closer to the origin the larger $\lambda$ is. The contours are those of the
# unregularized risk $R$.

# %%
x_lin, y_lin = jnn.data.linear_regression(jax.random.key(1), 50)


def risk(w):
    return jnp.mean((x_lin @ w - y_lin[:, 0]) ** 2)


w0 = jnp.array([-1.0, 2.0])
ridge_paths = {f"lambda = {lam:g}": viz.optimizer_path(
    lambda w, lam=lam: risk(w) + lam * jnn.optim.l2_penalty(w, mask=None), optax.sgd(0.1), w0, 60)
    for lam in (0.0, 0.5, 2.0, 8.0)}
fig = viz.plot_optimizer_paths(risk, ridge_paths, minimum=(0.0, 0.0), xlim=(-1.5, 3.5),
                               ylim=(-2.8, 2.5), title="ridge: GD paths pulled to the origin")
for name, path in ridge_paths.items():
    print(f"{name:13s} w = {np.round(np.asarray(path[-1]), 3)}")

# %% [markdown]
# **Weight decay is L2 for plain SGD.** Shrinking the weights by a factor $(1 - \eta\lambda)$
# every step (decoupled weight decay, `jnn.optim.add_decayed_weights`, Hanson and Pratt
# 1988) gives exactly the iterates of SGD on the L2-penalized loss. With adaptive
# optimizers such as Adam the two differ (Loshchilov and Hutter 2019), hence AdamW.

# %%
lam, eta = 0.5, 0.1
penalized = viz.optimizer_path(lambda w: risk(w) + lam * jnn.optim.l2_penalty(w, mask=None),
                               optax.sgd(eta), w0, 60)
decayed = viz.optimizer_path(risk, optax.chain(jnn.optim.add_decayed_weights(lam, mask=None),
                                               optax.sgd(eta)), w0, 60)
print("SGD: max |L2 penalty path - weight decay path| =",
      float(jnp.max(jnp.abs(penalized - decayed))))
adam_l2 = viz.optimizer_path(lambda w: risk(w) + lam * jnn.optim.l2_penalty(w, mask=None),
                             optax.adam(eta), w0, 60)
adamw = viz.optimizer_path(risk, optax.adamw(eta, weight_decay=lam), w0, 60)
print("Adam: L2 penalty ends at", np.round(np.asarray(adam_l2[-1]), 3), " AdamW ends at",
      np.round(np.asarray(adamw[-1]), 3))

# %% [markdown]
# **L1 makes weights exactly zero.** With 20 features of which only two matter, the L1
# penalty $\lambda\|w\|_1$ (`jnn.optim.l1_penalty`) switches most irrelevant weights off,
# while L2 shrinks the large weights and leaves every weight non-zero. (Plain gradient steps on $|w|$ jitter around zero; the
# proximal step, soft-thresholding, lands on it, so we use that for L1.)

# %%
n_features = 20
true_w = jnp.zeros(n_features).at[:2].set(jnp.array([3.0, -2.0]))
x_sp, y_sp = jnn.data.linear_regression(jax.random.key(2), 40, weights=tuple(true_w.tolist()))


def sparse_risk(w):
    return jnp.mean((x_sp @ w - y_sp[:, 0]) ** 2)


def soft_threshold(threshold):
    """The proximal step of threshold * |w|_1, as an optax transformation after the step."""
    def update(updates, state, params):
        w = params + updates
        return jnp.sign(w) * jnp.maximum(jnp.abs(w) - threshold, 0.0) - params, state
    return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


eta, lam = 0.05, 0.2
weights = {
    "no penalty": viz.optimizer_path(sparse_risk, optax.sgd(eta), jnp.zeros(n_features), 500)[-1],
    "L2": viz.optimizer_path(lambda w: sparse_risk(w) + lam * jnn.optim.l2_penalty(w, mask=None),
                             optax.sgd(eta), jnp.zeros(n_features), 500)[-1],
    "L1 (proximal)": viz.optimizer_path(sparse_risk, optax.chain(optax.sgd(eta),
                                        soft_threshold(eta * lam)), jnp.zeros(n_features),
                                        500)[-1]}
fig, ax = plt.subplots(figsize=(9, 3.2))
for i, (name, w) in enumerate(weights.items()):
    ax.bar(np.arange(n_features) + 0.27 * (i - 1), np.asarray(w), width=0.27, label=name)
    print(f"{name:14s} w_1, w_2 = {np.round(np.asarray(w[:2]), 2)}, exact zeros: "
          f"{int(jnp.sum(w == 0))} of {n_features}")
ax.set_xlabel("feature")
ax.set_ylabel("weight")
ax.set_title("true weights (3, -2, 0, ..., 0)")
ax.legend()

# %% [markdown]
# ## A small problem that overfits
#
# For the rest of the notebook: 300 handwritten digits to train on (the UCI 8×8 digits),
# 300 for validation and the rest for testing, and an MLP with two hidden layers of 256
# units, big enough to memorize its training set.

# %%
x_dg, y_dg = jnn.data.load_digits()
n_train = 600 if FULL else 300
train_all, test = jnn.data.train_test_split(jax.random.key(3), x_dg, y_dg, test_fraction=0.3,
                                            stratify=True)
train = jax.tree.map(lambda a: a[:n_train], train_all)
val = jax.tree.map(lambda a: a[n_train:n_train + 300], train_all)
epochs = 200 if FULL else 100
big = MLP((256, 256, 10))
p0, s0 = big.init(jax.random.key(4), train[0])
adam = optax.adam(1e-3)
common = dict(epochs=epochs, batch_size=50, metrics=["accuracy"], verbose=0)
_, _, _, h_plain = jnn.train.fit(big, p0, s0, adam, xent, train, val_data=val,
                                 key=jax.random.key(5), **common)
fig = viz.plot_learning_curves(h_plain, mark_best="val_loss")
print(f"no regularization: train accuracy {h_plain['accuracy'][-1]:.3f}, "
      f"best validation accuracy {h_plain['val_accuracy'].max():.3f}")

# %% [markdown]
# ## 5.2 Early stopping
#
# The validation loss bottoms out long before the training loss. `EarlyStopping` stops
# when `val_loss` has not improved for `patience` epochs and returns the parameters of the
# best epoch. Same model, optimizer and loss as above, so `fit` reuses its compiled epoch.

# %%
stop = jnn.train.EarlyStopping("val_loss", patience=10, restore_best=True)
p_es, s_es, _, h_es = jnn.train.fit(big, p0, s0, adam, xent, train, val_data=val,
                                    key=jax.random.key(5), callbacks=[stop], **common)
print(h_es.stop_reason)
scores = {}
scores["early stopping"] = jnn.train.evaluate(big, p_es, s_es, xent, test,
                                              metrics=["accuracy"])["accuracy"]

# %% [markdown]
# ## 5.3 Weight decay, dropout and max-norm on the MLP
#
# - **L2 penalty** $\tfrac\lambda2\|w\|^2$ on the weights (not the biases): its gradient
#   $\lambda w$ is added by `add_decayed_weights` *before* Adam, so this is Adam on the
#   L2-penalized loss (AdamW would apply the decay after Adam's scaling).
# - **Dropout** (`MLP(..., dropout_rate=0.5)`): in training each hidden unit is dropped
#   with probability $p$ and the survivors are scaled by $1/(1-p)$ (inverted dropout), so
#   at test time the network is used as is.
# - **Max-norm** (`jnn.optim.max_norm(c)`, last in the chain): after each step, every
#   unit's incoming weight vector is projected back into the ball $\|w\|_2 \le c$.

# %%
variants = {
    "L2 1e-3": (big, optax.chain(jnn.optim.add_decayed_weights(1e-3), optax.adam(1e-3))),
    "dropout 0.5": (MLP((256, 256, 10), dropout_rate=0.5), adam),
    "max-norm 1.0": (big, optax.chain(optax.adam(1e-3), jnn.optim.max_norm(1.0))),
}
histories = {"none": h_plain}
trained = {}
for name, (model, opt) in variants.items():
    p, s = (p0, s0) if model is big else model.init(jax.random.key(4), train[0])
    p, s, _, h = jnn.train.fit(model, p, s, opt, xent, train, val_data=val,
                               key=jax.random.key(5), **common)
    histories[name], trained[name] = h, (model, p, s)
    scores[name] = jnn.train.evaluate(model, p, s, xent, test, metrics=["accuracy"])["accuracy"]
fig = viz.plot_curves({name: h["val_loss"] for name, h in histories.items()}, xlabel="epoch",
                      ylabel="validation loss", title="300 training digits, MLP (256, 256)")
_, p_mn, _ = trained["max-norm 1.0"]
_, p_l2, _ = trained["L2 1e-3"]
for name, p in [("L2 1e-3", p_l2), ("max-norm 1.0", p_mn)]:
    norms = jnp.linalg.norm(p[2]["kernel"], axis=0)  # second layer: one norm per unit
    print(f"{name:12s} incoming-weight norms of the second layer: median "
          f"{float(jnp.median(norms)):.2f}, max {float(norms.max()):.2f}")

# %% [markdown]
# ### Dropout as model averaging
#
# Every dropout mask $\mu$ picks a thinned sub-network; training with dropout trains
# all $2^N$ of them at once, sharing weights. At test time we would like their average
# prediction. Using the network with weights scaled by the keep probability (what inverted
# dropout does implicitly) approximates the **normalized weighted geometric mean** of the
# sub-networks, and for a single logistic unit $O = \sigma(S)$, $S = \sum_j w_j I_j$, it is
# exact (Baldi and Sadowski 2013):
#
# $$\mathrm{NWGM} = \frac{\prod_\mu O_\mu^{P(\mu)}}{\prod_\mu O_\mu^{P(\mu)} +
#   \prod_\mu (1 - O_\mu)^{P(\mu)}} = \sigma\Big(\sum_j w_j\, p_j\, I_j\Big),$$
#
# with $p_j$ the probability of *keeping* input $j$. We check it by enumerating all
# $2^{12}$ masks; the arithmetic mean of the sub-networks' outputs is close but not equal.

# %%
n_inputs = 12
k_w, k_i, k_p = jax.random.split(jax.random.key(6), 3)
w = jax.random.normal(k_w, (n_inputs,))
inputs = jax.random.normal(k_i, (n_inputs,))
keep = jax.random.uniform(k_p, (n_inputs,), minval=0.3, maxval=0.9)
with jax.enable_x64(True):
    w64, i64, keep64 = (a.astype(jnp.float64) for a in (w, inputs, keep))
    masks = jnp.array(list(itertools.product([0.0, 1.0], repeat=n_inputs)))  # (4096, 12)
    probs = jnp.prod(jnp.where(masks == 1, keep64, 1 - keep64), axis=1)      # P(mask)
    outputs = jax.nn.sigmoid(masks @ (w64 * i64))                             # O for each mask
    G = jnp.exp(jnp.sum(probs * jnp.log(outputs)))
    G_prime = jnp.exp(jnp.sum(probs * jnp.log1p(-outputs)))
    nwgm = float(G / (G + G_prime))
    weight_scaled = float(jax.nn.sigmoid(jnp.sum(w64 * keep64 * i64)))
    arithmetic = float(jnp.sum(probs * outputs))
    total_probability = float(probs.sum())
print(f"sum of P(mask) = 1: {total_probability:.12f}")
print(f"NWGM over 4096 sub-networks  {nwgm:.12f}\nsigma(sum_j w_j p_j I_j)     "
      f"{weight_scaled:.12f}\narithmetic mean E[O]         {arithmetic:.12f}")
assert abs(nwgm - weight_scaled) < 1e-12

# %% [markdown]
# For the trained dropout MLP, compare the deterministic test-time network with Monte
# Carlo averaging over 30 random masks ("MC dropout"):

# %%
model_do, p_do, s_do = trained["dropout 0.5"]
x_test, y_test = test
mc_probs = jnp.mean(jax.vmap(lambda k: jax.nn.softmax(
    model_do.apply(p_do, s_do, x_test, key=k, train=True)[0]))(jax.random.split(key, 30)), 0)
det_probs = jax.nn.softmax(model_do.apply(p_do, s_do, x_test)[0])
print(f"test accuracy, weight scaling (deterministic): "
      f"{float(jnn.losses.accuracy(det_probs, y_test)):.3f}; MC average of 30 masks: "
      f"{float(jnn.losses.accuracy(mc_probs, y_test)):.3f}; predictions agree on "
      f"{float(jnp.mean(det_probs.argmax(-1) == mc_probs.argmax(-1))):.3f} of the test set")

# %% [markdown]
# ## 5.4 Ensembles
#
# Bagging trains several networks on bootstrap resamples of the data (and from different
# initializations) and averages their predicted probabilities. `jnn.train.train_ensemble`
# trains all members at once with `jax.vmap`.

# %%
ensemble = jnn.train.train_ensemble(big, adam, xent, train, num_members=5, epochs=30,
                                    batch_size=50, key=jax.random.key(7))
gain = ensemble.gain(test)
print("member test accuracies:", np.round(gain["members"], 3),
      f"\nmean member {gain['member_mean']:.3f} -> ensemble {gain['ensemble']:.3f}")
scores["ensemble of 5"] = gain["ensemble"]

# %% [markdown]
# ## 5.5 Data augmentation
#
# More (fake) data: each training digit is copied with a random shift of up to one pixel
# (`jnn.data.random_crop` with a one-pixel zero border) and a little pixel noise
# (`jnn.data.add_noise`). No flips: a mirrored 2 is no digit, and a 6 turned around is a 9.

# %%
images = train[0].reshape(-1, 8, 8, 1)
copies = 4
keys = jax.random.split(jax.random.key(8), 2 * copies)
augmented = [images] + [
    jnn.data.add_noise(keys[2 * c + 1], jnn.data.random_crop(keys[2 * c], images, padding=1),
                       0.05, clip=(0.0, 1.0)) for c in range(copies)]
aug_x = jnp.concatenate(augmented).reshape(-1, 64)
aug_y = jnp.tile(train[1], copies + 1)
fig = viz.plot_images(jnp.stack([a[0] for a in augmented] + [a[1] for a in augmented]),
                      ncols=copies + 1)
fig.suptitle("original (left) and four augmented copies", y=1.05)
p_aug, s_aug, _, h_aug = jnn.train.fit(big, p0, s0, adam, xent, (aug_x, aug_y), val_data=val,
                                       key=jax.random.key(5),
                                       **(common | {"epochs": epochs // (copies + 1) * 2}))
scores["augmentation x5"] = jnn.train.evaluate(big, p_aug, s_aug, xent, test,
                                               metrics=["accuracy"])["accuracy"]

# %% [markdown]
# ## 5.6 Label smoothing
#
# Hard 0/1 targets push the logits to grow forever. Label smoothing replaces the target by
# $1 - \varepsilon$ for the true class and $\varepsilon/(K-1)$ for each other class (the
# course's convention, `smoothing_convention="others"`; optax spreads $\varepsilon/K$ over
# all classes). The model ends less over-confident.

# %%
smoothed = functools.partial(xent, label_smoothing=0.1, smoothing_convention="others")
p_ls, s_ls, _, h_ls = jnn.train.fit(big, p0, s0, adam, smoothed, train, val_data=val,
                                    key=jax.random.key(5), **common)
p_pl, s_pl, _, _ = jnn.train.fit(big, p0, s0, adam, xent, train, key=jax.random.key(5),
                                 **common)
scores["label smoothing 0.1"] = jnn.train.evaluate(big, p_ls, s_ls, xent, test,
                                                   metrics=["accuracy"])["accuracy"]
fig, ax = plt.subplots(figsize=(6, 3.4))
for name, (p, s) in {"hard labels": (p_pl, s_pl), "label smoothing 0.1": (p_ls, s_ls)}.items():
    confidence = jax.nn.softmax(big.apply(p, s, x_test)[0]).max(-1)
    ax.hist(np.asarray(confidence), bins=np.linspace(0.3, 1, 36), alpha=0.6, label=name)
ax.set_xlabel("max softmax probability on the test set")
ax.set_yscale("log")
ax.legend()

# %%
scores["none"] = jnn.train.evaluate(big, p_pl, s_pl, xent, test, metrics=["accuracy"])["accuracy"]
print("test accuracy with 300 training digits:")
for name, acc in sorted(scores.items(), key=lambda item: item[1]):
    print(f"  {name:22s} {acc:.3f}")

# %% [markdown]
# ## 5.7 Adversarial examples
#
# The fast gradient sign method (Goodfellow et al. 2015) moves every pixel by $\epsilon$
# in the direction that increases the loss, $x' = x + \epsilon\,\mathrm{sign}(\nabla_x L)$.
# Barely visible changes flip the network's predictions. (`jnn.train.fgsm` builds the
# attack; `fit(..., attack=...)` would train on attacked batches: adversarial training.)

# %%
attack = jnn.train.fgsm(big, xent, epsilon=1.0)
direction = attack(p_pl, s_pl, x_test, y_test) - x_test  # sign of the input gradient
predict = jax.jit(lambda x: big.apply(p_pl, s_pl, x)[0])
epsilons = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2]
robust = [float(jnn.losses.accuracy(predict(jnp.clip(x_test + e * direction, 0, 1)), y_test))
          for e in epsilons]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 1.6]})
axes[0].plot(epsilons, robust, "o-")
axes[0].set_xlabel("epsilon (pixels in [0, 1])")
axes[0].set_ylabel("test accuracy")
axes[0].set_title("FGSM")
shown = np.array([int(np.flatnonzero(np.asarray(y_test) == digit)[0]) for digit in range(6)])
x_adv = jnp.clip(x_test[shown] + 0.1 * direction[shown], 0, 1)
viz.plot_images(jnp.concatenate([x_test[shown], x_adv]), ax=axes[1], ncols=6)
axes[1].set_title("clean (top) and epsilon = 0.1 (bottom): predictions "
                  f"{predict(x_test[shown]).argmax(-1).tolist()} -> "
                  f"{predict(x_adv).argmax(-1).tolist()}", fontsize="small")
fig.tight_layout()

# %% [markdown]
# ## 5.8 Memorization: random labels
#
# Shuffle the labels, so there is nothing to learn, and train the same network: it still
# reaches (nearly) 100% training accuracy by memorizing, while its validation accuracy
# stays at chance (10%). Training accuracy alone says nothing about generalization
# (Zhang et al. 2017).

# %%
random_labels = jax.random.permutation(jax.random.key(9), train[1])
_, _, _, h_random = jnn.train.fit(big, p0, s0, adam, xent, (train[0], random_labels),
                                  val_data=val, key=jax.random.key(5),
                                  **(common | {"epochs": 2 * epochs}))
fig = viz.plot_curves({"true labels: training": h_plain["accuracy"],
                       "true labels: validation": h_plain["val_accuracy"],
                       "random labels: training": h_random["accuracy"],
                       "random labels: validation": h_random["val_accuracy"]},
                      xlabel="epoch", ylabel="accuracy", log=False)

# %% [markdown]
# ## 5.9 The spirals: decision boundaries across L2 strength and hidden size
#
# The course's picture: one hidden layer on the two-class spirals. A stronger L2 penalty
# $\lambda$ gives smoother boundaries (and eventually underfits); more hidden units give
# more flexible ones. The $\lambda$ sweep trains all models at once
# (`jnn.train.batched_fit`, one vmapped program).

# %%
x_sp, y_sp = jnn.data.spirals(jax.random.key(10), 300, noise=0.08)
net10 = MLP((30, 2), activation="relu")
decays = jnp.array([0.0, 1e-3, 3e-3, 1e-2])
stack = jax.vmap(lambda k: net10.init(k, x_sp))(jax.random.split(jax.random.key(11), 1))
params_l2, state_l2 = jax.tree.map(lambda a: jnp.repeat(a, len(decays), 0), stack)
params_l2, state_l2, curves = jnn.train.batched_fit(
    net10, params_l2, state_l2,
    lambda learning_rate, weight_decay: optax.chain(
        jnn.optim.add_decayed_weights(weight_decay), optax.adam(learning_rate)),
    {"learning_rate": jnp.full(len(decays), 0.03), "weight_decay": decays}, xent,
    (x_sp, y_sp), epochs=200 if FULL else 100, batch_size=30, key=jax.random.key(12))

sizes = [1, 2, 3, 5, 10, 100] if FULL else [2, 5, 100]
by_size = {}
for h in sizes:
    model = MLP((h, 2), activation="relu")
    p, s = model.init(jax.random.key(13), x_sp)
    p, s, _, _ = jnn.train.fit(model, p, s, optax.adam(0.03), xent, (x_sp, y_sp),
                               epochs=200 if FULL else 100, batch_size=30,
                               key=jax.random.key(14), verbose=0)
    by_size[h] = (model, p, s)

fig, axes = plt.subplots(2, max(len(decays), len(sizes)), figsize=(14, 6.6), squeeze=False)
for i, wd in enumerate(decays):
    member = jax.tree.map(lambda a, i=i: a[i], (params_l2, state_l2))
    viz.plot_decision_boundary(net10, member[0], x_sp, y_sp, state=member[1], ax=axes[0, i],
                               resolution=120, title=f"30 hidden units, L2 {float(wd):g}")
for j, (h, (model, p, s)) in enumerate(by_size.items()):
    viz.plot_decision_boundary(model, p, x_sp, y_sp, state=s, ax=axes[1, j], resolution=120,
                               title=f"{h} hidden units")
for ax in axes.ravel():
    if not ax.has_data():
        ax.set_visible(False)
fig.tight_layout()

# %% [markdown]
# **Takeaways.** Every method above holds the training fit back a little: penalties pull
# the weights towards zero, dropout and ensembles average many models, augmentation and
# label smoothing change the data, early stopping stops the optimizer. Which one helps
# most depends on the problem; measure on a validation set, and touch the test set once.
