"""First-order optimizers of jnn.optim against optax, papers (numpy) and PyTorch.

Layout: (1) leaf-by-leaf equality with optax over 100 steps on a small MLP;
(2) numpy transcriptions of the papers where jnn's algorithm differs from optax's;
(3) how the momentum and Nesterov forms relate; (4) the contract battery over one
registry of every optimizer; (5) bad input. Trajectories run as one ``lax.scan``
under ``jit`` so each comparison compiles once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close, tol

import jnn.optim as jo

# ---------------------------------------------------------------- problems


def mlp_problem(dtype):
    """A 4-8-3 tanh MLP regression loss and its initial params (``dtype`` leaves)."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(16, 4)), dtype)
    y = jnp.asarray(rng.normal(size=(16, 3)), dtype)
    raw = {
        "layers": [
            {"kernel": rng.normal(size=(4, 8)) * 0.7, "bias": rng.normal(size=8) * 0.1},
            {"kernel": rng.normal(size=(8, 3)) * 0.7, "bias": rng.normal(size=3) * 0.1},
        ]
    }
    params = jax.tree.map(lambda a: jnp.asarray(a, dtype), raw)

    def loss(p):
        (l1, l2) = p["layers"]
        h = jnp.tanh(x @ l1["kernel"] + l1["bias"][None, :])
        out = h @ l2["kernel"] + l2["bias"][None, :]
        return jnp.mean((out - y) ** 2)

    return loss, params


def trajectories(opts, loss, params, steps=100, with_loss=False):
    """Parameters after each of ``steps`` steps, for each optimizer (one compile)."""

    def run_one(opt):
        def step(carry, _):
            p, s = carry
            g = jax.grad(loss)(p)
            u, s = opt.update(g, s, p, value_fn=loss) if with_loss else opt.update(g, s, p)
            p = optax.apply_updates(p, u)
            return (p, s), p

        _, traj = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return traj

    return jax.jit(lambda: [run_one(o) for o in opts])()


def reference_trajectory(init, step, loss, params, steps=100):
    """Run a numpy transcription ``step(state, g, t) -> (update, state)`` per leaf."""
    grad = jax.jit(jax.grad(loss))
    leaves, treedef = jax.tree.flatten(params)
    p = [np.asarray(leaf, np.float64) for leaf in leaves]
    states = [init(leaf) for leaf in p]
    traj = []
    for t in range(1, steps + 1):
        g = [np.asarray(leaf) for leaf in jax.tree.leaves(grad(jax.tree.unflatten(treedef, p)))]
        for i in range(len(p)):
            u, states[i] = step(states[i], g[i], t)
            p[i] = p[i] + u
        traj.append([leaf.copy() for leaf in p])
    stacked = [np.stack([row[i] for row in traj]) for i in range(len(p))]
    return jax.tree.unflatten(treedef, stacked)


def use_dtype(request, dtype):
    if dtype == jnp.float64:
        request.getfixturevalue("x64")


# ---------------------------------------------------------------- 1. against optax

LR_SCHEDULE = optax.linear_schedule(0.1, 0.02, 60)

OPTAX_PAIRS = {
    # name: (jnn, optax, tolerance multiplier)
    "sgd": (lambda: jo.sgd(0.1), lambda: optax.sgd(0.1), 1),
    "sgd_schedule": (lambda: jo.sgd(LR_SCHEDULE), lambda: optax.sgd(LR_SCHEDULE), 1),
    "momentum_separate_lr": (
        lambda: jo.momentum(0.1, 0.9, form="separate_lr"),
        lambda: optax.sgd(0.1, momentum=0.9),
        1,
    ),
    # Same iterates as optax.sgd(momentum) for a constant step, different rounding.
    "momentum_heavy_ball": (lambda: jo.momentum(0.1, 0.9), lambda: optax.sgd(0.1, 0.9), 30),
    "momentum_ema": (
        lambda: jo.momentum(0.1, 0.9, form="ema"),
        lambda: optax.chain(optax.ema(0.9, debias=False), optax.scale(-0.1)),
        1,
    ),
    "nesterov": (
        lambda: jo.nesterov(0.1, 0.9),
        lambda: optax.sgd(0.1, 0.9, nesterov=True),
        30,
    ),
    "adagrad_optax_form": (
        lambda: jo.adagrad(0.1, initial_accumulator_value=0.1, eps_in_sqrt=True),
        lambda: optax.adagrad(0.1),
        1,
    ),
    "rmsprop": (lambda: jo.rmsprop(0.01), lambda: optax.rmsprop(0.01, eps_in_sqrt=False), 1),
    "rmsprop_eps_in_sqrt": (
        lambda: jo.rmsprop(0.01, eps_in_sqrt=True),
        lambda: optax.rmsprop(0.01),
        1,
    ),
    "rmsprop_centered_momentum": (
        lambda: jo.rmsprop(0.01, momentum=0.9, centered=True, eps=1e-6),
        lambda: optax.rmsprop(0.01, momentum=0.9, centered=True, eps=1e-6, eps_in_sqrt=False),
        1,
    ),
    "adadelta": (lambda: jo.adadelta(1.0), lambda: optax.adadelta(1.0), 1),
    "adam": (lambda: jo.adam(1e-2), lambda: optax.adam(1e-2), 1),
    "adam_eps_root": (
        lambda: jo.adam(1e-2, eps_root=1e-8),
        lambda: optax.adam(1e-2, eps_root=1e-8),
        1,
    ),
    "nadam": (lambda: jo.nadam(1e-2), lambda: optax.nadam(1e-2), 1),
    "amsgrad": (lambda: jo.amsgrad(1e-2), lambda: optax.amsgrad(1e-2), 1),
    "adamw": (
        lambda: jo.adamw(1e-2, weight_decay=0.1),
        lambda: optax.adamw(1e-2, weight_decay=0.1, mask=jo.weights_mask),
        1,
    ),
    "adamw_mask_none": (
        lambda: jo.adamw(1e-2, weight_decay=0.1, mask=None),
        lambda: optax.adamw(1e-2, weight_decay=0.1),
        1,
    ),
    "lion": (
        lambda: jo.lion(1e-3, weight_decay=0.1, mask=None),
        lambda: optax.lion(1e-3, weight_decay=0.1),
        1,
    ),
}


