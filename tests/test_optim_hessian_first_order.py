"""jnn.optim.adahessian and jnn.optim.sophia against numpy transcriptions of their papers.

The transcriptions follow AdaHessian's Algorithm 1 (Yao et al. 2021, with the authors' eps
and decoupled weight decay) and Sophia's Algorithm 3 (Liu et al. 2023). On a separable
loss the Hessian is diagonal, so Hutchinson's estimate z * (H z) is exact for every
Rademacher probe and the transcriptions can use the closed-form diagonal; the estimator
itself is checked for bias and variance on a non-diagonal Hessian.
"""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import jnn
from jnn import losses
from jnn.layers import Dense, Sequential
from jnn.optim import _adahessian, _sophia
from jnn.optim._adahessian import adahessian, scale_by_adahessian
from jnn.optim._sophia import scale_by_sophia, sophia
from jnn.train import fit

RNG = np.random.default_rng(0)
A_COEF = RNG.uniform(0.5, 2.0, size=8)
A_COEF[[1, 6]] = -1.0  # negative curvature near 0 in two coordinates
C_COEF = RNG.uniform(0.1, 1.0, size=8)
E_COEF = RNG.normal(size=8)
THETA0 = RNG.normal(size=8)


def separable_loss(params):
    x = ravel_pytree(params)[0]
    return jnp.sum(C_COEF * x**4 / 4 + A_COEF * x**2 / 2 + E_COEF * x)


def np_grad(x):
    return C_COEF * x**3 + A_COEF * x + E_COEF


def np_hess_diag(x):
    return 3 * C_COEF * x**2 + A_COEF


def start_params():
    return {"b": jnp.asarray(THETA0[:2]), "w": jnp.asarray(THETA0[2:].reshape(3, 2))}


def run_jitted(opt, params, steps):
    """Iterates of ``steps`` jitted updates with value_fn=separable_loss, and the states."""

    @jax.jit
    def step(params, state):
        grads = jax.grad(separable_loss)(params)
        updates, state = opt.update(grads, state, params, value_fn=separable_loss)
        return optax.apply_updates(params, updates), state

    state = opt.init(params)
    flats, states = [], []
    for _ in range(steps):
        params, state = step(params, state)
        flats.append(np.asarray(ravel_pytree(params)[0]))
        states.append(state)
    return np.array(flats), states


def numpy_adahessian(x, lr, b1, b2, eps, k, weight_decay, update_every, steps):
    """Yao et al. (2021), Algorithm 1 and Eq. 11 (block size 1), plus eps and decay."""
    m, v, out = np.zeros_like(x), np.zeros_like(x), []
    for t in range(1, steps + 1):
        g = np_grad(x)
        if (t - 1) % update_every == 0:
            D = np_hess_diag(x)  # the delayed update reuses D between refreshes
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * D * D
        m_t = m / (1 - b1**t)
        v_t = np.sqrt(v / (1 - b2**t)) ** k
        x = x - lr * (m_t / (v_t + eps) + weight_decay * x)
        out.append(x)
    return np.array(out)


def numpy_sophia(x, lr, b1, b2, gamma, eps, weight_decay, k, steps):
    """Liu et al. (2023), Algorithm 3 with the (here exact) Hutchinson estimator."""
    m, h, out, clipped = np.zeros_like(x), np.zeros_like(x), [], []
    for t in range(1, steps + 1):
        g = np_grad(x)
        m = b1 * m + (1 - b1) * g
        if t % k == 1 % k:
            h = b2 * h + (1 - b2) * np_hess_diag(x)
        x = x - lr * weight_decay * x
        ratio = m / np.maximum(gamma * h, eps)
        x = x - lr * np.clip(ratio, -1, 1)
        out.append(x)
        clipped.append(np.mean(np.abs(ratio) >= 1))
    return np.array(out), np.array(clipped)


@pytest.mark.parametrize("hessian_power, update_every, weight_decay",
                         [(1.0, 1, 0.0), (0.5, 3, 0.01)])
def test_adahessian_equals_the_paper_algorithm(x64, hessian_power, update_every, weight_decay):
    kw = dict(b1=0.9, b2=0.999, eps=1e-4, hessian_power=hessian_power)
    opt = adahessian(0.05, weight_decay=weight_decay, update_every=update_every, **kw)
    got, states = run_jitted(opt, start_params(), 12)
    expected = numpy_adahessian(THETA0, 0.05, 0.9, 0.999, 1e-4, hessian_power, weight_decay,
                                update_every, 12)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    # the key advances only when the estimate is refreshed
    keys = [jax.random.key_data(s[0].key) for s in states]
    for t in range(1, 12):
        changed = not np.array_equal(keys[t], keys[t - 1])
        assert changed == (t % update_every == 0)


@pytest.mark.parametrize("k, weight_decay", [(1, 0.0), (3, 0.1)])
def test_sophia_equals_the_paper_algorithm(x64, k, weight_decay):
    opt = sophia(0.02, b1=0.965, b2=0.99, gamma=0.05, eps=1e-12, weight_decay=weight_decay,
                 update_every=k)
    got, states = run_jitted(opt, start_params(), 25)
    expected, clipped = numpy_sophia(THETA0, 0.02, 0.965, 0.99, 0.05, 1e-12, weight_decay, k, 25)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose([float(s[0].clip_fraction) for s in states], clipped)
    assert 0 < clipped[-1] < 1  # both regimes occur: sign steps and Newton-like steps


