"""Adversarial examples: FGSM and PGD against closed forms, balls, and adversarial training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn import losses
from jnn.layers import Dense, Sequential
from jnn.train import evaluate, fgsm, fit, pgd


def linear_problem():
    x = jax.random.normal(jax.random.key(0), (8, 3))
    y = jax.random.normal(jax.random.key(1), (8, 1))
    model = Dense(1)
    params, state = model.init(jax.random.key(2), x)
    return model, params, state, x, y


def test_fgsm_matches_the_closed_form_on_a_linear_model():
    model, params, state, x, y = linear_problem()
    x_adv = fgsm(model, losses.mse, epsilon=0.1)(params, state, x, y)
    w, b = params["kernel"], params["bias"]
    residual = x @ w + b[None] - y            # d/dx mean((xw + b - y)^2) = 2 r w^T / n
    expected = x + 0.1 * jnp.sign(residual @ w.T)
    np.testing.assert_allclose(x_adv, expected, rtol=1e-6)
    assert losses.mse(model.apply(params, state, x_adv)[0], y) > losses.mse(
        model.apply(params, state, x)[0], y)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_the_ball_and_bounds_and_beats_fgsm(norm):
    model, params, state, x, y = linear_problem()
    eps = 0.3
    attack = pgd(model, losses.mse, epsilon=eps, num_steps=20, norm=norm, bounds=(-2.5, 2.5))
    x_adv = attack(params, state, x, y, jax.random.key(3))
    assert float(jnp.max(jnp.abs(x))) < 2.5  # the clean points lie inside the bounds
    if norm == "linf":
        assert np.max(np.abs(x_adv - x)) <= eps + 1e-6
    else:
        assert np.max(np.linalg.norm(np.asarray(x_adv - x), axis=1)) <= eps + 1e-5
    assert np.all(np.asarray(x_adv) >= -2.5) and np.all(np.asarray(x_adv) <= 2.5)
    loss = lambda xa: float(losses.mse(model.apply(params, state, xa)[0], y))
    if norm == "linf":  # PGD maximizes at least as well as a single signed step
        assert loss(x_adv) >= loss(fgsm(model, losses.mse, epsilon=eps, bounds=(-2.5, 2.5))(
            params, state, x, y)) - 1e-5
    assert loss(x_adv) > loss(x)


def test_adversarial_training_improves_robust_accuracy():
    x, y = jnn.data.moons(jax.random.key(0), 400, noise=0.1)
    model = Sequential([Dense(32), jax.nn.relu, Dense(2)])
    params, state = model.init(jax.random.key(1), x)
    loss = losses.softmax_cross_entropy
    attack = fgsm(model, loss, epsilon=0.15)
    kw = dict(epochs=30, batch_size=40, key=jax.random.key(2), verbose=0)
    clean = fit(model, params, state, optax.adam(1e-2), loss, (x, y), **kw)
    robust = fit(model, params, state, optax.adam(1e-2), loss, (x, y), attack=attack, **kw)
    r_clean = evaluate(model, clean[0], clean[1], loss, (x, y), metrics=["accuracy"],
                       attack=attack)
    r_robust = evaluate(model, robust[0], robust[1], loss, (x, y), metrics=["accuracy"],
                        attack=attack)
    assert r_robust["accuracy"] > r_clean["accuracy"]


def test_attack_arguments_are_checked():
    model, params, state, x, y = linear_problem()
    with pytest.raises(ValueError, match=r"fgsm: epsilon must be in \(0, inf\); got -0.1"):
        fgsm(model, losses.mse, epsilon=-0.1)
    with pytest.raises(ValueError, match=r"pgd: norm must be 'linf' or 'l2'; got 'l1'"):
        pgd(model, losses.mse, epsilon=0.1, norm="l1")
    with pytest.raises(ValueError, match=r"bounds must be \(low, high\) with low < high"):
        pgd(model, losses.mse, epsilon=0.1, bounds=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"random_start=True needs a key"):
        pgd(model, losses.mse, epsilon=0.1)(params, state, x, y)
