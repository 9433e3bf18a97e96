"""Batched training: vmapped members equal separate fits; search and ensembles on top."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close

import jnn
from jnn import losses
from jnn.layers import Dense, Sequential
from jnn.train import (
    LogUniform,
    Uniform,
    batched_fit,
    bayesian_search,
    fit,
    grid_search,
    random_search,
    train_ensemble,
)
from jnn.train._search import _gp_expected_improvement

MODEL = Sequential([Dense(8), jnp.tanh, Dense(2)])


@pytest.fixture(scope="module")
def data():
    x, y = jnn.data.spirals(jax.random.key(0), 96)
    xv, yv = jnn.data.spirals(jax.random.key(1), 64)
    return (x, y), (xv, yv)


def test_batched_members_equal_separate_fits(data):
    train, _ = data
    params, state = MODEL.init(jax.random.key(2), train[0])
    stack = lambda t: jax.tree.map(lambda a: jnp.stack([a, a]), t)
    lrs = jnp.array([0.05, 0.2])
    out, _, curves = batched_fit(MODEL, stack(params), stack(state),
                                 lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
                                 {"learning_rate": lrs}, losses.softmax_cross_entropy, train,
                                 epochs=3, batch_size=16, key=jax.random.key(3))
    for i, lr in enumerate([0.05, 0.2]):
        single, _, _, history = fit(MODEL, params, state, optax.sgd(lr, momentum=0.9),
                                    losses.softmax_cross_entropy, train, epochs=3,
                                    batch_size=16, key=jax.random.key(3), verbose=0)
        assert_trees_close(jax.tree.map(lambda a: a[i], out), single, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(curves["loss"][i], history["loss"], rtol=1e-5)


def test_grid_search_scores_and_ranks_every_combination(data):
    train, val = data
    result = grid_search(MODEL, lambda learning_rate, momentum: optax.sgd(learning_rate,
                                                                          momentum=momentum),
                         losses.softmax_cross_entropy, train, val,
                         {"learning_rate": [1e-3, 0.1], "momentum": [0.0, 0.9]}, epochs=4,
                         batch_size=16, key=jax.random.key(4), metrics=["accuracy"])
    assert len(result.trials) == 4
    scores = [t.score for t in result.trials]
    assert scores == sorted(scores)
    for t in result.trials:
        assert t.score == pytest.approx(np.min(t.curves["val_loss"]))
        assert set(t.curves) == {"loss", "val_loss", "val_accuracy"}
    # The tiny step without momentum barely moves: it must rank last.
    assert result.trials[-1].hparams == {"learning_rate": 1e-3, "momentum": 0.0}
    assert "rank" in str(result) and "val_loss" in str(result)


def test_random_search_samples_inside_the_space(data):
    train, val = data
    space = {"learning_rate": LogUniform(1e-3, 1e-1), "b1": Uniform(0.8, 0.95)}
    result = random_search(MODEL, lambda learning_rate, b1: optax.adam(learning_rate, b1=b1),
                           losses.softmax_cross_entropy, train, val, space, num_trials=5,
                           epochs=2, batch_size=32, key=jax.random.key(5))
    assert len(result.trials) == 5
    for t in result.trials:
        assert 1e-3 <= t.hparams["learning_rate"] <= 1e-1
        assert 0.8 <= t.hparams["b1"] <= 0.95


def test_log_uniform_is_uniform_in_log_space():
    u = np.linspace(0, 1, 11)
    v = LogUniform(1e-4, 1e0).from_unit(u)
    np.testing.assert_allclose(np.log10(v), np.linspace(-4, 0, 11), atol=1e-12)
    np.testing.assert_allclose(LogUniform(1e-4, 1e0).to_unit(v), u, atol=1e-12)


def test_expected_improvement_points_at_the_minimum():
    xs = np.array([[0.0], [0.2], [0.4], [0.8], [1.0]])
    ys = (xs[:, 0] - 0.6) ** 2
    cand = np.linspace(0, 1, 101)[:, None]
    ei = _gp_expected_improvement(xs, ys, cand)
    assert abs(cand[np.argmax(ei), 0] - 0.6) < 0.15
    assert np.all(ei >= -1e-12)


def test_bayesian_search_runs_all_trials_and_keeps_the_best(data):
    train, val = data
    result = bayesian_search(MODEL, lambda learning_rate: optax.sgd(learning_rate),
                             losses.softmax_cross_entropy, train, val,
                             {"learning_rate": LogUniform(1e-3, 1.0)}, num_trials=6,
                             num_initial=3, batch=3, epochs=2, batch_size=32,
                             key=jax.random.key(6))
    assert len(result.trials) == 6
    assert result.best.score == min(t.score for t in result.trials)


def test_ensemble_averages_members_and_reports_gain(data):
    train, val = data
    ens = train_ensemble(MODEL, optax.adam(2e-2), losses.softmax_cross_entropy, train,
                         num_members=4, epochs=10, batch_size=16, key=jax.random.key(7))
    assert ens.size == 4
    members = ens.member_predictions(val[0])
    np.testing.assert_allclose(ens.predict(val[0]),
                               jnp.mean(jax.nn.softmax(members, -1), 0), rtol=1e-6)
    report = ens.gain(val, "accuracy")
    assert len(report["members"]) == 4
    assert report["gain"] == pytest.approx(report["ensemble"] - report["member_mean"])
    # Members start from different keys and see different bootstrap resamples.
    assert not np.allclose(members[0], members[1])


def test_search_rejects_bad_input(data):
    train, val = data
    factory = lambda learning_rate: optax.sgd(learning_rate)
    with pytest.raises(ValueError, match=r"val_data is required"):
        grid_search(MODEL, factory, losses.mse, train, None, {"learning_rate": [0.1]},
                    epochs=1, batch_size=8, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"space must map names to non-empty lists"):
        grid_search(MODEL, factory, losses.mse, train, val, {"learning_rate": []},
                    epochs=1, batch_size=8, key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"space\['learning_rate'\] must be LogUniform"):
        random_search(MODEL, factory, losses.mse, train, val, {"learning_rate": 0.1},
                      num_trials=2, epochs=1, batch_size=8, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"LogUniform: need 0 < low < high"):
        LogUniform(0.0, 1.0)