# Options (schedules, eps placement, masks) are checked in float32 only, to save compiles.
OPTION_PAIRS = {"sgd_schedule", "rmsprop_eps_in_sqrt", "rmsprop_centered_momentum",
                "adam_eps_root", "adamw_mask_none"}
OPTAX_CASES = [(name, jnp.float32) for name in sorted(OPTAX_PAIRS)] + [
    (name, jnp.float64) for name in sorted(OPTAX_PAIRS) if name not in OPTION_PAIRS]


@pytest.mark.parametrize("name,dtype", OPTAX_CASES,
                         ids=[f"{n}-{jnp.dtype(d).name}" for n, d in OPTAX_CASES])
def test_equals_optax_over_100_steps(request, name, dtype):
    use_dtype(request, dtype)
    make_jnn, make_optax, factor = OPTAX_PAIRS[name]
    loss, params = mlp_problem(dtype)
    ours, theirs = trajectories([make_jnn(), make_optax()], loss, params)
    assert jax.tree.leaves(ours)[0].dtype == dtype
    t = factor * tol(dtype)
    assert_trees_close(ours, theirs, rtol=t, atol=t)


# ---------------------------------------------------------------- 2. against the papers


def heavy_ball_reference(schedule, mu):
    """Course F3: v <- μ v - η_t g; θ <- θ + v."""
    init = lambda p: np.zeros_like(p)

    at = jax.jit(schedule)  # the same float arithmetic as inside the optimizer

    def step(v, g, t):
        v = mu * v - float(at(jnp.int32(t - 1))) * g
        return v, v

    return init, step


def adagrad_reference(lr, delta, r0=0.0):
    """Course F5 (Goodfellow et al. Alg. 8.4): r <- r + g⊙g; Δθ = -α g / (δ + √r)."""
    init = lambda p: np.full_like(p, r0)

    def step(r, g, t):
        r = r + g * g
        return -lr * g / (delta + np.sqrt(r)), r

    return init, step


def nadam_reference(lr, b1, b2, eps, psi):
    """Dozat 2016, Algorithm 2 with the schedule μ_t = β₁(1 - ½·0.96^{tψ}).

    As documented in jnn.optim.nadam: m uses the constant β₁ and v̂ has no extra β₂.
    """
    mu = lambda t: b1 * (1 - 0.5 * 0.96 ** (t * psi))

    def init(p):
        return {"m": np.zeros_like(p), "n": np.zeros_like(p), "prod": 1.0}

    def step(s, g, t):
        prod_t = s["prod"] * mu(t)
        prod_next = prod_t * mu(t + 1)
        g_hat = g / (1 - prod_t)
        m = b1 * s["m"] + (1 - b1) * g
        m_hat = m / (1 - prod_next)
        n = b2 * s["n"] + (1 - b2) * g * g
        n_hat = n / (1 - b2**t)
        m_bar = (1 - mu(t)) * g_hat + mu(t + 1) * m_hat
        return -lr * m_bar / (np.sqrt(n_hat) + eps), {"m": m, "n": n, "prod": prod_t}

    return init, step


def amsgrad_reference(lr, b1, b2, eps):
    """Reddi et al. 2018, Algorithm 2 (constant β₁, no bias correction)."""

    def init(p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p), "v_hat": np.zeros_like(p)}

    def step(s, g, t):
        m = b1 * s["m"] + (1 - b1) * g
        v = b2 * s["v"] + (1 - b2) * g * g
        v_hat = np.maximum(s["v_hat"], v)
        return -lr * m / (np.sqrt(v_hat) + eps), {"m": m, "v": v, "v_hat": v_hat}

    return init, step


