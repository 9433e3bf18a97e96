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
# # 3 · Hessians and Newton's method
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/jnn/blob/main/notebooks/03_hessians_and_newton.ipynb)
#
# Second-order information: the Hessian of a small network and what its eigenvalues say;
# Newton's method in one and several dimensions against gradient descent (iteration
# counts, quadratic convergence), damping when the Hessian is not positive definite,
# Newton-CG with Hessian-vector products on a larger model; the eigenvalue spectrum and
# its negative part during training; and the top eigenvalue tracked against $2/\eta$:
# progressive sharpening and the edge of stability.

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
from jnn import viz
from jnn.models import MLP

FULL = False  # True: longer training runs and more spectrum snapshots
key = jax.random.key(0)

# %% [markdown]
# ## 3.1 The Hessian of a small network
#
# For a loss $L(\theta)$ over all parameters flattened into $\theta \in \mathbb R^d$, the
# Hessian $H_{ij} = \partial^2 L / \partial\theta_i \partial\theta_j$ is a symmetric
# $d \times d$ matrix. `jnn.curvature.hessian` builds it column by column from
# Hessian-vector products (forward-over-reverse differentiation), in the order of
# `jax.flatten_util.ravel_pytree`. Here: a 2-2-1 tanh network on XOR, $d = 9$.

# %%
x_xor, y_xor = jnn.data.xor()
net = MLP((2, 1), activation="tanh")
params, state = net.init(jax.random.key(1), x_xor)
loss = jnn.objective(net, jnn.losses.mse, state)
batch = (x_xor, y_xor[:, None].astype(jnp.float32))
H, unravel = jnn.curvature.hessian(loss, params, batch)

flat, _ = ravel_pytree(params)
H_ref = jax.hessian(lambda f: loss(unravel(f), batch))(flat)  # the direct (jacfwd(jacrev)) way
print("d =", flat.size, "| symmetric:", bool(jnp.allclose(H, H.T, atol=1e-6)),
      "| equals jax.hessian:", bool(jnp.allclose(H, H_ref, atol=1e-5)))
eigenvalues = jnp.linalg.eigvalsh(H)
print("eigenvalues:", np.round(np.asarray(eigenvalues), 4))

fig, ax = plt.subplots(figsize=(4.5, 4))
scale = float(jnp.abs(H).max())
image = ax.imshow(H, cmap="RdBu_r", vmin=-scale, vmax=scale)
names = [f"{i}:{k[0]}" for i, p in enumerate(params) for k in sorted(p) for _ in
         range(int(np.prod(p[k].shape)))]
ax.set_xticks(range(len(names)), names, rotation=90, fontsize="x-small")
ax.set_yticks(range(len(names)), names, fontsize="x-small")
ax.set_title("Hessian at initialization")
fig.colorbar(image, ax=ax)

# %% [markdown]
# The eigenvalues are the curvatures along the eigenvectors. All positive: a local
# bowl (positive definite); all negative: a cap; mixed signs: a saddle.

# %%
forms = {"positive definite": jnp.diag(jnp.array([1.0, 2.0])),
         "negative definite": jnp.diag(jnp.array([-1.0, -2.0])),
         "indefinite (saddle)": jnp.array([[1.0, 1.5], [1.5, -1.0]])}
grid = np.linspace(-1, 1, 41)
X1, X2 = np.meshgrid(grid, grid)
fig = plt.figure(figsize=(13, 3.8))
for i, (name, A) in enumerate(forms.items()):
    f = lambda x, A=A: 0.5 * x @ A @ x
    hess = jax.hessian(f)(jnp.zeros(2))
    Z = np.asarray(jax.vmap(f)(jnp.stack([X1.ravel(), X2.ravel()], 1))).reshape(X1.shape)
    ax = fig.add_subplot(1, 3, i + 1, projection="3d")
    ax.plot_surface(X1, X2, Z, cmap="viridis", linewidth=0)
    ax.set_title(f"{name}\neigenvalues {np.round(np.asarray(jnp.linalg.eigvalsh(hess)), 2)}",
                 fontsize="small")
