"""jnn.train: fit compiled by the epoch, evaluate, predict, early stopping, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close

import jnn
from jnn import losses
from jnn.data import epoch_batches
from jnn.layers import Dense, Dropout, Sequential
from jnn.train import EarlyStopping, NonFiniteLossWarning, evaluate, fit, predict


@pytest.fixture(scope="module")
def spirals():
    x, y = jnn.data.spirals(jax.random.key(0), 200)
    xv, yv = jnn.data.spirals(jax.random.key(1), 90)
    return (x, y), (xv, yv)


MODEL = Sequential([Dense(16), jax.nn.relu, Dense(2)])


def test_fit_equals_a_hand_written_loop_over_the_same_batches(spirals):
    (x, y), _ = spirals
    params, state = MODEL.init(jax.random.key(2), x)
    optimizer = optax.adam(1e-2)
    key = jax.random.key(3)
    fitted, _, opt_state, history = fit(MODEL, params, state, optimizer,
                                        losses.softmax_cross_entropy, (x, y), epochs=3,
                                        batch_size=32, key=key, verbose=0)

    @jax.jit
    def step(p, o, xb, yb):
        loss = lambda p_: losses.softmax_cross_entropy(MODEL.apply(p_, state, xb)[0], yb)
        value, g = jax.value_and_grad(loss)(p)
        u, o = optimizer.update(g, o, p)
        return optax.apply_updates(p, u), o, value

    p, o = params, optimizer.init(params)
    for epoch in range(3):
        shuffle_key, _ = jax.random.split(jax.random.fold_in(key, epoch))
        xs, ys = epoch_batches(shuffle_key, (x, y), 32)
        values = []
        for i in range(xs.shape[0]):
            p, o, v = step(p, o, xs[i], ys[i])
            values.append(v)
        np.testing.assert_allclose(history["loss"][epoch], np.mean(values), rtol=1e-5)
    assert_trees_close(fitted, p, rtol=1e-5, atol=1e-6)
    assert_trees_close(opt_state, o, rtol=1e-5, atol=1e-6)
    # The caller's params were copied, not donated.
    assert np.all(np.isfinite(params[0]["kernel"]))


def test_fit_learns_spirals_and_logs_validation(spirals):
    train, val = spirals
    model = Sequential([Dense(64), jax.nn.relu, Dense(64), jax.nn.relu, Dense(2)])
    params, state = model.init(jax.random.key(2), train[0])
    params, state, _, history = fit(model, params, state, optax.adam(1e-2),
                                    losses.softmax_cross_entropy, train, epochs=40,
                                    batch_size=20, key=jax.random.key(4), val_data=val,
                                    metrics=["accuracy"], verbose=0)
    assert history.keys() == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.epochs == 40
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    result = evaluate(model, params, state, losses.softmax_cross_entropy, val, batch_size=32,
                      metrics=["accuracy"])
    np.testing.assert_allclose(result["loss"], history["val_loss"][-1], rtol=1e-5)
    assert result["accuracy"] > 0.9


def test_evaluate_counts_every_example_once(spirals):
    _, (xv, yv) = spirals  # 90 examples: batches of 32 leave a remainder of 26
    params, state = MODEL.init(jax.random.key(5), xv)
    logits = MODEL.apply(params, state, xv)[0]
    expected_loss = float(losses.softmax_cross_entropy(logits, yv))
    expected_acc = float(losses.accuracy(logits, yv))
    for batch_size in (32, 90, 7):
        result = evaluate(MODEL, params, state, losses.softmax_cross_entropy, (xv, yv),
                          batch_size=batch_size, metrics=["accuracy"])
        np.testing.assert_allclose(result["loss"], expected_loss, rtol=1e-5)
        np.testing.assert_allclose(result["accuracy"], expected_acc, rtol=1e-6)
    np.testing.assert_allclose(predict(MODEL, params, state, xv, batch_size=32), logits,
                               rtol=1e-6, atol=1e-6)


def test_early_stopping_restores_the_best_epoch(spirals):
    train, val = spirals
    params, state = MODEL.init(jax.random.key(2), train[0])
    # A large step size makes validation loss bounce, so patience triggers.
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best=True)
    fitted, fitted_state, _, history = fit(
        MODEL, params, state, optax.sgd(0.5, momentum=0.9), losses.softmax_cross_entropy,
        train, epochs=30, batch_size=20, key=jax.random.key(6), val_data=val,
        callbacks=[stop], verbose=0)
    best = history.best_epoch("val_loss")
    assert history.stop_reason.startswith("early stopping")
    assert history.epochs == best + 1 + 2
    restored = evaluate(MODEL, fitted, fitted_state, losses.softmax_cross_entropy, val)
    np.testing.assert_allclose(restored["loss"], history["val_loss"][best], rtol=1e-5)


def test_non_finite_loss_stops_with_last_finite_params():
    x = jax.random.normal(jax.random.key(0), (64, 3))
    y = jnp.sum(x, axis=1, keepdims=True)
    model = Dense(1)
    params, state = model.init(jax.random.key(1), x)
    # Plain GD far above 2/L diverges geometrically until the loss overflows.
    with pytest.warns(NonFiniteLossWarning, match=r"non-finite loss at epoch \d+, step \d+"):
        fitted, _, _, history = fit(model, params, state, optax.sgd(50.0), losses.mse,
                                    (x, y), epochs=50, batch_size=16, key=jax.random.key(7),
                                    verbose=0)
    assert "non-finite loss" in history.stop_reason
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(fitted))


def test_fit_trains_dropout_models_with_a_key_per_step(spirals):
    (x, y), _ = spirals
    model = Sequential([Dense(32), jax.nn.relu, Dropout(0.2), Dense(2)])
    params, state = model.init(jax.random.key(2), x)
    runs = [fit(model, params, state, optax.adam(1e-2), losses.softmax_cross_entropy, (x, y),
                epochs=2, batch_size=50, key=jax.random.key(k), verbose=0)[0] for k in (8, 8, 9)]
    assert_trees_close(runs[0], runs[1], rtol=0, atol=0)  # same key, same run
    assert not np.allclose(runs[0][0]["kernel"], runs[2][0]["kernel"])


def test_fit_passes_the_loss_to_extra_args_optimizers():
    x = jax.random.normal(jax.random.key(0), (64, 3))
    y = x @ jnp.array([[1.0], [-2.0], [0.5]])
    model = Dense(1)
    params, state = model.init(jax.random.key(1), x)
    fitted, _, _, history = fit(model, params, state, optax.lbfgs(), losses.mse, (x, y),
                                epochs=10, batch_size=64, key=jax.random.key(2), verbose=0)
    assert history["loss"][-1] < 1e-6
    np.testing.assert_allclose(fitted["kernel"][:, 0], [1.0, -2.0, 0.5], atol=1e-3)


def test_gradient_accumulation_averages_minibatches():
    x = jax.random.normal(jax.random.key(0), (8, 2))
    y = jnp.sum(x, axis=1, keepdims=True)
    model = Dense(1)
    params, state = model.init(jax.random.key(1), x)
    # Two steps of 4 with accumulation == one full-batch step (no shuffle effect on a mean).
    acc, _, _, _ = fit(model, params, state, optax.sgd(0.1), losses.mse, (x, y), epochs=1,
                       batch_size=4, accumulate_steps=2, key=jax.random.key(2), verbose=0)
    g = jax.grad(lambda p: losses.mse(model.apply(p, state, x)[0], y))(params)
    expected = jax.tree.map(lambda p, g_: p - 0.1 * g_, params, g)
    assert_trees_close(acc, expected, rtol=1e-5, atol=1e-6)


def test_fit_rejects_bad_input(spirals):
    (x, y), _ = spirals
    params, state = MODEL.init(jax.random.key(2), x)
    args = (MODEL, params, state, optax.adam(1e-2), losses.softmax_cross_entropy)
    kw = dict(epochs=1, batch_size=10, key=jax.random.key(0), verbose=0)
    with pytest.raises(ValueError, match=r"train_data has x with shape \(200, 2\) and y with "
                                         r"shape \(199,\); they must share"):
        fit(*args, (x, y[:-1]), **kw)
    with pytest.raises(ValueError, match=r"batch_size=500 is larger than the 200 training "
                                         r"examples; use batch_size <= 200"):
        fit(*args, (x, y), **(kw | {"batch_size": 500}))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\) for a model with 2 "
                                         r"outputs; got labels from 0 to 2"):
        fit(*args, (x, y.at[3].set(2)), **kw)
    with pytest.raises(ValueError, match=r"x contains NaN or infinite values in 1 rows "
                                         r"\(first: \[5\]\)"):
        fit(*args, (x.at[5, 1].set(jnp.nan), y), **kw)
    with pytest.raises(ValueError, match=r"unknown metric 'acc'; known metrics are"):
        fit(*args, (x, y), metrics=["acc"], **kw)
    with pytest.raises(TypeError, match=r"optimizer must be an optax GradientTransformation"):
        fit(MODEL, params, state, "adam", losses.softmax_cross_entropy, (x, y), **kw)
    with pytest.raises(ValueError, match=r"monitor='val_loss' is not among the logged values"):
        fit(*args, (x, y), callbacks=[EarlyStopping()], **kw)