def rprop_reference(lr, eta_minus, eta_plus, lo, hi):
    """iRprop− (Igel & Hüsken 2000)."""

    def init(p):
        return {"step": np.full_like(p, lr), "prev": np.zeros_like(p)}

    def step(s, g, t):
        size = s["step"].copy()
        prod = g * s["prev"]
        size[prod > 0] = np.minimum(size[prod > 0] * eta_plus, hi)
        size[prod < 0] = np.maximum(size[prod < 0] * eta_minus, lo)
        g = np.where(prod < 0, 0.0, g)
        return -np.sign(g) * size, {"step": size, "prev": g}

    return init, step


def adam_mini_reference(lr, b1, b2, eps, wd):
    """Zhang et al. 2024, Algorithm 1; blocks: columns of a kernel, a whole bias."""

    def init(p):
        axes = tuple(range(p.ndim - 1)) if p.ndim >= 2 else tuple(range(p.ndim))
        return {"m": np.zeros_like(p), "v": np.zeros_like(p.mean(axis=axes, keepdims=True)),
                "axes": axes, "p": p.copy()}

    def step(s, g, t):
        m = b1 * s["m"] + (1 - b1) * g
        v = b2 * s["v"] + (1 - b2) * np.mean(g * g, axis=s["axes"], keepdims=True)
        decay = wd * s["p"] if s["p"].ndim >= 2 else 0.0
        u = -lr * ((m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + decay)
        return u, {"m": m, "v": v, "axes": s["axes"], "p": s["p"] + u}

    return init, step


PAPER_CASES = {
    "momentum_heavy_ball_schedule": (
        lambda: jo.momentum(LR_SCHEDULE, 0.9),
        lambda: heavy_ball_reference(LR_SCHEDULE, 0.9),
    ),
    "adagrad_course_form": (lambda: jo.adagrad(0.1), lambda: adagrad_reference(0.1, 1e-7)),
    "nadam_momentum_schedule": (
        lambda: jo.nadam(1e-2, momentum_decay=0.004),
        lambda: nadam_reference(1e-2, 0.9, 0.999, 1e-8, 0.004),
    ),
    "amsgrad_paper": (
        lambda: jo.amsgrad(1e-2, bias_correction=False),
        lambda: amsgrad_reference(1e-2, 0.9, 0.999, 1e-8),
    ),
    "rprop": (lambda: jo.rprop(1e-2), lambda: rprop_reference(1e-2, 0.5, 1.2, 1e-6, 50.0)),
    "adam_mini": (
        lambda: jo.adam_mini(1e-2, weight_decay=0.1),
        lambda: adam_mini_reference(1e-2, 0.9, 0.999, 1e-8, 0.1),
    ),
}


@pytest.mark.parametrize("name", sorted(PAPER_CASES))
def test_equals_numpy_transcription_of_the_paper(x64, name):
    make_jnn, make_reference = PAPER_CASES[name]
    loss, params = mlp_problem(jnp.float64)
    (ours,) = trajectories([make_jnn()], loss, params)
    expected = reference_trajectory(*make_reference(), loss, params)
    # 100 nonlinear steps: rounding differences grow a little above one step's 1e-12.
    assert_trees_close(ours, expected, rtol=1e-9, atol=1e-11)


def torch_trajectory(make_torch_opt, loss, params, steps=100):
    """Feed jax's gradients to a torch.optim optimizer on float64 tensors."""
    torch = pytest.importorskip("torch")
    grad = jax.jit(jax.grad(loss))
    leaves, treedef = jax.tree.flatten(params)
    tensors = [torch.tensor(np.asarray(leaf), dtype=torch.float64) for leaf in leaves]
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # NAdam keeps Π μ_i in the default dtype
    try:
        opt = make_torch_opt(tensors)
        traj = _torch_steps(torch, opt, tensors, grad, treedef, steps)
    finally:
        torch.set_default_dtype(default_dtype)
    return jax.tree.unflatten(treedef, [np.stack([r[i] for r in traj]) for i in range(len(leaves))])


def _torch_steps(torch, opt, tensors, grad, treedef, steps):
    traj = []
    for _ in range(steps):
        current = jax.tree.unflatten(treedef, [jnp.asarray(t.numpy()) for t in tensors])
        for t, g in zip(tensors, jax.tree.leaves(grad(current))):
            t.grad = torch.tensor(np.asarray(g))
        opt.step()
        traj.append([t.detach().numpy().copy() for t in tensors])
    return traj


TORCH_CASES = {
    "nadam": (
        lambda: jo.nadam(1e-2, momentum_decay=0.004),
        lambda torch, ts: torch.optim.NAdam(ts, lr=1e-2, momentum_decay=0.004),
    ),
    "rprop": (
        lambda: jo.rprop(1e-2),
        lambda torch, ts: torch.optim.Rprop(ts, lr=1e-2),
    ),
    "adagrad": (
        lambda: jo.adagrad(0.1, eps=1e-10),
        lambda torch, ts: torch.optim.Adagrad(ts, lr=0.1),
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_equals_pytorch(x64, name):
    torch = pytest.importorskip("torch")
    make_jnn, make_torch = TORCH_CASES[name]
    loss, params = mlp_problem(jnp.float64)
    (ours,) = trajectories([make_jnn()], loss, params)
    expected = torch_trajectory(lambda ts: make_torch(torch, ts), loss, params)
    assert_trees_close(ours, expected, rtol=1e-9, atol=1e-11)


def test_optax_rprop_lags_one_step(x64):
    # Pins the optax 0.2.8 behaviour that jnn.optim.rprop's docstring warns about.
    tx = optax.rprop(0.1)
    params = jnp.zeros(1)
    state = tx.init(params)
    got = []
    for g in [1.0, 1.0, 1.0]:
        u, state = tx.update(jnp.array([g]), state, params)
        got.append(float(u[0]))
    ours = jo.rprop(0.1)
    state = ours.init(params)
    want = []
    for g in [1.0, 1.0, 1.0]:
        u, state = ours.update(jnp.array([g]), state, params)
        want.append(float(u[0]))
    np.testing.assert_allclose(want, [-0.1, -0.12, -0.144])
    np.testing.assert_allclose(got, [0.0, -0.1, -0.12])


# ---------------------------------------------------------------- 3. how the forms relate


def test_momentum_forms_relate(x64):
    loss, params = mlp_problem(jnp.float64)
    eta, mu = 0.1, 0.9
    heavy, separate, ema, separate_rescaled, heavy_sched, separate_sched = trajectories(
        [
            jo.momentum(eta, mu, form="heavy_ball"),
            jo.momentum(eta, mu, form="separate_lr"),
            jo.momentum(eta, mu, form="ema"),
            jo.momentum(eta * (1 - mu), mu, form="separate_lr"),
            jo.momentum(LR_SCHEDULE, mu, form="heavy_ball"),
            jo.momentum(LR_SCHEDULE, mu, form="separate_lr"),
        ],
        loss,
        params,
    )
    # Constant step: heavy ball == separate step size; EMA(η) == separate(η(1-β)).
    assert_trees_close(heavy, separate, rtol=1e-9, atol=1e-11)
    assert_trees_close(ema, separate_rescaled, rtol=1e-9, atol=1e-11)
    # With a schedule the heavy-ball form keeps old steps at their old sizes: it differs.
    gap = max(float(jnp.max(jnp.abs(a - b))) for a, b in
              zip(jax.tree.leaves(heavy_sched), jax.tree.leaves(separate_sched)))
    assert gap > 1e-3


def quadratic_2d():
    a = jnp.array([10.0, 1.0])
    return (lambda p: 0.5 * jnp.sum(a * p["x"] ** 2)), {"x": jnp.array([1.0, -1.5])}


@pytest.mark.parametrize("problem", ["quadratic", "mlp"])
def test_nesterov_lookahead_and_reformulated_give_the_same_iterates(x64, problem):
    if problem == "quadratic":
        loss, params = quadratic_2d()
        params = jax.tree.map(lambda x: x.astype(jnp.float64), params)
    else:
        loss, params = mlp_problem(jnp.float64)
    mu = 0.9
    lookahead = jo.nesterov(LR_SCHEDULE, mu, form="lookahead")
    reformulated = jo.nesterov(LR_SCHEDULE, mu, form="reformulated")

    @jax.jit
    def run():
        def step_lookahead(carry, _):
            p, s = carry
            u, s = lookahead.update(None, s, p, value_fn=loss)
            p = optax.apply_updates(p, u)
            return (p, s), (p, s[0].velocity)

        def step_reformulated(carry, _):
            p, s = carry
            u, s = reformulated.update(jax.grad(loss)(p), s, p)
            p = optax.apply_updates(p, u)
            return (p, s), p

        _, (theta, v) = jax.lax.scan(
            step_lookahead, (params, lookahead.init(params)), None, length=60)
        _, big_theta = jax.lax.scan(
            step_reformulated, (params, reformulated.init(params)), None, length=60)
        return theta, v, big_theta

    theta, v, big_theta = run()
    # Θ_t = θ_t + μ v_t after every step.
    expected = jax.tree.map(lambda t, vel: t + mu * vel, theta, v)
    assert_trees_close(big_theta, expected, rtol=1e-9, atol=1e-11)
    if problem == "quadratic":  # both reach the minimizer
        np.testing.assert_allclose(theta["x"][-1], 0.0, atol=1e-3)


def test_lookahead_accepts_the_loss_at_construction_or_update_and_a_gradient(x64):
    loss, params = quadratic_2d()
    at_build = jo.nesterov(0.05, form="lookahead", loss_fn=lambda p, scale: scale * loss(p))
    at_update = jo.nesterov(0.05, form="lookahead")
    s1, s2 = at_build.init(params), at_update.init(params)
    grads = jax.grad(loss)(params)
    for _ in range(3):
        u1, s1 = at_build.update(None, s1, params, scale=2.0)
        u2, s2 = at_update.update(grads, s2, params, value_fn=lambda p, scale: scale * loss(p),
                                  scale=2.0, unused_by_the_loss=1)
        assert_trees_close(u1, u2, rtol=0, atol=0)


# ---------------------------------------------------------------- 4. contract battery


@dataclasses.dataclass(frozen=True)
class Entry:
    """One optimizer of the registry, with hyperparameters for each test problem."""

    factory: Callable
    quad: dict  # kwargs on the quadratic bowl
    quad_steps: int
    rosen: dict  # kwargs on Rosenbrock
    rosen_steps: int
    needs_loss: bool = False  # the factory takes loss_fn=
    static_args: tuple = ()  # for optax.inject_hyperparams

    def make(self, loss, which="quad"):
        kwargs = dict(self.quad if which == "quad" else self.rosen)
        if self.needs_loss:
            kwargs["loss_fn"] = loss
        return kwargs

    def build(self, loss, which="quad"):
        return self.factory(**self.make(loss, which))

    def build_injected(self, loss):
        static = (("loss_fn",) if self.needs_loss else ()) + self.static_args
        return optax.inject_hyperparams(self.factory, static_args=static)(**self.make(loss))


COSINE = lambda peak, n, alpha=0.05: optax.cosine_decay_schedule(peak, n, alpha=alpha)

REGISTRY = {
    "sgd": Entry(jo.sgd, dict(learning_rate=0.15), 300, dict(learning_rate=2e-3), 20000),
    "momentum": Entry(jo.momentum, dict(learning_rate=0.05), 200,
                      dict(learning_rate=1e-3), 5000),
    "momentum_separate_lr": Entry(jo.momentum, dict(learning_rate=0.05, form="separate_lr"),
                                  200, dict(learning_rate=1e-3, form="separate_lr"), 5000),
    "momentum_ema": Entry(jo.momentum, dict(learning_rate=0.5, form="ema"), 200,
                          dict(learning_rate=1e-2, form="ema"), 5000),
    "nesterov": Entry(jo.nesterov, dict(learning_rate=0.05), 200, dict(learning_rate=1e-3), 5000),
    "nesterov_lookahead": Entry(jo.nesterov, dict(learning_rate=0.05, form="lookahead"), 200,
                                dict(learning_rate=1e-3, form="lookahead"), 5000,
                                needs_loss=True),
    "adagrad": Entry(jo.adagrad, dict(learning_rate=1.0), 300, dict(learning_rate=1.0), 10000),
    "rmsprop": Entry(jo.rmsprop, dict(learning_rate=0.01), 1000,
                     dict(learning_rate=optax.exponential_decay(1e-2, 1000, 0.5)), 10000),
    "adadelta": Entry(jo.adadelta, dict(eps=1e-3), 2000,
                      dict(learning_rate=COSINE(0.2, 20000)), 20000),
    "adam": Entry(jo.adam, dict(learning_rate=0.1), 500, dict(learning_rate=1e-2), 5000),
    "nadam": Entry(jo.nadam, dict(learning_rate=0.1, momentum_decay=0.004), 500,
                   dict(learning_rate=1e-2, momentum_decay=0.004), 5000),
    "amsgrad": Entry(jo.amsgrad, dict(learning_rate=0.1), 500, dict(learning_rate=1.0), 5000),
    "adamw": Entry(jo.adamw, dict(learning_rate=0.1, weight_decay=0.0), 500,
                   dict(learning_rate=1e-2, weight_decay=0.0), 5000),
    "lion": Entry(jo.lion, dict(learning_rate=COSINE(0.1, 1000, 0.0), weight_decay=0.0), 1000,
                  dict(learning_rate=COSINE(3e-3, 5000, 0.0), weight_decay=0.0), 5000),
    "rprop": Entry(jo.rprop, dict(learning_rate=0.1), 100, dict(learning_rate=0.01), 5000),
    "adam_mini": Entry(jo.adam_mini, dict(learning_rate=0.1), 500,
                       dict(learning_rate=1e-2), 5000),
    # The zoom line search compiles slowly; test_optim_lbfgs.py covers it. Here: Armijo.
    "lbfgs": Entry(jo.lbfgs, dict(linesearch="backtracking"), 20,
                   dict(linesearch="backtracking"), 80, needs_loss=True,
                   static_args=("memory_size", "max_linesearch_steps")),
}


def test_registry_covers_every_optimizer():
    public = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "nadam",
              "amsgrad", "adamw", "lion", "rprop", "adam_mini", "lbfgs"}
    assert public <= {e.factory.__name__ for e in REGISTRY.values()}
    assert all(hasattr(jo, name) for name in public)


BOWL_A = {"w": jnp.array([[1.0, 3.0], [0.5, 2.0]]), "b": jnp.array([10.0, 0.3])}
BOWL_C = {"w": jnp.array([[0.5, -1.0], [1.5, 0.0]]), "b": jnp.array([-0.5, 2.0])}


def bowl(params):
    """A separable quadratic bowl on a dict pytree; minimizer BOWL_C, curvatures 0.3..10."""
    terms = jax.tree.map(lambda a, x, c: jnp.sum(a * (x - c) ** 2), BOWL_A, params, BOWL_C)
    return 0.5 * sum(jax.tree.leaves(terms))


def bowl_start(dtype=jnp.float32):
    return jax.tree.map(lambda c: jnp.zeros(c.shape, dtype), BOWL_C)


def rosenbrock(params):
    x, y = params["xy"][0], params["xy"][1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def run_scan(opt, loss, params, steps):
    def step(carry, _):
        p, s = carry
        u, s = opt.update(jax.grad(loss)(p), s, p, value_fn=loss)
        return (optax.apply_updates(p, u), s), None

    (p, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return p


def wrap_value_fn(opt):
    """Let a plain optimizer ignore the value_fn= that the battery passes to every step."""
    return optax.with_extra_args_support(opt)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_converges_on_rosenbrock(name):
    entry = REGISTRY[name]
    opt = wrap_value_fn(entry.build(rosenbrock, "rosen"))
    start = {"xy": jnp.array([-1.2, 1.0])}
    final = jax.jit(lambda: run_scan(opt, rosenbrock, start, entry.rosen_steps))()
    np.testing.assert_allclose(final["xy"], [1.0, 1.0], atol=2e-2)


def _state_leaves_like_params(state, params):
    shapes = {leaf.shape: leaf.dtype for leaf in jax.tree.leaves(params)}
    return [leaf for leaf in jax.tree.leaves(state)
            if hasattr(leaf, "shape") and leaf.shape in shapes and leaf.ndim > 0]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_step_contract_and_quadratic_bowl(name):
    """No retrace after the first step, jit and no-jit agree, float32 kept, bowl solved."""
    entry = REGISTRY[name]
    opt = wrap_value_fn(entry.build(bowl))

    def step(params, state):
        updates, state = opt.update(jax.grad(bowl)(params), state, params, value_fn=bowl)
        return optax.apply_updates(params, updates), state, updates

    chex.clear_trace_counter()  # chex counts per code object, across parametrized cases
    jitted = jax.jit(chex.assert_max_traces(step, n=1))
    params = bowl_start()
    state_j = state_n = opt.init(params)
    p_j = p_n = params
    for _ in range(3):
        p_j, state_j, u_j = jitted(p_j, state_j)
        p_n, state_n, u_n = step(p_n, state_n)
        for tree in (p_j, u_j):
            assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(tree))
        for leaf in _state_leaves_like_params(state_j, params):
            assert leaf.dtype == jnp.float32
    assert_trees_close(p_j, p_n, rtol=1e-5, atol=1e-6)
    assert_trees_close(state_j, state_n, rtol=1e-5, atol=1e-6)
    for _ in range(entry.quad_steps - 3):  # the same compiled step: converges on the bowl
        p_j, state_j, _ = jitted(p_j, state_j)
    assert_trees_close(p_j, BOWL_C, rtol=0, atol=2e-3)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_bfloat16_params_stay_bfloat16(name):
    entry = REGISTRY[name]
    opt = wrap_value_fn(entry.build(bowl))
    params = bowl_start(jnp.bfloat16)

    @jax.jit
    def step(params, state):
        updates, state = opt.update(jax.grad(bowl)(params), state, params, value_fn=bowl)
        return optax.apply_updates(params, updates), state, updates

    state = opt.init(params)
    for _ in range(2):
        params, state, updates = step(params, state)
    for tree in (params, updates):
        assert all(leaf.dtype == jnp.bfloat16 for leaf in jax.tree.leaves(tree))
    for leaf in _state_leaves_like_params(state, params):
        assert leaf.dtype == jnp.bfloat16
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(params))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_works_under_inject_hyperparams(name):
    entry = REGISTRY[name]
    plain = wrap_value_fn(entry.build(bowl))
    injected = entry.build_injected(bowl)

    @jax.jit
    def run():
        outs = []
        for opt in (plain, injected):
            p, s = bowl_start(), opt.init(bowl_start())
            for _ in range(3):
                u, s = opt.update(jax.grad(bowl)(p), s, p, value_fn=bowl)
                p = optax.apply_updates(p, u)
            outs.append((p, s))
        return outs

    (p_plain, _), (p_injected, s_injected) = run()
    # Injected hyperparameters are float32 arrays: 1 - b1 rounds differently from Python's.
    assert_trees_close(p_injected, p_plain, rtol=1e-4, atol=1e-5)
    assert set(s_injected.hyperparams) >= {
        k for k, v in entry.quad.items() if not isinstance(v, str)}


# ---------------------------------------------------------------- 5. bad input

WITH_LEARNING_RATE = [jo.sgd, jo.momentum, jo.nesterov, jo.adagrad, jo.rmsprop, jo.adadelta,
                      jo.adam, jo.nadam, jo.amsgrad, jo.adamw, jo.lion, jo.rprop, jo.adam_mini]


@pytest.mark.parametrize("factory", WITH_LEARNING_RATE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [0.0, -1e-3])
def test_nonpositive_learning_rate_is_refused(factory, bad):
    name = factory.__name__
    with pytest.raises(ValueError, match=(
            rf"^jnn\.optim\.{name}: learning_rate must be in \(0\.0, inf\); got {bad}\. "
            r"Pass a positive step size such as learning_rate=1e-3, or a schedule")):
        factory(learning_rate=bad)


@pytest.mark.parametrize("factory", [jo.adam, jo.nadam, jo.amsgrad, jo.adamw, jo.adam_mini,
                                     jo.lion], ids=lambda f: f.__name__)
@pytest.mark.parametrize("arg,bad", [("b1", 1.0), ("b1", -0.1), ("b2", 1.0), ("b2", 1.5)])
def test_betas_outside_unit_interval_are_refused(factory, arg, bad):
    with pytest.raises(ValueError, match=(
            rf"^jnn\.optim\.{factory.__name__}: {arg} must be in \[0\.0, 1\.0\); got {bad}\. "
            rf"A decay rate is at least 0 and below 1; a typical choice is {arg}=0\.9")):
        factory(learning_rate=1e-3, **{arg: bad})


@pytest.mark.parametrize("factory", [jo.adagrad, jo.rmsprop, jo.adadelta, jo.adam, jo.nadam,
                                     jo.amsgrad, jo.adamw, jo.adam_mini],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [0.0, -1e-8])
def test_nonpositive_eps_is_refused(factory, bad):
    with pytest.raises(ValueError, match=(
            rf"^jnn\.optim\.{factory.__name__}: eps must be in \(0\.0, inf\); got {bad}\. "
            r"It must be strictly positive; a typical choice is eps=")):
        factory(learning_rate=1e-3, eps=bad)


@pytest.mark.parametrize("factory", [jo.momentum, jo.nesterov, jo.rmsprop],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [1.0, -0.5])
def test_momentum_outside_unit_interval_is_refused(factory, bad):
    with pytest.raises(ValueError, match=(
            rf"^jnn\.optim\.{factory.__name__}: momentum must be in \[0\.0, 1\.0\); "
            rf"got {bad}\. A decay rate is at least 0 and below 1; a typical choice is "
            r"momentum=0\.9\.$")):
        factory(0.1, momentum=bad)


def test_unknown_form_is_refused():
    with pytest.raises(ValueError, match=(
            r"^jnn\.optim\.momentum: form must be one of 'heavy_ball', 'separate_lr', "
            r"'ema'; got 'nesterov'\.$")):
        jo.momentum(0.1, form="nesterov")
    with pytest.raises(ValueError, match=(
            r"^jnn\.optim\.nesterov: form must be one of 'reformulated', 'lookahead'; "
            r"got 'look-ahead'\.$")):
        jo.nesterov(0.1, form="look-ahead")


def test_other_hyperparameters_are_checked():
    with pytest.raises(ValueError, match=r"^jnn\.optim\.adamw: weight_decay must be in "
                                         r"\[0\.0, inf\); got -0\.1\."):
        jo.adamw(1e-3, weight_decay=-0.1)
    with pytest.raises(ValueError, match=r"^jnn\.optim\.adamw: mask must be 'auto', None, a "
                                         r"tree of bools or a function"):
        jo.adamw(1e-3, mask="weights")
    with pytest.raises(ValueError, match=r"^jnn\.optim\.rprop: eta_minus must be in "
                                         r"\(0\.0, inf\); got 0\.0\."):
        jo.rprop(0.1, eta_minus=0.0)
    with pytest.raises(ValueError, match=r"^jnn\.optim\.adagrad: initial_accumulator_value "
                                         r"must be in \[0\.0, inf\); got -1\.0\."):
        jo.adagrad(0.1, initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match=r"^jnn\.optim\.nadam: momentum_decay must be in "
                                         r"\[0\.0, inf\); got -0\.004\."):
        jo.nadam(1e-3, momentum_decay=-0.004)


def test_schedules_and_tracers_pass_the_checks():
    jo.adam(optax.constant_schedule(1e-3))
    jax.jit(lambda lr, b1: jo.adam(lr, b1=b1).init(jnp.zeros(2)))(1e-3, 0.9)


def test_mismatched_updates_and_params_print_both_structures():
    opt = jo.adam(1e-3)
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    state = opt.init(params)
    grads = {"w": jnp.ones((2, 2))}
    with pytest.raises(ValueError, match=(
            r"(?s)^jnn\.optim\.scale_by_adam: updates and params must have the same tree "
            r"structure\.\n  updates: PyTreeDef\(\{'w': \*\}\)\n  params:  PyTreeDef\(\{'b': \*, "
            r"'w': \*\}\)\nPass the gradient of the loss with respect to these params")):
        opt.update(grads, state, params)


def test_state_built_for_other_params_prints_both_structures():
    opt = jo.sgd(0.1)
    momentum = jo.momentum(0.1)
    state = momentum.init({"w": jnp.ones(2)})
    params = {"w": jnp.ones(2), "b": jnp.ones(1)}
    with pytest.raises(ValueError, match=(
            r"(?s)^jnn\.optim\.scale_by_heavy_ball: updates and the optimizer state must have "
            r"the same tree structure\.\n  updates: .*\n  state:   PyTreeDef\(\{'w': \*\}\)\n"
            r"The state was built by init\(\) for a different params tree; call "
            r"state = opt\.init\(params\)")):
        momentum.update(params, state)
    with pytest.raises(ValueError, match=r"^jnn\.optim\.scale_by_learning_rate: updates and "
                                         r"params must have the same tree structure"):
        opt.update({"w": jnp.ones(2)}, opt.init(params), params)


def test_lookahead_without_a_loss_shows_the_call_to_write():
    opt = jo.nesterov(0.1, form="lookahead")
    params = jnp.ones(2)
    with pytest.raises(TypeError, match=(
            r"^jnn\.optim\.nesterov\(form='lookahead'\): the look-ahead form takes the gradient "
            r"at θ \+ μv, so it needs the loss\. Either build it with the loss, opt = "
            r"jnn\.optim\.nesterov\(learning_rate, form=\"lookahead\", loss_fn=loss\), or pass "
            r"it at every step: updates, state = opt\.update\(None, state, params, "
            r"value_fn=loss, batch=batch\)")):
        opt.update(None, opt.init(params), params)


# ---------------------------------------------------------------- 6. options


def test_mu_dtype_keeps_the_first_moment_in_float32_for_bfloat16_params():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16)}
    for opt in (jo.adam(1e-3, mu_dtype=jnp.float32), jo.nadam(1e-3, mu_dtype=jnp.float32),
                jo.amsgrad(1e-3, mu_dtype=jnp.float32), jo.lion(1e-3, mu_dtype=jnp.float32),
                jo.adam_mini(1e-3, mu_dtype=jnp.float32)):
        state = opt.init(params)
        updates, state = opt.update(params, state, params)
        assert state[0].mu["w"].dtype == jnp.float32
        assert state[0].nu["w"].dtype == jnp.bfloat16 if hasattr(state[0], "nu") else True
        assert updates["w"].dtype == jnp.bfloat16