fig.tight_layout()

# %% [markdown]
# ## 3.2 Newton's method in one dimension
#
# Minimizing the quadratic Taylor model $f(x_t + \epsilon) \approx f(x_t) + f'(x_t)\epsilon
# + \tfrac12 f''(x_t)\epsilon^2$ gives the Newton step $x_{t+1} = x_t - f'(x_t)/f''(x_t)$.
# Near a minimum it converges *quadratically*: the error is squared every step (the
# number of correct digits doubles), while gradient descent only shrinks it by a
# constant factor. On $f(x) = x^4/4 - x$ (minimum at $x = 1$, $f''(1) = 3$):

# %%
with jax.enable_x64(True):
    f = lambda x: x**4 / 4 - x
    newton_iterates = jnn.optim.newton_1d(f, 2.0, num_steps=7)
    gd_path = viz.optimizer_path(f, optax.sgd(0.2), jnp.float64(2.0), 60)
    newton_errors = np.abs(np.asarray(newton_iterates) - 1.0)
    gd_errors = np.abs(np.asarray(gd_path) - 1.0)
for t, e in enumerate(newton_errors):
    print(f"Newton step {t}: |x - 1| = {e:.3e}")
print("gradient descent (eta = 0.2) needs",
      int(np.argmax(gd_errors < 1e-10)), "steps for |x - 1| < 1e-10;",
      "Newton needs", int(np.argmax(newton_errors < 1e-10)))
fig = viz.plot_curves({"Newton": np.maximum(newton_errors, 1e-16),
                       "gradient descent, eta = 0.2": np.maximum(gd_errors, 1e-16)},
                      xlabel="iteration", ylabel="|x_t - x*|", title="f(x) = x^4/4 - x")

# %% [markdown]
# Where $f'' < 0$ the Newton step goes *uphill*, towards a maximum: on
# $f(x) = x^4/4 - x^2$ (minima at $\pm\sqrt2$, maximum at 0) from $x_0 = 0.5$:

# %%
print("Newton from 0.5 on x^4/4 - x^2:",
      np.round(np.asarray(jnn.optim.newton_1d(lambda x: x**4 / 4 - x**2, 0.5, num_steps=5)), 6))

# %% [markdown]
# ## 3.3 Newton in several dimensions, and damping
#
# In $d$ dimensions the step solves the linear system $H\,p = g$ (never inverting $H$)
# and moves $x_{t+1} = x_t - \eta\,p$; the course's damped variant uses $\eta < 1$.
# `jnn.optim.newton` is an optax transformation: it builds $H$ from Hessian-vector
# products and solves $(H + \lambda I)p = g$ by a Cholesky factorization; when that fails
# ($H + \lambda I$ not positive definite) it raises $\lambda$ and tries again, so the step
# always goes downhill. On Rosenbrock's valley:

# %%
start = jnp.array([-1.2, 1.0])
runs = {"gradient descent (2e-3)": (jnn.optim.sgd(2e-3), 2000),
        "momentum (1e-3, 0.9)": (jnn.optim.momentum(1e-3, 0.9), 2000),
        "Newton": (jnn.optim.newton(), 60),
        "damped Newton (eta = 0.5)": (jnn.optim.newton(learning_rate=0.5), 60)}
paths, counts = {}, {}
for name, (opt, steps) in runs.items():
    path = viz.optimizer_path(viz.rosenbrock, opt, start, steps)
    values = jax.vmap(viz.rosenbrock)(path)
    paths[name] = path
    below = np.flatnonzero(np.asarray(values) < 1e-8)
    counts[name] = int(below[0]) if below.size else None
    print(f"{name:28s} iterations to f < 1e-8: {counts[name] or f'not within {steps}'}")
