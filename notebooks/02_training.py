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
# # 2 · Training: gradient descent, model selection, optimizers, learning rates
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/jnn/blob/main/notebooks/02_training.ipynb)
#
# Gradient descent on a polynomial fit and the closed-form ridge solution; overfitting and
# choosing a model with a validation set; the first-order optimizers (SGD, momentum,
# Nesterov, Adagrad, RMSprop, Adam, NADAM) racing on the course's test functions and on
# the spirals; the course's five-step tuning recipe on the digits; learning-rate
# schedules and the learning-rate range test.

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
from jnn.models import MLP

FULL = False  # True: more data, more epochs, larger searches
key = jax.random.key(0)

# %% [markdown]
# ## 2.1 Gradient descent on a polynomial fit
#
# The course's data: $y = 5 + 2x + 10x^2 - 2x^3 + \varepsilon$ with $x \in [-2, 5]$ and
# Gaussian noise of standard deviation 5 (`jnn.data.polynomial_regression`). A cubic
# model $f(x) = \theta^\top \phi(x)$ with features $\phi(x) = (1, x, x^2, x^3)$ is linear
# in $\theta$, so the mean squared error
# $R(\theta) = \frac1n \|\Phi\theta - y\|^2$ is a convex quadratic and gradient descent
# $\theta \leftarrow \theta - \eta \nabla R(\theta)$ converges to the least-squares
# solution, provided $\eta < 2/\lambda_\max$ where $\lambda_\max$ is the largest
# eigenvalue of the Hessian $\tfrac2n\Phi^\top\Phi$. Standardizing the features (zero
# mean, unit variance) helps, but $x$, $x^2$, $x^3$ stay strongly correlated: the smallest
# eigenvalue is tiny, and the error along its eigenvector shrinks only by a factor
# $1 - \eta\lambda_\min$ per step. That is the slow tail of the curves below (their floor
# near $10^{-5}$ is float32 rounding of $R \approx 20$).

# %%
n_train = 100 if FULL else 40
x, y = jnn.data.polynomial_regression(jax.random.key(1), n_train)
powers = jnp.concatenate([x**j for j in (1, 2, 3)], axis=1)
z, scaler = jnn.data.standardize(powers)
Phi = jnp.concatenate([jnp.ones_like(x), z], axis=1)  # (n, 4): intercept + standardized powers


def risk(theta):
    return jnp.mean((Phi @ theta - y[:, 0]) ** 2)


theta_lstsq = jnp.linalg.lstsq(Phi, y[:, 0])[0]
curvatures = jnp.linalg.eigvalsh(2 / n_train * Phi.T @ Phi)  # the Hessian of R
print("Hessian eigenvalues:", curvatures, f"-> stable for eta < {2 / curvatures[-1]:.3f}")
etas = jnp.array([0.05, 0.2, 0.3])
# One compiled run for all three step sizes: vmap over eta.
paths = jax.vmap(lambda eta: viz.optimizer_path(risk, optax.sgd(eta), jnp.zeros(4), 3000))(etas)
curves = {f"GD, eta = {float(eta):g}": jax.vmap(risk)(p) - risk(theta_lstsq)
          for eta, p in zip(etas, paths)}
path = paths[-1]
print("GD (eta = 0.3) after 3000 steps:", path[-1], "\nleast squares:                ",
      theta_lstsq)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
viz.plot_curves(curves, ax=axes[0], ylabel="R(theta) - R(theta*)",
                title="gradient descent converges to least squares")
grid = jnp.linspace(-2.0, 5.0, 200)[:, None]
Phi_grid = jnp.concatenate([jnp.ones_like(grid),
                            scaler.apply(jnp.concatenate([grid**j for j in (1, 2, 3)], 1))], 1)
axes[1].scatter(x[:, 0], y[:, 0], s=12, color="0.3", label="data")
axes[1].plot(grid[:, 0], Phi_grid @ path[-1], label="cubic fit by GD")
axes[1].plot(grid[:, 0], 5 + 2 * grid[:, 0] + 10 * grid[:, 0] ** 2 - 2 * grid[:, 0] ** 3, "k--",
             label="true function")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# ## 2.2 Ridge regression: λ = 0, 10, 100 on a degree-10 polynomial
