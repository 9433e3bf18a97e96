"""LR range test: LR sequence, suggestion in the stable range, divergence stop, scan = loop."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.optim import _lr_finder
from jnn.optim._lr_finder import LRRangeTestResult, lr_range_test


def regression_problem(dtype=np.float32):
    """Least squares whose Hessian 2 X^T X / n has eigenvalues (2, 1, 0.5, 0.2).

    Full-batch gradient descent is stable exactly for 0 < lr < 2 / lambda_max = 1.
    """
    rng = np.random.default_rng(0)
    n, d = 64, 4
    q, _ = np.linalg.qr(rng.normal(size=(n, d)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = q * np.sqrt(np.array([2.0, 1.0, 0.5, 0.2]) * n / 2) @ v.T
    y = x @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return jnp.asarray(x, dtype), jnp.asarray(y, dtype)


def mse(w, batch):
    x, y = batch
    return jnp.mean((x @ w - y) ** 2)


def np_smooth(losses, beta):
    avg, out = 0.0, []
    for t, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (t + 1)))
    return np.array(out)


@pytest.fixture(scope="module")
def full_batch_result():
    x, y = regression_problem()
    return lr_range_test(mse, jnp.zeros(4), (x, y), optax.sgd, single_batch=True)


def test_suggestion_in_stable_range(full_batch_result):
    r = full_batch_result
    assert isinstance(r, LRRangeTestResult)
    # GD on this quadratic is stable for lr < 1 and makes visible progress above ~1e-2.
    assert 1e-2 < r.suggested_lr < 1.0
    # The suggestion is the argmin of d(smoothed)/d(log lr) over the trimmed window.
    n = r.num_recorded
    lrs, sm = np.asarray(r.lrs, np.float64)[10:n - 5], np.asarray(r.smoothed_losses)[10:n - 5]
    assert r.suggested_lr == pytest.approx(lrs[np.argmin(np.gradient(sm, np.log(lrs)))])


def test_lr_sequence_closed_form(full_batch_result):
    np.testing.assert_allclose(full_batch_result.lrs, np.geomspace(1e-7, 10.0, 100), rtol=1e-6)
    x, y = regression_problem()
    r = lr_range_test(mse, jnp.zeros(4), (x, y), optax.sgd, single_batch=True, mode="linear",
                      min_lr=0.01, max_lr=0.5, num_steps=30)
    np.testing.assert_allclose(r.lrs, np.linspace(0.01, 0.5, 30), rtol=1e-6)
    assert r.num_recorded == 30  # below the stability limit: never diverges


def test_divergence_stop():
    x, y = regression_problem()
    r = lr_range_test(mse, jnp.zeros(4), (x, y), optax.sgd, single_batch=True, max_lr=1e3)
    n = r.num_recorded
    assert 50 < n < 100  # it ran past lr = 1 and stopped before the end
    losses, smoothed = np.asarray(r.losses, np.float64), np.asarray(r.smoothed_losses)
    assert np.all(np.isnan(losses[n:])) and np.all(np.isnan(smoothed[n:]))
    assert np.all(np.isfinite(losses[:n]))
    # Smoothing and the stop rule, recomputed in numpy from the raw losses.
    ref = np_smooth(losses[:n], 0.98)
    np.testing.assert_allclose(smoothed[:n], ref, rtol=1e-5)
    best = np.minimum.accumulate(ref)
    exceeded = ref[1:] > 4.0 * best[:-1]
    assert exceeded[-1] and not exceeded[:-1].any()  # stops at the first crossing
    assert r.lrs[n - 1] > 1.0


def test_nonfinite_loss_stops():
    """A loss that becomes inf stops the test at that step."""
    loss = lambda w, b: jnp.where(w[0] > 1e3, jnp.inf, jnp.sum(w**2)) + 0.0 * b
    r = lr_range_test(loss, jnp.ones(2), jnp.zeros(()), optax.sgd, single_batch=True,
                      min_lr=1e-3, max_lr=100.0, num_steps=40, diverge_threshold=1e9)
    n = r.num_recorded
    assert n < 40 and np.isinf(r.losses[n - 1]) and np.all(np.isfinite(r.losses[:n - 1]))


@pytest.mark.usefixtures("x64")
def test_scan_equals_python_loop():
    """Same steps as a plain Python loop with optax (momentum, cycling 3 minibatches)."""
    x, y = regression_problem(np.float64)
    data = (x[:48].reshape(3, 16, 4), y[:48].reshape(3, 16))
    w0 = jnp.zeros(4)
    factory = lambda learning_rate: optax.sgd(learning_rate, momentum=0.9)
    r = lr_range_test(mse, w0, data, factory, min_lr=1e-4, max_lr=0.3, num_steps=20,
                      smooth=0.9)
    assert r.num_recorded == 20
    lrs = 1e-4 * (0.3 / 1e-4) ** (np.arange(20) / 19)
    w, state, losses = w0, optax.sgd(1.0, momentum=0.9).init(w0), []
    for t in range(20):
        batch = (data[0][t % 3], data[1][t % 3])
        loss, g = jax.value_and_grad(mse)(w, batch)
        updates, state = optax.sgd(lrs[t], momentum=0.9).update(g, state, w)
        w = optax.apply_updates(w, updates)
        losses.append(float(loss))
    np.testing.assert_allclose(r.lrs, lrs, rtol=1e-12)
    np.testing.assert_allclose(r.losses, losses, rtol=1e-10)
    np.testing.assert_allclose(r.smoothed_losses, np_smooth(losses, 0.9), rtol=1e-10)


def test_batch_order_and_single_compile():
    """Batches cycle in order, or in a fresh permutation each pass with a key; one trace."""
    traces = []

    def batch_id(w, b):
        traces.append(1)
        return b + 100.0 + 0.0 * jnp.sum(w)  # the loss *is* the batch id (shifted)

    ids = jnp.arange(5.0)
    r = lr_range_test(batch_id, jnp.zeros(2), ids, optax.sgd, num_steps=20)
    np.testing.assert_array_equal(np.asarray(r.losses) - 100, np.arange(20) % 5)
    assert len(traces) <= 2  # eval_shape + the scan body: no per-step tracing
    r = lr_range_test(batch_id, jnp.zeros(2), ids, optax.sgd, num_steps=20,
                      key=jax.random.key(3))
    order = (np.asarray(r.losses) - 100).astype(int)
    for p in range(4):
        assert sorted(order[5 * p:5 * p + 5]) == list(range(5))
    assert not np.array_equal(order, np.arange(20) % 5)


def test_plot_returns_figure(full_batch_result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = full_batch_result.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 3
    plt.close(fig)
    fig2, ax2 = plt.subplots()
    assert full_batch_result.plot(ax=ax2) is fig2
    plt.close(fig2)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(min_lr=0.0), ValueError, r"lr_range_test: min_lr must be in \(0.0, inf\)"),
    (dict(min_lr=1.0, max_lr=0.5), ValueError, "max_lr must exceed min_lr"),
    (dict(num_steps=1), ValueError, "num_steps must be at least 2; got 1"),
    (dict(mode="cosine"), ValueError, r"mode must be one of \('exponential', 'linear'\)"),
    (dict(smooth=1.0), ValueError, r"smooth must be in \[0.0, 1.0\)"),
    (dict(diverge_threshold=1.0), ValueError, r"diverge_threshold must be in \(1.0, inf\)"),
    (dict(skip_end=-1), ValueError, "skip_end must be a non-negative integer"),
    (dict(optimizer_factory=lambda lr: optax.sgd(lr)), TypeError,
     "optimizer_factory must accept the keyword learning_rate.*lambda learning_rate: "),
    (dict(optimizer_factory=lambda learning_rate: 3), TypeError,
     "must return an optax.GradientTransformation; got int"),
    (dict(loss_fn=lambda w, b: (b[0] @ w - b[1]) ** 2), ValueError,
     r"loss_fn\(params, batch\) must return a floating scalar; got \(\(64,\), "),
    (dict(single_batch=False, data=(jnp.zeros((64, 4)), jnp.zeros(32))), ValueError,
     r"same leading axis of batches.*got shapes \[\(64, 4\), \(32,\)\].*single_batch=True"),
])
def test_bad_arguments(kwargs, exc, match):
    x, y = regression_problem()
    args = dict(loss_fn=mse, params=jnp.zeros(4), data=(x, y), optimizer_factory=optax.sgd,
                single_batch=True)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        lr_range_test(**args)


def test_docstring_examples():
    result = doctest.testmod(_lr_finder, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