fig = viz.plot_optimizer_paths(viz.rosenbrock, {k: v[:200] for k, v in paths.items()},
                               minimum=(1.0, 1.0), xlim=(-1.6, 1.6), ylim=(-0.6, 1.8),
                               title="Rosenbrock: first 200 iterates")

# %% [markdown]
# Newton needs a handful of iterations where first-order methods need thousands. The
# damped step ($\eta = 0.5$) is more cautious far from the minimum, but near it the error
# only halves per step: damping trades quadratic for linear convergence.

# %% [markdown]
# Pure Newton is attracted by *any* stationary point, saddles included. On
# $f(x) = x_1^2 - x_2^2 + x_2^4/4$ (a saddle at the origin, minima at
# $(0, \pm\sqrt 2)$) the raw Newton step from $(1, 0.3)$ jumps straight to the saddle.
# `jnn.optim.newton` finds $H$ indefinite there and increases the damping $\lambda$ until
# $H + \lambda I$ is positive definite, which turns the step downhill; with
# `adaptive_damping=True` (Levenberg-Marquardt style) it also lowers $\lambda$ again
# whenever the quadratic model predicts the decrease well, and converges to a minimum.

# %%
def saddle_quartic(x):
    return x[0] ** 2 - x[1] ** 2 + x[1] ** 4 / 4


x0 = jnp.array([1.0, 0.3])
raw = [x0]
for _ in range(6):  # the textbook step x - H^{-1} g, by a linear solve
    x = raw[-1]
    raw.append(x - jnp.linalg.solve(jax.hessian(saddle_quartic)(x), jax.grad(saddle_quartic)(x)))
opt = jnn.optim.newton(adaptive_damping=True)
safe = viz.optimizer_path(saddle_quartic, opt, x0, 12)
state_ = opt.init(x0)
_, state_ = opt.update(jax.grad(saddle_quartic)(x0), state_, x0, value_fn=saddle_quartic)
print("raw Newton ends at", np.round(np.asarray(raw[-1]), 4),
      "| jnn.optim.newton(adaptive_damping=True) ends at", np.round(np.asarray(safe[-1]), 4))
print(f"first step: damping raised to {float(state_.damping):.3g} after "
      f"{int(state_.num_tries)} Cholesky tries")
fig = viz.plot_optimizer_paths(saddle_quartic, {"raw Newton": jnp.stack(raw),
                                                "jnn.optim.newton": safe},
                               xlim=(-1.2, 1.2), ylim=(-2, 2), log_levels=False,
                               title="x1^2 - x2^2 + x2^4/4")

# %% [markdown]
# ## 3.4 Newton-CG on a larger model
#
# Forming $H$ costs $d$ Hessian-vector products and $O(d^3)$ to factor: fine for
# thousands of parameters, not millions. Newton-CG (truncated Newton, "Hessian-free")
# solves $(H + \lambda I)p = g$ approximately by conjugate gradients, touching $H$ only
# through products $Hv$, each about the cost of one gradient. Here a softmax regression
# plus hidden layer on all 1,797 digits ($d \approx 2{,}000$), full batch, with a
# backtracking line search; compared by iterations with gradient descent and Adam.

# %%
x_dg, y_dg = jnn.data.load_digits()
clf = MLP((32, 10), activation="tanh")
p_clf, s_clf = clf.init(jax.random.key(2), x_dg)
flat0, unravel_clf = ravel_pytree(p_clf)
objective = jnn.objective(clf, jnn.losses.softmax_cross_entropy, s_clf)
full_loss = lambda flat: objective(unravel_clf(flat), (x_dg, y_dg))
print("d =", flat0.size)
iterations = 40 if FULL else 20
optimizers = {
    "gradient descent (0.5)": jnn.optim.sgd(0.5),
    "Adam (0.01)": jnn.optim.adam(0.01),
    "Newton-CG + line search": optax.chain(
        jnn.optim.newton_cg(damping=1e-2, tol=1e-2, maxiter=50),
        optax.scale_by_backtracking_linesearch(max_backtracking_steps=15)),
}
curves = {name: jax.vmap(full_loss)(viz.optimizer_path(full_loss, opt, flat0, iterations))
          for name, opt in optimizers.items()}