#
# With only 30 points, a degree-10 polynomial can follow the noise. Ridge regression adds
# $\lambda\|\theta\|^2$ to the squared error; its minimizer solves the linear system
#
# $$(\Phi^\top\Phi + \lambda D)\,\theta = \Phi^\top y,$$
#
# which we *solve* (never invert). The course writes $D = I$; here $D$ is the identity
# with a zero for the intercept, so the penalty does not pull the mean of $y$ towards 0.
# Raw powers $x^{10}$ reach $10^7$, so this part runs in float64.

# %%
with jax.enable_x64(True):
    xr, yr = jnn.data.polynomial_regression(jax.random.key(6), 30, dtype=jnp.float64)
    x_true = jnp.linspace(-2.0, 5.0, 400, dtype=jnp.float64)[:, None]
    y_true = 5 + 2 * x_true + 10 * x_true**2 - 2 * x_true**3

    def design(x, degree=10):
        return jnp.concatenate([x**j for j in range(degree + 1)], axis=1)

    D = jnp.diag(jnp.r_[0.0, jnp.ones(10)])
    ridge = {}
    for lam in (0.0, 10.0, 100.0):
        theta = jnp.linalg.solve(design(xr).T @ design(xr) + lam * D, design(xr).T @ yr[:, 0])
        ridge[lam] = np.asarray(theta)
        test_mse = float(jnp.mean((design(x_true) @ theta - y_true[:, 0]) ** 2))
        print(f"lambda = {lam:5.0f}: |theta|^2 = {float(theta[1:] @ theta[1:]):10.3g}, "
              f"MSE to the true curve = {test_mse:8.1f}")
    fits = {lam: np.asarray(design(x_true) @ theta) for lam, theta in ridge.items()}
    xr, yr, x_true, y_true = (np.asarray(a) for a in (xr, yr, x_true, y_true))

fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(xr[:, 0], yr[:, 0], color="0.3", s=14, label="30 noisy points")
ax.plot(x_true[:, 0], y_true[:, 0], "k--", label="true cubic")
for lam, fit in fits.items():
    ax.plot(x_true[:, 0], fit, label=f"degree 10, lambda = {lam:g}")
ax.set_ylim(float(y_true.min()) - 20, float(y_true.max()) + 20)
ax.legend(fontsize="small")
print("coefficients theta_0 .. theta_10:")
for lam, theta in ridge.items():
    print(f"lambda = {lam:5.0f}:", np.array2string(theta, precision=3, suppress_small=True,
                                                   max_line_width=200))

# %% [markdown]
# ## 2.3 Overfitting and model selection with train / validation / test
#
# Which degree should we use? Training error always falls as the degree grows; the error
# on held-out data falls and then rises again. Choose the degree on a **validation** set,
# and report the **test** error of that one choice only: the test set is used once.

# %%
xs, ys = jnn.data.polynomial_regression(jax.random.key(8), 120 if FULL else 60)
split = jnn.data.train_val_test_split(jax.random.key(18), xs, ys, val_fraction=0.25,
                                      test_fraction=0.25)