def test_adahessian_spatial_average_over_kernel_windows(x64):
    rng = np.random.default_rng(1)
    c = rng.uniform(0.1, 1.0, size=(3, 3, 2, 4))
    params = {"kernel": jnp.asarray(rng.normal(size=(3, 3, 2, 4))), "bias": jnp.ones(4)}
    loss = lambda p: jnp.sum(c * p["kernel"] ** 4 / 4 - p["kernel"] ** 2 / 2) + jnp.sum(
        p["bias"] ** 3)
    opt = scale_by_adahessian()
    grads = jax.grad(loss)(params)
    _, state = jax.jit(lambda p: opt.update(grads, opt.init(p), p, value_fn=loss))(params)
    D = 3 * c * np.asarray(params["kernel"]) ** 2 - 1
    expected = np.broadcast_to(np.mean(np.abs(D), axis=(0, 1), keepdims=True), D.shape)
    np.testing.assert_allclose(np.asarray(state.hessian["kernel"]), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(state.hessian["bias"]), 6 * np.ones(4), rtol=1e-12)
    opt = scale_by_adahessian(spatial_average=False)
    _, state = jax.jit(lambda p: opt.update(grads, opt.init(p), p, value_fn=loss))(params)
    np.testing.assert_allclose(np.asarray(state.hessian["kernel"]), D, rtol=1e-12)


@pytest.mark.parametrize("make, scale", [
    (lambda: scale_by_adahessian(spatial_average=False), 1.0),
    (lambda: scale_by_sophia(b2=0.5, update_every=1), 0.5),  # h_1 = (1 - b2) ĥ
])
def test_hutchinson_estimate_is_unbiased_with_the_right_variance(x64, make, scale):
    rng = np.random.default_rng(2)
    M = rng.normal(size=(5, 5))
    A = M @ M.T / 5 + np.diag(np.arange(5.0))
    loss = lambda p: 0.5 * p @ jnp.asarray(A) @ p
    params = jnp.asarray(rng.normal(size=5))
    opt = make()
    base = opt.init(params)
    grads = jax.grad(loss)(params)

    @jax.jit
    @jax.vmap
    def estimate(key):
        _, state = opt.update(grads, base._replace(key=key), params, value_fn=loss)
        return state.hessian / scale

    n = 4000
    samples = np.asarray(estimate(jax.random.split(jax.random.key(3), n)))
    variance = np.sum(A**2, axis=1) - np.diag(A) ** 2  # Σ_{k≠j} A_jk² for Rademacher probes
    np.testing.assert_array_less(np.abs(samples.mean(0) - np.diag(A)),
                                 5 * np.sqrt(variance / n))
    np.testing.assert_allclose(samples.var(0), variance, rtol=0.12)


def test_fit_trains_a_tiny_model_with_sophia():
    x, y = jnn.data.moons(jax.random.key(0), 128)
    model = Sequential([Dense(8), jnp.tanh, Dense(2)])
    params, state = model.init(jax.random.key(1), x)
    before = float(losses.softmax_cross_entropy(model.apply(params, state, x)[0], y))
    fitted, _, opt_state, history = fit(model, params, state, sophia(0.05, update_every=2),
                                        losses.softmax_cross_entropy, (x, y), epochs=5,
                                        batch_size=32, key=jax.random.key(2), verbose=0)
    after = float(losses.softmax_cross_entropy(model.apply(fitted, state, x)[0], y))
    assert np.isfinite(after) and after < 0.85 * before
    assert int(opt_state[0].count) == 20


def test_chain_jit_dtype_and_inject_hyperparams():
    params = {"w": jnp.ones((2, 2), jnp.float32), "b": jnp.zeros(2, jnp.float32)}
    loss = lambda p: jnp.sum(p["w"] ** 2) + jnp.sum((p["b"] - 1) ** 4)
    for opt in (optax.chain(optax.clip_by_global_norm(1.0), adahessian(0.1)),
                optax.inject_hyperparams(sophia, static_args=("update_every", "num_samples"))(
                    learning_rate=0.1)):
        state = opt.init(params)
        step = jax.jit(lambda p, s: opt.update(jax.grad(loss)(p), s, p, value_fn=loss))
        for _ in range(3):
            updates, state = step(params, state)
            params = optax.apply_updates(params, updates)
        assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates))
        assert step._cache_size() == 1
    assert float(loss(params)) < 3.0


def test_bad_input_is_reported_with_the_fix():
    params, grads = jnp.zeros(3), jnp.ones(3)
    for opt, name in ((adahessian(), "adahessian"), (sophia(), "sophia")):
        state = opt.init(params)
        with pytest.raises(TypeError, match=rf"the step needs the loss.*"
                                            rf"jnn.optim.{name}\(loss_fn=loss\).*value_fn="):
            opt.update(grads, state, params)
        with pytest.raises(ValueError, match=r"the loss must return a scalar; it returned "
                                             r"shape \(3,\)"):
            opt.update(grads, state, params, value_fn=lambda p: p**2)
        with pytest.raises(TypeError, match="update needs params"):
            opt.update(grads, state, value_fn=jnp.sum)
    with pytest.raises(ValueError, match=r"scale_by_adahessian: b1 must be in \[0.0, 1.0\)"):
        adahessian(b1=1.0)
    with pytest.raises(ValueError, match=r"scale_by_adahessian: hessian_power must be in"):
        adahessian(hessian_power=2.0)
    with pytest.raises(ValueError, match="adahessian: learning_rate must be in"):
        adahessian(-0.1)
    with pytest.raises(ValueError, match="scale_by_sophia: gamma must be in"):
        sophia(gamma=0.0)
    with pytest.raises(ValueError, match="scale_by_sophia: update_every must be a positive"):
        sophia(update_every=0)
    with pytest.raises(TypeError, match=r"scale_by_sophia: key must be a jax.random key"):
        sophia(key=3)
    with pytest.raises(TypeError, match="spatial_average must be True or False"):
        adahessian(spatial_average="yes")


def test_docstring_examples_run():
    for module in (_adahessian, _sophia):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0