def test_default_decay_mask_skips_biases_and_scales():
    params = {"dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)},
              "norm": {"scale": jnp.ones(2)}}
    zero = jax.tree.map(jnp.zeros_like, params)
    for opt in (jo.adamw(0.1, weight_decay=0.5), jo.lion(0.1, weight_decay=0.5),
                jo.adam_mini(0.1, weight_decay=0.5)):
        updates, _ = opt.update(zero, opt.init(params), params)
        np.testing.assert_allclose(updates["dense"]["kernel"], -0.05, rtol=1e-6)
        np.testing.assert_array_equal(updates["dense"]["bias"], 0.0)
        np.testing.assert_array_equal(updates["norm"]["scale"], 0.0)
    assert jo.weights_mask(params) == {"dense": {"bias": False, "kernel": True},
                                       "norm": {"scale": False}}


def test_adam_mini_keeps_one_second_moment_per_output_unit():
    params = {"dense": jnp.ones((5, 4)), "conv": jnp.ones((3, 3, 2, 6)), "bias": jnp.ones(4),
              "scalar": jnp.ones(())}
    state = jo.adam_mini(1e-3).init(params)
    assert jax.tree.map(jnp.shape, state[0].nu) == {
        "bias": (1,), "conv": (1, 1, 1, 6), "dense": (1, 4), "scalar": ()}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_state_buffers_are_distinct_so_the_state_can_be_donated(name):
    state = REGISTRY[name].build(bowl).init(bowl_start())
    arrays = [leaf for leaf in jax.tree.leaves(state) if isinstance(leaf, jax.Array)]
    assert len({id(a) for a in arrays}) == len(arrays)


def test_bfloat16_hyperparameters_under_inject_get_a_hint():
    params = {"w": jnp.ones((2, 2), jnp.bfloat16)}
    with pytest.raises(ValueError, match=(
            r"^jnn\.optim\.adam: b2 must be in \[0\.0, 1\.0\); got .*bfloat16.*b2 arrived as a "
            r"bfloat16 array, in which rates near 1 round to 1\.0: under "
            r"optax\.inject_hyperparams pass hyperparam_dtype=jnp\.float32\.$")):
        optax.inject_hyperparams(jo.adam)(1e-3).init(params)
    state = optax.inject_hyperparams(jo.adam, hyperparam_dtype=jnp.float32)(1e-3).init(params)
    assert state.inner_state[0].nu["w"].dtype == jnp.bfloat16
