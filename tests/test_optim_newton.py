"""jnn.optim second-order methods: newton_1d, newton, newton_cg, gauss_newton, levenberg_marquardt.

References: np.linalg.solve / lstsq on dense problems, scipy.optimize for the minimizer,
numpy transcriptions of CG (Nocedal & Wright, Algorithm 5.2 with the Algorithm 7.1 exit)
and of Levenberg-Marquardt (Madsen, Nielsen & Tingleff, Algorithm 3.16).
"""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize
from _util import assert_trees_close
from jax.flatten_util import ravel_pytree

import jnn
from jnn import losses
from jnn.layers import Dense, Sequential
from jnn.optim import _gauss_newton, _second_order
from jnn.optim._gauss_newton import gauss_newton, levenberg_marquardt
from jnn.optim._second_order import newton, newton_1d, newton_1d_step, newton_cg
from jnn.train import fit

# ----------------------------------------------------------------------------- problems


def quadratic_problem(seed=0, eigenvalues=(0.5, 1.0, 2.0, 3.0, 5.0, 8.0)):
    """0.5 θᵀAθ - bᵀθ over a pytree with 6 entries; A SPD with the given spectrum."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    A = (q * np.asarray(eigenvalues)) @ q.T
    b = rng.normal(size=6)
    params = {"a": jnp.asarray(rng.normal(size=2)), "w": jnp.asarray(rng.normal(size=(2, 2)))}
    _, unravel = ravel_pytree(params)

    def loss(p):
        x = ravel_pytree(p)[0]
        return 0.5 * x @ jnp.asarray(A) @ x - jnp.asarray(b) @ x

    return loss, params, A, b, unravel


def logistic_problem(n=200, d=4, alpha=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ rng.normal(size=d)))).astype(float)

    def loss(w, batch):
        x, t = batch
        z = x @ w
        return jnp.mean(jax.nn.softplus(z) - t * z) + 0.5 * alpha * jnp.sum(w**2)

    def np_loss(w):
        z = X @ w
        return np.mean(np.logaddexp(0, z) - y * z) + 0.5 * alpha * w @ w

    def np_grad(w):
        p = 1 / (1 + np.exp(-X @ w))
        return X.T @ (p - y) / n + alpha * w

    def np_hess(w):  # the known Hessian X^T diag(p(1-p)) X / n + alpha I
        p = 1 / (1 + np.exp(-X @ w))
        return (X.T * (p * (1 - p))) @ X / n + alpha * np.eye(d)

    return loss, (X, y), np_loss, np_grad, np_hess


def run(opt, loss, params, steps, **kwargs):
    """``steps`` jitted updates; returns every iterate and the last state."""

    @jax.jit
    def step(params, state, kwargs):
        grads = jax.grad(loss)(params, **kwargs)
        updates, state = opt.update(grads, state, params, value_fn=loss, **kwargs)
        return optax.apply_updates(params, updates), state

    state = opt.init(params)
    history = [params]
    for _ in range(steps):
        params, state = step(params, state, kwargs)
        history.append(params)
    return history, state


def one_update(opt, loss, params, grads=None, **kwargs):
    """One jitted ``opt.update`` from a fresh state (value_fn=loss); returns (updates, state)."""

    @jax.jit
    def update(params, grads, kwargs):
        if grads is None:
            grads = jax.grad(loss)(params, **kwargs)
        return opt.update(grads, opt.init(params), params, value_fn=loss, **kwargs)

    return update(params, grads, kwargs)


# ----------------------------------------------------------------------------- newton_1d


def test_newton_1d_matches_the_closed_form_iteration(x64):
    xs = newton_1d(lambda x: x**4 / 4 - x, 2.0, num_steps=6)
    expected = [2.0]
    for _ in range(6):
        x = expected[-1]
        expected.append(x - (x**3 - 1) / (3 * x**2))
    np.testing.assert_allclose(np.asarray(xs), expected, rtol=1e-14)
    # quadratic convergence to 1: e_{k+1} / e_k^2 -> f'''/(2 f'') = 1 at x = 1
    e = np.abs(np.asarray(expected) - 1)[:5]
    np.testing.assert_array_less(e[1:] / e[:-1] ** 2, 1.6)
    assert float(newton_1d_step(lambda x: x**4 / 4 - x, 2.0)) == pytest.approx(expected[1])


def test_newton_1d_parabola_in_one_step_and_damping():
    xs = newton_1d(lambda x: 3.0 * (x - 1.5) ** 2 + 2.0, 7, num_steps=2)
    assert xs.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(xs), [7.0, 1.5, 1.5])
    half = newton_1d(lambda x: (x - 1.0) ** 2, 3.0, num_steps=2, learning_rate=0.5)
    np.testing.assert_allclose(np.asarray(half), [3.0, 2.0, 1.5])


def test_newton_1d_bad_input():
    with pytest.raises(ValueError, match=r"newton_1d: x0 must be a scalar.*jnn.optim.newton"):
        newton_1d(lambda x: jnp.sum(x**2), jnp.ones(2))
    with pytest.raises(ValueError, match="newton_1d: f must map a scalar to a scalar"):
        newton_1d(lambda x: jnp.stack([x, x]), 1.0)
    with pytest.raises(ValueError, match="newton_1d: num_steps must be a positive integer"):
        newton_1d(lambda x: x**2, 1.0, num_steps=0)
    with pytest.raises(TypeError, match="newton_1d_step: f must be a function"):
        newton_1d_step(3.0, 1.0)


# ----------------------------------------------------------------------------- newton


def test_newton_minimizes_a_quadratic_in_one_step(x64):
    loss, params, A, b, unravel = quadratic_problem()
    (_, after), state = run(newton(), loss, params, 1)
    assert_trees_close(after, unravel(jnp.asarray(np.linalg.solve(A, b))), rtol=1e-12, atol=1e-12)
    assert int(state.num_tries) == 1 and not bool(state.fell_back)
    # with damping and a step size: θ - η (A + λI)^{-1} g
    g = A @ np.asarray(ravel_pytree(params)[0]) - b
    (_, damped), state = run(newton(0.5, damping=0.3), loss, params, 1)
    expected = np.asarray(ravel_pytree(params)[0]) - 0.5 * np.linalg.solve(A + 0.3 * np.eye(6), g)
    np.testing.assert_allclose(np.asarray(ravel_pytree(damped)[0]), expected, rtol=1e-12)
    assert float(state.damping) == 0.3


def test_newton_solves_linear_least_squares_in_one_step(x64):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 5)), rng.normal(size=30)
    loss = lambda w, batch: 0.5 * jnp.mean((batch[0] @ w - batch[1]) ** 2)
    (_, w1), _ = run(newton(), loss, jnp.zeros(5), 1, batch=(X, y))
    np.testing.assert_allclose(np.asarray(w1), np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)


def test_newton_converges_quadratically_on_regularized_logistic_regression(x64):
    loss, batch, np_loss, np_grad, np_hess = logistic_problem()
    # the minimizer: MINPACK's hybrid Powell method on the gradient (not a Newton iteration)
    ref = scipy.optimize.root(np_grad, np.zeros(4), jac=np_hess, method="hybr", tol=1e-15)
    assert np.linalg.norm(np_grad(ref.x)) < 1e-15
    history, _ = run(newton(), loss, jnp.zeros(4), 6, batch=batch)
    errors = np.array([np.linalg.norm(np.asarray(w) - ref.x) for w in history])
    # Machine precision after 5 iterations, not before (errors 1, 0.14, 5e-3, 7e-6, 1e-11):
    assert errors[5] < 1e-14 and errors[3] > 1e-7
    # e_{k+1} <= C e_k^2 on every step (C = 0.26 here), while linear convergence would
    # keep e_{k+1} / e_k bounded below.
    ratios = errors[1:5] / errors[:4] ** 2
    np.testing.assert_array_less(ratios, 0.5)


def test_newton_at_a_saddle_raises_damping_and_reports_it(x64):
    loss = lambda p: p[0] ** 2 - p[1] ** 2 + p[1] ** 4 / 4
    params = jnp.array([1.0, 0.1])
    H = np.diag([2.0, -2.0 + 3 * 0.01])
    g = np.array([2.0, -0.2 + 0.001])
    (_, after), state = run(newton(), loss, params, 1)
    assert not bool(state.fell_back)
    # λ: 0, then 2e-3 (= 1e-3 max|H_ii|), then x4, x8, x16, x32 (Nielsen's ν doubling)
    assert int(state.num_tries) == 6
    np.testing.assert_allclose(float(state.damping), 2e-3 * 4 * 8 * 16 * 32, rtol=1e-12)
    expected = np.asarray(params) - np.linalg.solve(H + float(state.damping) * np.eye(2), g)
    np.testing.assert_allclose(np.asarray(after), expected, rtol=1e-12)
    assert loss(after) < loss(params)
    # with one try only, it falls back to the gradient step at once
    (_, after), state = run(newton(0.1, max_tries=1), loss, params, 1)
    assert bool(state.fell_back) and int(state.num_tries) == 1
    np.testing.assert_allclose(np.asarray(after), np.asarray(params) - 0.1 * g, rtol=1e-12)


def test_newton_at_a_maximum_falls_back_without_nans_under_jit():
    loss = lambda p: -jnp.sum(p["x"] ** 2)
    updates, state = one_update(newton(0.25, max_tries=3), loss, {"x": jnp.array([1.0, -2.0])})
    assert bool(state.fell_back) and int(state.num_tries) == 3
    np.testing.assert_allclose(np.asarray(updates["x"]), [0.5, -1.0])  # -η g, g = -2x
    assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(state))


def test_newton_adaptive_damping_follows_nielsens_rule(x64):
    loss, batch, np_loss, np_grad, np_hess = logistic_problem()
    opt = newton(damping=1.0, adaptive_damping=True)
    update = jax.jit(lambda w, state: opt.update(jax.grad(loss)(w, batch), state, w,
                                                 value_fn=loss, batch=batch))
    w = jnp.zeros(4)
    state = opt.init(w)
    lam = 1.0
    for _ in range(4):
        updates, state = update(w, state)
        wn, s = np.asarray(w), np.asarray(updates)
        g, H = np_grad(wn), np_hess(wn)
        np.testing.assert_allclose(s, -np.linalg.solve(H + lam * np.eye(4), g), rtol=1e-10)
        rho = (np_loss(wn) - np_loss(wn + s)) / (-(g @ s) - 0.5 * s @ H @ s)
        assert int(state.num_tries) == 1
        np.testing.assert_allclose(float(state.gain_ratio), rho, rtol=1e-8)
        np.testing.assert_allclose(float(state.damping), lam, rtol=1e-12)
        lam = lam * max(1 / 3, 1 - (2 * rho - 1) ** 3)
        w = optax.apply_updates(w, updates)


def test_newton_adaptive_damping_decreases_rosenbrock_monotonically():
    loss = lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
    history, _ = run(newton(damping=1e-3, adaptive_damping=True), loss,
                     jnp.array([-1.2, 1.0]), 30)
    values = np.array([float(loss(p)) for p in history])
    assert np.all(np.diff(values) <= 0)
    np.testing.assert_allclose(np.asarray(history[-1]), [1.0, 1.0], atol=1e-4)
    # plain Newton (no damping) goes uphill on the way
    plain, _ = run(newton(), loss, jnp.array([-1.2, 1.0]), 30)
    assert np.any(np.diff([float(loss(p)) for p in plain]) > 0)


# ----------------------------------------------------------------------------- newton_cg


def numpy_cg(A, b, iterations):
    """Nocedal & Wright Algorithm 5.2 from x = 0, with the negative-curvature exit."""
    x, r, d = np.zeros_like(b), b.copy(), b.copy()
    for k in range(iterations):
        Ad = A @ d
        if d @ Ad <= 0:
            return (b if k == 0 else x), k, True
        alpha = (r @ r) / (d @ Ad)
        x, r_new = x + alpha * d, r - alpha * Ad
        d = r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return x, iterations, False


@pytest.mark.parametrize("maxiter", [1, 2, 4])
def test_newton_cg_iterates_equal_numpy_cg(x64, maxiter):
    loss, params, A, b, unravel = quadratic_problem()
    updates, state = one_update(newton_cg(0.7, tol=1e-30, maxiter=maxiter), loss, params)
    g = np.asarray(ravel_pytree(jax.grad(loss)(params))[0])
    x, k, _ = numpy_cg(A, g, maxiter)
    np.testing.assert_allclose(np.asarray(ravel_pytree(updates)[0]), -0.7 * x, rtol=1e-10)
    assert int(state.num_iterations) == k == maxiter
    np.testing.assert_allclose(float(state.residual),
                               np.linalg.norm(A @ x - g) / np.linalg.norm(g), rtol=1e-8)


def test_newton_cg_iterations_bounded_by_distinct_eigenvalues(x64):
    # CG terminates in at most (number of distinct eigenvalues) <= d iterations.
    for eigenvalues, bound in [((0.5, 1.0, 2.0, 3.0, 5.0, 8.0), 6), ((1.0, 1.0, 4.0, 4.0, 4.0, 9.0), 3)]:
        loss, params, A, b, unravel = quadratic_problem(seed=3, eigenvalues=eigenvalues)
        (_, after), state = run(newton_cg(tol=1e-10, maxiter=50), loss, params, 1)
        assert int(state.num_iterations) <= bound
        assert float(state.residual) < 1e-10
        assert_trees_close(after, unravel(jnp.asarray(np.linalg.solve(A, b))),
                           rtol=1e-9, atol=1e-9)


def test_newton_cg_with_tight_tolerance_matches_the_dense_newton_step(x64, key):
    from _curvature_problems import mlp_loss, mlp_problem

    params, batch = mlp_problem(key)
    flat, unravel = ravel_pytree(params)
    H = np.asarray(jax.jit(jax.hessian(lambda f: mlp_loss(unravel(f), batch)))(flat))
    lam = max(0.0, -np.linalg.eigvalsh(H)[0]) + 0.1  # H + λI positive definite
    grads = jax.grad(mlp_loss)(params, batch)
    expected = -np.linalg.solve(H + lam * np.eye(H.shape[0]), np.asarray(ravel_pytree(grads)[0]))
    for opt in (newton(damping=lam), newton_cg(damping=lam, tol=1e-12, maxiter=200)):
        updates, state = one_update(opt, mlp_loss, params, batch=batch)
        np.testing.assert_allclose(np.asarray(ravel_pytree(updates)[0]), expected, rtol=1e-8,
                                   atol=1e-10)
    assert float(state.residual) < 1e-12 and int(state.num_iterations) <= H.shape[0]


def test_newton_cg_negative_curvature_exits():
    A = jnp.diag(jnp.array([10.0, -1.0]))
    loss = lambda p: 0.5 * p @ A @ p - jnp.sum(p)
    opt = newton_cg(0.5, tol=1e-8)
    # first direction g = -(1, 1): gᵀAg = 9 > 0, then negative curvature: last iterate
    updates, state = one_update(opt, loss, jnp.zeros(2))
    x, k, negative = numpy_cg(np.diag([10.0, -1.0]), np.array([-1.0, -1.0]), 5)
    assert negative and k == 1
    np.testing.assert_allclose(np.asarray(updates), -0.5 * x, rtol=1e-6)
    assert bool(state.negative_curvature) and not bool(state.fell_back)
    assert int(state.num_iterations) == 1
    # first direction along negative curvature: the gradient step
    updates, state = one_update(opt, loss, jnp.array([0.0, 3.0]))  # gᵀAg = 10 - 16 < 0
    assert bool(state.fell_back) and int(state.num_iterations) == 0
    np.testing.assert_allclose(np.asarray(updates), [0.5, 2.0])


# ----------------------------------------------------------------------------- optax/jit/fit


@pytest.mark.parametrize("make", [lambda: newton(damping=0.1), lambda: newton_cg(damping=0.1)])
def test_chains_with_clipping_under_jit_without_recompiling(make):
    loss, batch, *_ = logistic_problem()
    batch = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), batch)
    params = jnp.ones(4, jnp.float32)
    opt = optax.chain(make(), optax.clip_by_global_norm(0.05))
    state = opt.init(params)

    @jax.jit
    def step(p, s):
        updates, s = opt.update(jax.grad(loss)(p, batch), s, p, value_fn=loss, batch=batch)
        return updates, s

    updates, state = step(params, state)
    unclipped, _ = one_update(make(), loss, params, batch=batch)
    assert updates.dtype == jnp.float32
    np.testing.assert_allclose(float(jnp.linalg.norm(updates)), 0.05, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(updates / jnp.linalg.norm(updates)),
                               np.asarray(unclipped / jnp.linalg.norm(unclipped)), atol=1e-5)
    step(params, state)
    assert step._cache_size() == 1


def test_loss_given_at_construction_and_inject_hyperparams():
    loss, batch, *_ = logistic_problem()
    batch = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), batch)
    params = jnp.zeros(4)
    a, _ = one_update(newton(0.5, 0.1), loss, params, batch=batch)
    built = newton(0.5, 0.1, loss_fn=loss)  # the loss at construction, the batch per step
    b, _ = jax.jit(lambda p: built.update(jax.grad(loss)(p, batch), built.init(p), p,
                                          batch=batch))(params)
    injected = optax.inject_hyperparams(newton, static_args=("loss_fn", "max_tries", "max_bytes"))(
        learning_rate=0.5, damping=0.1, loss_fn=loss)
    c, state = jax.jit(lambda p: injected.update(jax.grad(loss)(p, batch), injected.init(p), p,
                                                 batch=batch))(params)
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(c), np.asarray(a), rtol=1e-6)
    assert float(state.hyperparams["damping"]) == pytest.approx(0.1)


@pytest.mark.parametrize("make", [
    lambda: newton(damping=1e-3),
    # Newton-CG on a non-convex loss needs a line search (Nocedal & Wright, Algorithm 7.1)
    lambda: optax.chain(newton_cg(damping=1e-3, tol=1e-4),
                        optax.scale_by_backtracking_linesearch(max_backtracking_steps=15)),
])
def test_fit_trains_a_tiny_model(make):
    x, y = jnn.data.moons(jax.random.key(0), 128)
    model = Sequential([Dense(8), jnp.tanh, Dense(2)])
    params, state = model.init(jax.random.key(1), x)
    before = float(losses.softmax_cross_entropy(model.apply(params, state, x)[0], y))
    fitted, _, opt_state, history = fit(model, params, state, make(),
                                        losses.softmax_cross_entropy, (x, y), epochs=4,
                                        batch_size=64, key=jax.random.key(2), verbose=0)
    after = float(losses.softmax_cross_entropy(model.apply(fitted, state, x)[0], y))
    assert np.isfinite(after) and after < 0.6 * before
    newton_state = opt_state if hasattr(opt_state, "_fields") else opt_state[0]
    assert int(newton_state.count) == 8


# ----------------------------------------------------------------------------- gauss_newton


def test_gauss_newton_fits_linear_least_squares_in_one_step(x64):
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(25, 4)), rng.normal(size=25)
    residuals = lambda p, batch: batch[0] @ jnp.concatenate([p["w"], p["c"]]) - batch[1]
    params = {"w": jnp.zeros(3), "c": jnp.ones(1)}
    opt = gauss_newton(residuals)
    updates, state = opt.update(params, opt.init(params), params, batch=(X, y))
    after = optax.apply_updates(params, updates)
    np.testing.assert_allclose(np.concatenate([after["w"], after["c"]]),
                               np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    assert not bool(state.fell_back)


def test_gauss_newton_step_equals_the_closed_form_jacobian(x64):
    t = np.linspace(0, 2, 15)
    y = 1.5 * np.exp(-0.7 * t) + 0.01 * np.sin(7 * t)
    residuals = lambda p: p[0] * jnp.exp(-p[1] * t) - y
    p = np.array([1.0, 0.2])
    J = np.stack([np.exp(-p[1] * t), -p[0] * t * np.exp(-p[1] * t)], axis=1)
    r = p[0] * np.exp(-p[1] * t) - y
    opt = gauss_newton(residuals, learning_rate=0.8, damping=0.05)
    updates, _ = opt.update(jnp.asarray(p), opt.init(jnp.asarray(p)), jnp.asarray(p))
    np.testing.assert_allclose(np.asarray(updates),
                               -0.8 * np.linalg.solve(J.T @ J + 0.05 * np.eye(2), J.T @ r),
                               rtol=1e-12)


def numpy_levenberg_marquardt(r, jac, x, mu, accepted_steps):
    """Madsen, Nielsen & Tingleff (2004), Algorithm 3.16 (μ given, no stopping tests)."""
    xs, mus, nu = [x], [], 2.0
    while len(xs) <= accepted_steps:
        J, res = jac(x), r(x)
        A, g = J.T @ J, J.T @ res
        h = np.linalg.solve(A + mu * np.eye(len(x)), -g)
        x_new = x + h
        rho = (0.5 * res @ res - 0.5 * r(x_new) @ r(x_new)) / (0.5 * h @ (mu * h - g))
        if rho > 0:
            mus.append(mu)
            x, mu, nu = x_new, mu * max(1 / 3, 1 - (2 * rho - 1) ** 3), 2.0
            xs.append(x)
        else:
            mu, nu = mu * nu, 2 * nu
    return np.array(xs), np.array(mus)


def test_levenberg_marquardt_equals_the_textbook_algorithm(x64):
    def r(p):  # Rosenbrock as least squares
        return np.array([10 * (p[1] - p[0] ** 2), 1 - p[0]])

    def jac(p):
        return np.array([[-20 * p[0], 10.0], [-1.0, 0.0]])

    residuals = lambda p: jnp.stack([10 * (p[1] - p[0] ** 2), 1 - p[0]])
    x0 = np.array([-1.2, 1.0])
    expected, mus = numpy_levenberg_marquardt(r, jac, x0, 1e-3, 16)
    opt = levenberg_marquardt(residuals, damping=1e-3)
    update = jax.jit(lambda p, state: opt.update(p, state, p))
    p, state = jnp.asarray(x0), opt.init(jnp.asarray(x0))
    tries = 0
    for k in range(16):
        updates, state = update(p, state)
        p = optax.apply_updates(p, updates)
        tries += int(state.num_tries)
        assert not bool(state.fell_back)
        np.testing.assert_allclose(np.asarray(p), expected[k + 1], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(float(state.damping), mus[k], rtol=1e-9)
    assert tries > 16  # some steps were rejected and re-solved with a larger μ
    np.testing.assert_allclose(np.asarray(p), [1.0, 1.0], atol=1e-6)


# ----------------------------------------------------------------------------- bad input


def test_bad_input_is_reported_with_the_fix():
    params = jnp.zeros(3)
    grads = jnp.ones(3)
    with pytest.raises(ValueError, match=r"newton: damping must be in \[0.0, inf\); got -0.1"):
        newton(damping=-0.1)
    with pytest.raises(ValueError, match="newton_cg: damping must be in"):
        newton_cg(damping=-1.0)
    with pytest.raises(ValueError, match="newton_cg: tol must be in"):
        newton_cg(tol=0.0)
    with pytest.raises(ValueError, match="newton_cg: maxiter must be a positive integer"):
        newton_cg(maxiter=0)
    with pytest.raises(ValueError, match="newton: learning_rate must be in"):
        newton(learning_rate=-1.0)
    with pytest.raises(TypeError, match="newton: adaptive_damping must be True or False"):
        newton(adaptive_damping="yes")
    with pytest.raises(TypeError, match="newton: loss_fn must be a function"):
        newton(loss_fn=3)
    for opt, name in ((newton(), "newton"), (newton_cg(), "newton_cg")):
        state = opt.init(params)
        with pytest.raises(TypeError, match=rf"{name}: the step needs the loss.*"
                                            rf"jnn.optim.{name}\(loss_fn=loss\).*value_fn="):
            opt.update(grads, state, params)
        with pytest.raises(ValueError, match=rf"{name}: the loss must return a scalar; it "
                                             r"returned shape \(3,\).*jnp.mean"):
            opt.update(grads, state, params, value_fn=lambda p: p**2)
        with pytest.raises(TypeError, match=rf"{name}: update needs params"):
            opt.update(grads, state, value_fn=lambda p: jnp.sum(p))
        with pytest.raises(ValueError, match=rf"{name}: updates and params must have the same"):
            opt.update({"x": grads}, state, params, value_fn=lambda p: jnp.sum(p))
    with pytest.raises(ValueError, match=r"newton: the dense 3 x 3 curvature matrix.*"
                                         r"jnn.optim.newton_cg"):
        opt = newton(max_bytes=8)
        opt.update(grads, opt.init(params), params, value_fn=lambda p: jnp.sum(p**2))


def test_gauss_newton_bad_input():
    params = jnp.zeros(2)
    opt = gauss_newton()
    with pytest.raises(TypeError, match=r"gauss_newton: Gauss-Newton needs the residual.*"
                                        r"jnn.optim.gauss_newton\(residual_fn\)"):
        opt.update(params, opt.init(params), params)
    with pytest.raises(TypeError, match="gauss_newton: residual_fn must return floating"):
        opt.update(params, opt.init(params), params,
                   residual_fn=lambda p: jnp.arange(3))
    with pytest.raises(ValueError, match="levenberg_marquardt: damping must be in"):
        levenberg_marquardt(damping=-1.0)
    with pytest.raises(TypeError, match="levenberg_marquardt: residual_fn must be a function"):
        levenberg_marquardt("r")


def test_docstring_examples_run():
    for module in (_second_order, _gauss_newton):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0