# Closed-form least squares for 13 degrees: numpy in float64 is the quickest tool here.
(x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (
    tuple(np.asarray(a, np.float64)[:, 0] for a in pair) for pair in split)
degrees = np.arange(0, 13)
errors = {"training": [], "validation": []}
fitted = {}
for d in degrees:
    fitted[d] = np.linalg.lstsq(np.vander(x_tr, d + 1), y_tr, rcond=None)[0]
    errors["training"].append(np.mean((np.vander(x_tr, d + 1) @ fitted[d] - y_tr) ** 2))
    errors["validation"].append(np.mean((np.vander(x_va, d + 1) @ fitted[d] - y_va) ** 2))
best = int(degrees[np.argmin(errors["validation"])])
test_mse = np.mean((np.vander(x_te, best + 1) @ fitted[best] - y_te) ** 2)
n_split = (len(x_tr), len(x_va), len(x_te))

fig = viz.plot_curves(errors, xlabel="polynomial degree", ylabel="mean squared error",
                      title="training vs validation error")
fig.axes[0].axvline(best, color="0.4", ls=":")
print(f"{n_split[0]} training / {n_split[1]} validation / {n_split[2]} test points; "
      f"best degree on validation: {best}; its test MSE: {test_mse:.1f} "
      f"(noise variance: 25)")

# %% [markdown]
# ## 2.4 Optimizers on two-dimensional test functions
#
# `jnn.viz.optimizer_path` runs any optax optimizer on a function of a 2-vector (one
# compiled `lax.scan`), and `plot_optimizer_paths` draws the contours and trajectories.
#
# ### A ravine: $R(\theta) = 10\theta_1^2 + 0.5\theta_2^2$
#
# The Hessian is $\mathrm{diag}(20, 1)$. Gradient descent is stable only for
# $\eta < 2/20 = 0.1$: a small fixed step crawls along the flat $\theta_2$ direction, a
# step close to the limit zig-zags across the steep one. Choosing the step by an exact
# line search ("adaptive step") still zig-zags; per-parameter step sizes (RMSprop, Adam)
# and momentum fix the conditioning itself. For a quadratic with curvatures
# $\mu \le \lambda \le L$ Polyak's heavy ball is fastest with
# $\eta = 4/(\sqrt L + \sqrt\mu)^2 \approx 0.13$ and momentum
# $\beta = \big((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\big)^2 \approx 0.4$, $\kappa = L/\mu = 20$.

# %%
theta0 = jnp.array([3.0, 6.0])
fixed = viz.optimizer_paths(viz.ill_conditioned_quadratic,
                            {"GD, eta = 0.02": optax.sgd(0.02),
                             "GD, eta = 0.095": optax.sgd(0.095)}, theta0, 100)
adaptive = viz.optimizer_paths(
    viz.ill_conditioned_quadratic,
    {"GD + line search": optax.chain(optax.sgd(1.0), optax.scale_by_zoom_linesearch(30)),
     "momentum (0.13, 0.4)": jnn.optim.momentum(0.13, 0.4),
     "RMSprop (0.3)": jnn.optim.rmsprop(0.3)}, theta0, 40)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
window = {"xlim": (-3.5, 3.5), "ylim": (-1.5, 6.5), "minimum": (0.0, 0.0)}
viz.plot_optimizer_paths(viz.ill_conditioned_quadratic, fixed, ax=axes[0], **window,
                         title="fixed step, 100 steps")
viz.plot_optimizer_paths(viz.ill_conditioned_quadratic, adaptive, ax=axes[1], **window,
                         title="adaptive steps and momentum, 40 steps")
fig.tight_layout()
for name, path in {**fixed, **adaptive}.items():
    print(f"{name:22s} R = {float(viz.ill_conditioned_quadratic(path[-1])):.2e} after "
          f"{len(path) - 1} steps")

# %% [markdown]
# ### GD vs SGD: $R(x) = 1.25(x_1 + 6)^2 + (x_2 - 8)^2$
#
# Stochastic gradients are unbiased but noisy. We add Gaussian noise to the exact
# gradient as a stand-in for minibatch noise: with a constant step the iterates do not
# settle at the minimum but keep jittering around it; their running average (black) is
# much closer. A decaying step size (here $\eta_t = 0.1/(1 + t/20)$) lets SGD converge.

# %%
x_start = jnp.array([4.0, -4.0])
noise = dict(gradient_noise=4.0, key=jax.random.key(5))
sgd_paths = {"GD": viz.optimizer_path(viz.shifted_quadratic, optax.sgd(0.1), x_start, 150),
             "SGD, constant step": viz.optimizer_path(viz.shifted_quadratic, optax.sgd(0.1),
                                                      x_start, 150, **noise),
             "SGD, decaying step": viz.optimizer_path(
                 viz.shifted_quadratic,
                 optax.sgd(lambda t: 0.1 / (1 + t / 20)), x_start, 150, **noise)}
smoothed = np.cumsum(np.asarray(sgd_paths["SGD, constant step"]), 0) / np.arange(1, 152)[:, None]
fig = viz.plot_optimizer_paths(viz.shifted_quadratic, sgd_paths, minimum=(-6.0, 8.0),
                               markers=False, title="GD vs SGD (noisy gradients)")
fig.axes[0].plot(smoothed[:, 0], smoothed[:, 1], "k-", lw=2, label="running mean of SGD")
fig.axes[0].legend(fontsize="small")
for name, path in sgd_paths.items():
    print(f"{name:20s} distance to the minimum after 150 steps: "
          f"{float(jnp.linalg.norm(path[-1] - jnp.array([-6.0, 8.0]))):.3f}")

# %% [markdown]
# ### Rosenbrock's valley: all seven optimizers
#
# $f(x) = (1 - x_1)^2 + 100(x_2 - x_1^2)^2$ has its minimum at $(1, 1)$ at the end of a
# long curved valley. Each optimizer gets a learning rate that works well for it (try
# others: most of them diverge or stall outside a narrow range).

# %%
racers = {"SGD (2e-3)": jnn.optim.sgd(2e-3),
          "momentum (1e-3, 0.9)": jnn.optim.momentum(1e-3, 0.9),
          "Nesterov (1e-3, 0.9)": jnn.optim.nesterov(1e-3, 0.9),
          "Adagrad (1.0)": jnn.optim.adagrad(1.0),
          "RMSprop (1e-2)": jnn.optim.rmsprop(1e-2),
          "Adam (0.1)": jnn.optim.adam(0.1),
          "NADAM (0.1)": jnn.optim.nadam(0.1)}
steps = 2000 if FULL else 500
rosen = viz.optimizer_paths(viz.rosenbrock, racers, jnp.array([-1.2, 1.0]), steps)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
viz.plot_optimizer_paths(viz.rosenbrock, rosen, ax=axes[0], minimum=(1.0, 1.0),
                         xlim=(-1.6, 1.6), ylim=(-0.6, 1.8), markers=False,
                         title="paths on Rosenbrock's function")
viz.plot_curves({name: jax.vmap(viz.rosenbrock)(path) for name, path in rosen.items()},
                ax=axes[1], xlabel="iteration", ylabel="f(x)", title="objective per iteration")
fig.tight_layout()

# %% [markdown]
# ## 2.5 The same optimizers training a network on the spirals
#
# Now a real training problem: a two-hidden-layer MLP on the two-class spirals, trained
# with minibatches of 16 by `jnn.train.fit` (each epoch one compiled `lax.scan`). The
# ranking on a toy function does not carry over one to one.

# %%
x_sp, y_sp = jnn.data.spirals(jax.random.key(6), 1024 if FULL else 512, noise=0.05)
spiral_net = MLP((32, 32, 2), activation="tanh")
p_sp, s_sp = spiral_net.init(jax.random.key(7), x_sp)
epochs = 100 if FULL else 50
spiral_opts = {"SGD": jnn.optim.sgd(0.1), "momentum": jnn.optim.momentum(0.05, 0.9),
               "Nesterov": jnn.optim.nesterov(0.05, 0.9), "Adagrad": jnn.optim.adagrad(0.1),
               "RMSprop": jnn.optim.rmsprop(3e-3), "Adam": jnn.optim.adam(1e-2),
               "NADAM": jnn.optim.nadam(1e-2)}
if not FULL:  # each optimizer costs one compilation; the quick run races four of them
    spiral_opts = {k: spiral_opts[k] for k in ("SGD", "Nesterov", "RMSprop", "Adam")}
spiral_losses, spiral_params = {}, {}
for name, opt in spiral_opts.items():
    params, _, _, hist = jnn.train.fit(spiral_net, p_sp, s_sp, opt,
                                       jnn.losses.softmax_cross_entropy, (x_sp, y_sp),
                                       epochs=epochs, batch_size=16, key=jax.random.key(8),
                                       metrics=["accuracy"], verbose=0)
    spiral_losses[name], spiral_params[name] = hist["loss"], params
    print(f"{name:9s} final loss {hist['loss'][-1]:.3f}, accuracy {hist['accuracy'][-1]:.3f}")
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
viz.plot_curves(spiral_losses, ax=axes[0], xlabel="epoch", ylabel="training loss",
                title="spirals, MLP (32, 32), batch 16")
viz.plot_decision_boundary(spiral_net, spiral_params["Adam"], x_sp, y_sp, state=s_sp,
                           ax=axes[1], title="decision boundary after Adam")
fig.tight_layout()

# %% [markdown]
# ## 2.6 The five-step tuning recipe, on the digits
#
# The course's recipe for tuning a network, run on the 8×8 handwritten digits (1,797
# images, 64 pixels) with an MLP and SGD with momentum. The hyperparameter searches train
# all configurations at once (`jax.vmap` over trials, one compiled program).
#
# **Step 1. Overfit a small sample.** With ~5 minibatches, the network must reach 100%
# training accuracy; if the loss does not fall the learning rate is too low or the
# initialization bad, if it explodes the rate is too high.

# %%
x_dg, y_dg = jnn.data.load_digits()
train, val, test = jnn.data.train_val_test_split(jax.random.key(9), x_dg, y_dg,
                                                 val_fraction=0.2, test_fraction=0.2,
                                                 stratify=True)
digit_net = MLP((64, 10))
p_dg, s_dg = digit_net.init(jax.random.key(10), train[0])


def sgd_with_decay(learning_rate, weight_decay):
    return optax.chain(jnn.optim.add_decayed_weights(weight_decay),
                       optax.sgd(learning_rate, momentum=0.9))


small = (train[0][:160], train[1][:160])
_, _, _, hist = jnn.train.fit(digit_net, p_dg, s_dg, sgd_with_decay(0.05, 0.0),
                              jnn.losses.softmax_cross_entropy, small, epochs=60,
                              batch_size=32, key=key, metrics=["accuracy"], verbose=0)
print(f"step 1: training accuracy on 160 images after 60 epochs: {hist['accuracy'][-1]:.3f}")

# %% [markdown]
# **Step 2. Find a learning rate that makes the loss drop** within about 100 iterations
# (3 epochs of 33 minibatches), with a small weight decay: try 0.1, 0.01, 0.001, 0.0001,
# each from three random initializations (`"seed"`).
#
# (All three searches train 12 configurations with the same metrics, so they share one
# compiled program.)

# %%
search = dict(batch_size=32, metrics=["accuracy"])
step2 = jnn.train.grid_search(
    digit_net, sgd_with_decay, jnn.losses.softmax_cross_entropy, train, val,
    {"learning_rate": [0.1, 0.01, 0.001, 0.0001], "weight_decay": [1e-4], "seed": [0, 1, 2]},
    epochs=3, key=jax.random.key(11), **search)
print(step2)
fig = step2.plot("loss")

# %% [markdown]
# **Step 3. Search learning rate × weight decay jointly** for a few epochs (weight decay
# 1e-5, 1e-6, 0), scored by validation accuracy.

# %%
step3 = jnn.train.grid_search(
    digit_net, sgd_with_decay, jnn.losses.softmax_cross_entropy, train, val,
    {"learning_rate": [0.3, 0.1, 0.03, 0.01], "weight_decay": [1e-5, 1e-6, 0.0]},
    epochs=5, key=jax.random.key(12), monitor="val_accuracy", mode="max", **search)
print(step3)

# %% [markdown]
# **Step 4. Refine around the best values** with a random search (log-uniform ranges),
# training longer without learning-rate decay.

# %%
best_lr = step3.best.hparams["learning_rate"]
step4 = jnn.train.random_search(
    digit_net, sgd_with_decay, jnn.losses.softmax_cross_entropy, train, val,
    {"learning_rate": jnn.train.LogUniform(best_lr / 3, best_lr * 3),
     "weight_decay": jnn.train.LogUniform(1e-7, 1e-4)},
    num_trials=12, epochs=20 if FULL else 10, key=jax.random.key(13),
    monitor="val_accuracy", mode="max", **search)
print(step4)

# %% [markdown]
# **Step 5. Read the learning curves** of the chosen configuration. Loss not falling at
# first: change the initialization. Loss stalling: lower the learning rate. Training and
# validation accuracy both still rising: train longer. Training accuracy rising while
# validation accuracy falls: overfitting, so regularize more or get more data.

# %%
chosen = step4.best.hparams
params, state, _, hist = jnn.train.fit(
    digit_net, p_dg, s_dg, sgd_with_decay(**chosen), jnn.losses.softmax_cross_entropy,
    train, val_data=val, epochs=40 if FULL else 20, batch_size=32, key=jax.random.key(14),
    metrics=["accuracy"], verbose=0)
fig = viz.plot_learning_curves(hist, mark_best="val_loss")
scores = jnn.train.evaluate(digit_net, params, state, jnn.losses.softmax_cross_entropy, test,
                            metrics=["accuracy"])
print("chosen:", {k: f"{v:.3g}" for k, v in chosen.items()},
      f"-> test accuracy {scores['accuracy']:.3f} (the test set is used once, here)")
fig = viz.plot_confusion_matrix(test[1], jnn.train.predict(digit_net, params, state, test[0]))

# %% [markdown]
# ## 2.7 Learning-rate schedules
#
# SGD's gradient noise does not vanish at the minimum, so a constant step keeps jittering;
# decaying the rate lets it settle. Cyclical schedules raise the rate again from time to
# time (to cross saddle regions) and warm restarts reset it abruptly. The course's linear
# decay is $\alpha_t = (1 - t/\tau)\,\alpha_0 + (t/\tau)\,\alpha_\tau$ for $t \le \tau$
# (one slide expands it with a sign error; this is the correct form).

# %%
T = 200
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
viz.plot_schedules({"constant": jnn.optim.constant_schedule(0.1),
                    "step decay (x0.5 every 50)": jnn.optim.step_decay(0.1, 0.5, 50),
                    "exponential decay": jnn.optim.exponential_decay(0.1, T, 0.05),
                    "linear decay to 0.01 at 150": jnn.optim.linear_schedule(0.1, 0.01, 150),
                    "cosine decay": jnn.optim.cosine_decay_schedule(0.1, T)}, T, ax=axes[0])
viz.plot_schedules({"triangular": jnn.optim.triangular_schedule(0.01, 0.1, 25),
                    "triangular, halving": jnn.optim.triangular2_schedule(0.01, 0.1, 25),
                    "cosine, warm restarts": jnn.optim.cosine_warm_restarts(0.1, 50),
                    "warmup + cosine": jnn.optim.warmup_cosine_decay_schedule(0.0, 0.1, 20, T)},
                   T, ax=axes[1])
axes[0].set_title("decaying schedules")
axes[1].set_title("cyclical schedules and restarts")
fig.tight_layout()

# %% [markdown]
# ## 2.8 The learning-rate range test
#
# Smith's "LR finder": train for a few hundred steps while raising the learning rate
# exponentially from $10^{-5}$ to $10$, and plot the loss against the rate. A good rate
# lies where the loss falls fastest, a little before it turns up and diverges.

# %%
n_batches = len(train[0]) // 32
batches = jax.tree.map(lambda a: a[: n_batches * 32].reshape(n_batches, 32, *a.shape[1:]), train)
loss_fn = jnn.objective(digit_net, jnn.losses.softmax_cross_entropy, s_dg)
result = jnn.optim.lr_range_test(loss_fn, p_dg, batches,
                                 lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
                                 min_lr=1e-5, max_lr=10.0, num_steps=300 if FULL else 150,
                                 key=jax.random.key(15))
fig = result.plot()
print(f"suggested learning rate: {result.suggested_lr:.3g} "
      f"(the grid search above preferred {best_lr:g})")