fig = viz.plot_curves(curves, xlabel="iteration (full batch)", ylabel="training loss",
                      title=f"digits, MLP (32, 10), d = {flat0.size}")
for name, values in curves.items():
    print(f"{name:24s} loss after {iterations} iterations: {float(values[-1]):.4f}")

# %% [markdown]
# Each Newton-CG iteration costs up to `maxiter` Hessian-vector products, so per unit of
# compute it is not free; its strength is a well-conditioned direction in few iterations.
#
# ## 3.5 The eigenvalue spectrum during training
#
# For a model with ~1,000 parameters we can afford the full Hessian at a few points of
# training and compare all its eigenvalues with the stochastic Lanczos quadrature (SLQ)
# estimate of the density (`jnn.curvature.spectral_density`), which needs only
# Hessian-vector products and scales to any model. Networks have a bulk of eigenvalues
# near zero, a few large outliers, and, away from a minimum, negative eigenvalues
# (directions of negative curvature).

# %%
x_sm, y_sm = x_dg[:500], y_dg[:500]
small = MLP((16, 10), activation="tanh")
p_sm, s_sm = small.init(jax.random.key(3), x_sm)
loss_sm = jnn.objective(small, jnn.losses.softmax_cross_entropy, s_sm)
batch_sm = (x_sm, y_sm)
opt = optax.sgd(0.5)


@jax.jit
def train_chunk(params, opt_state):
    def step(carry, _):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss_sm)(params, batch_sm)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value
    return jax.lax.scan(step, (params, opt_state), None, length=100)


hessian_sm = jax.jit(lambda params: jnn.curvature.hessian(loss_sm, params, batch_sm)[0])


def exact_spectrum(params):  # LAPACK through numpy: the fastest dense eigensolver on a CPU
    return np.linalg.eigvalsh(np.asarray(hessian_sm(params), np.float64))


@jax.jit
def slq_density(params):
    hvp = jnn.curvature.hvp_operator(loss_sm, params, batch_sm)
    return jnn.curvature.spectral_density(hvp, params, key=jax.random.key(4), num_iters=60)


snapshots = {}
params_, opt_state = p_sm, opt.init(p_sm)
for step in range(0, 1001 if FULL else 401, 100):
    if step in ((0, 100, 1000) if FULL else (0, 100, 400)):
        snapshots[step] = (params_, exact_spectrum(params_))
    (params_, opt_state), _ = train_chunk(params_, opt_state)

fig, axes = plt.subplots(1, len(snapshots), figsize=(14, 3.6))
for ax, (step, (params_at, evals)) in zip(axes, snapshots.items()):
    viz.plot_hessian_spectrum(slq_density(params_at), eigenvalues=evals, top=evals[-3:], ax=ax,
                              bins=80,
                              title=f"step {step}: loss {float(loss_sm(params_at, batch_sm)):.3f}")
    negative = float(np.mean(evals < -1e-6))
    print(f"step {step:4d}: d = {evals.size}, lambda_max = {float(evals[-1]):.3f}, "
          f"lambda_min = {float(evals[0]):.4f}, {100 * negative:.1f}% negative eigenvalues")
fig.tight_layout()

# %% [markdown]
# ## 3.6 The edge of stability
#
# On a quadratic with curvature $\lambda$, gradient descent with step $\eta$ is stable only
# if $\lambda < 2/\eta$. Cohen et al. (2021) tracked the top eigenvalue of the training
# loss's Hessian (the *sharpness*) during full-batch gradient descent on neural networks
# and found two phases: **progressive sharpening** (the sharpness grows as training goes
# on) until it reaches $2/\eta$, then the **edge of stability**, where the sharpness hovers
# at $2/\eta$ and the loss keeps falling, though no longer monotonically.
#
# A tanh MLP with squared loss on 500 digits; the sharpness is the top eigenvalue by
# Lanczos on Hessian-vector products (`jnn.curvature.top_eigenvalues`), measured every 50
# steps by one compiled function.

# %%
x_eos = (x_sm - x_sm.mean(0)) / (x_sm.std(0) + 1e-3)
targets = jax.nn.one_hot(y_sm, 10)
eos_net = MLP((64, 64, 10), activation="tanh")
p_eos, s_eos = eos_net.init(jax.random.key(0), x_eos)
square = lambda pred, t: 0.5 * jnp.mean(jnp.sum((pred - t) ** 2, axis=-1))
loss_eos = jnn.objective(eos_net, square, s_eos)
batch_eos = (x_eos, targets)


@jax.jit
def sharpness(params, key):
    hvp = jnn.curvature.hvp_operator(loss_eos, params, batch_eos)
    return jnn.curvature.top_eigenvalues(hvp, params, 1, key=key, num_iters=20).eigenvalues[0]


def gradient_descent(learning_rate, measurements, every=50):
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=learning_rate)

    @jax.jit
    def chunk(params, opt_state):
        def step(carry, _):
            params, opt_state = carry
            value, grads = jax.value_and_grad(loss_eos)(params, batch_eos)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value
        return jax.lax.scan(step, (params, opt_state), None, length=every)

    params, opt_state = p_eos, opt.init(p_eos)
    steps, sharp, losses = [], [], []
    for k in range(measurements):
        steps.append(k * every)
        sharp.append(float(sharpness(params, jax.random.key(k))))
        (params, opt_state), values = chunk(params, opt_state)
        losses.append(np.asarray(values))
    return np.array(steps), np.array(sharp), np.concatenate(losses)


measurements = 80 if FULL else 40
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
runs = {eta: gradient_descent(eta, measurements) for eta in (0.2, 0.1)}
for i, (eta, (steps, sharp, losses)) in enumerate(runs.items()):
    axes[0].plot(steps, sharp, color=f"C{i}", label=f"eta = {eta}")
    axes[0].axhline(2 / eta, color=f"C{i}", ls="--", lw=1, label=f"2 / eta = {2 / eta:g}")
    axes[1].plot(losses, color=f"C{i}", label=f"eta = {eta}")
    print(f"eta = {eta}: sharpness {sharp[0]:.2f} at the start, max {sharp.max():.2f}, "
          f"{sharp[-1]:.2f} at the end (2/eta = {2 / eta:g})")
axes[0].set_xlabel("step")
axes[0].set_ylabel("top Hessian eigenvalue")
axes[0].set_title("progressive sharpening, then the edge of stability")
axes[0].legend(fontsize="small")
axes[1].set_yscale("log")
axes[1].set_xlabel("step")
axes[1].set_ylabel("training loss (full batch)")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# With $\eta = 0.2$ the sharpness climbs to $2/\eta = 10$, overshoots a little, and then
# stays there, while the loss keeps falling with small spikes; with $\eta = 0.1$ the
# threshold $2/\eta = 20$ is far away and the sharpness keeps rising slowly. For one run,
# `jnn.viz.plot_sharpness(steps, sharpness, learning_rate=eta, loss=...)` draws this
# figure directly:

# %%
steps, sharp, losses = runs[0.2]
fig = viz.plot_sharpness(steps, sharp, learning_rate=0.2, loss=losses[steps])

# %% [markdown]
# **Takeaways.** The Hessian's eigenvalues are curvatures: they decide how fast
# gradient descent can go ($\eta < 2/\lambda_\max$), and Newton's method rescales every
# direction by its curvature, converging quadratically near a minimum at the price of
# second derivatives, and of care (damping) where the curvature is negative.
