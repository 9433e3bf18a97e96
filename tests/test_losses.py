"""jnn.losses against optax, numpy closed forms and hand-computed examples."""

import doctest
import functools

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import tol
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import jnn.losses as L

RNG = np.random.default_rng(0)
N, K = 6, 4
PRED = RNG.normal(size=(N, 3)).astype(np.float32)
TARG = RNG.normal(size=(N, 3)).astype(np.float32)
LOGITS = (2.0 * RNG.normal(size=(N, K))).astype(np.float32)
LABELS = np.array([0, 3, 1, 2, 3, 0], np.int32)
ONE_HOT = np.eye(K, dtype=np.float32)[LABELS]
SOFT = RNG.dirichlet(np.ones(K), size=N).astype(np.float32)
BIN_LOGITS = (3.0 * RNG.normal(size=(N,))).astype(np.float32)
BIN_TARGETS = np.array([1, 0, 1, 1, 0, 0], np.float32)
SOFT_BIN_TARGETS = RNG.uniform(size=(N,)).astype(np.float32)
PM_TARGETS = 2 * BIN_TARGETS - 1

F32 = dict(rtol=1e-6, atol=1e-6)


def close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **(kw or F32))


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


# --- against optax ----------------------------------------------------------------------


def test_mse_against_optax():
    close(L.mse(PRED, TARG, reduction="none"), optax.squared_error(PRED, TARG))
    close(L.mse(PRED, TARG), optax.squared_error(PRED, TARG).mean())
    # optax.l2_loss (and the course) carry a factor 1/2.
    close(0.5 * L.mse(PRED, TARG), optax.l2_loss(PRED, TARG).mean())
    close(0.5 * L.mse(PRED, TARG, reduction="sum"), optax.l2_loss(PRED, TARG).sum(), rtol=1e-5)


@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber_against_optax(delta):
    close(
        L.huber(PRED, TARG, delta=delta, reduction="none"),
        optax.huber_loss(PRED, TARG, delta=delta),
    )
    close(L.huber(PRED, TARG, delta=delta), optax.huber_loss(PRED, TARG, delta=delta).mean())


@pytest.mark.parametrize("targets", [BIN_TARGETS, SOFT_BIN_TARGETS], ids=["hard", "soft"])
def test_bce_with_logits_against_optax(targets):
    ref = optax.sigmoid_binary_cross_entropy(BIN_LOGITS, targets)
    close(L.binary_cross_entropy_with_logits(BIN_LOGITS, targets, reduction="none"), ref)
    close(L.binary_cross_entropy_with_logits(BIN_LOGITS, targets), ref.mean())


def test_softmax_cross_entropy_integer_labels_against_optax():
    ref = optax.softmax_cross_entropy_with_integer_labels(LOGITS, LABELS)
    close(L.softmax_cross_entropy(LOGITS, LABELS, reduction="none"), ref)
    close(L.softmax_cross_entropy(LOGITS, LABELS), ref.mean())


@pytest.mark.parametrize("targets", [ONE_HOT, SOFT], ids=["one_hot", "soft"])
def test_softmax_cross_entropy_distributions_against_optax(targets):
    ref = optax.softmax_cross_entropy(LOGITS, targets)
    close(L.softmax_cross_entropy(LOGITS, targets, reduction="none"), ref)
    close(L.softmax_cross_entropy(LOGITS, targets, reduction="sum"), ref.sum(), rtol=1e-5)


@pytest.mark.parametrize("eps", [0.1, 0.35])
@pytest.mark.parametrize("form", ["labels", "one_hot", "soft"])
def test_uniform_label_smoothing_against_optax(eps, form):
    targets = {"labels": LABELS, "one_hot": ONE_HOT, "soft": SOFT}[form]
    dist = ONE_HOT if form != "soft" else SOFT
    ref = optax.softmax_cross_entropy(LOGITS, optax.smooth_labels(dist, eps))
    out = L.softmax_cross_entropy(LOGITS, targets, label_smoothing=eps, reduction="none")
    close(out, ref, rtol=1e-5, atol=1e-6)


def test_binary_hinge_against_optax():
    ref = optax.hinge_loss(BIN_LOGITS, PM_TARGETS)
    close(L.binary_hinge(BIN_LOGITS, PM_TARGETS, reduction="none"), ref)
    close(L.binary_hinge(BIN_LOGITS, PM_TARGETS.astype(np.int32)), ref.mean())


def test_multiclass_hinge_against_optax_and_crammer_singer():
    ref = optax.losses.multiclass_hinge_loss(LOGITS, LABELS)
    out = L.multiclass_hinge(LOGITS, LABELS, reduction="none")
    close(out, ref)
    true = LOGITS[np.arange(N), LABELS]
    others = np.where(ONE_HOT > 0, -np.inf, LOGITS).max(-1)
    close(out, np.maximum(0.0, 1.0 + others - true))


# --- closed forms where optax has no counterpart ----------------------------------------


def test_mae_closed_form():
    close(L.mae(PRED, TARG, reduction="none"), np.abs(PRED - TARG))
    close(L.mae(PRED, TARG), np.abs(PRED - TARG).mean())


def test_weighted_mse_closed_form():
    w = RNG.uniform(0.0, 2.0, size=N).astype(np.float32)
    per_elem = w[:, None] * (PRED - TARG) ** 2
    close(L.weighted_mse(PRED, TARG, w, reduction="none"), per_elem)
    close(L.weighted_mse(PRED, TARG, w), per_elem.mean())
    close(L.weighted_mse(PRED, TARG, w, reduction="sum"), per_elem.sum(), rtol=1e-5)
    w_full = RNG.uniform(0.0, 2.0, size=PRED.shape).astype(np.float32)
    close(L.weighted_mse(PRED, TARG, w_full), (w_full * (PRED - TARG) ** 2).mean())
    # Unit weights give the MSE.
    close(L.weighted_mse(PRED, TARG, np.ones(N, np.float32)), L.mse(PRED, TARG))


def test_binary_cross_entropy_probabilities_closed_form():
    p = RNG.uniform(0.01, 0.99, size=N).astype(np.float32)
    ref = -(SOFT_BIN_TARGETS * np.log(p) + (1 - SOFT_BIN_TARGETS) * np.log(1 - p))
    close(L.binary_cross_entropy(p, SOFT_BIN_TARGETS, reduction="none"), ref, rtol=1e-5)
    # The same loss as from the logits of those probabilities.
    z = np.log(p) - np.log1p(-p)
    close(
        L.binary_cross_entropy(p, BIN_TARGETS),
        L.binary_cross_entropy_with_logits(z, BIN_TARGETS),
        rtol=1e-5,
    )


def test_binary_cross_entropy_clips_with_eps():
    p = jnp.array([0.0, 1.0, 0.0, 1.0])
    t = jnp.array([1.0, 0.0, 0.0, 1.0])
    out = L.binary_cross_entropy(p, t, reduction="none")
    assert bool(jnp.all(jnp.isfinite(out)))
    # float32: eps = 1e-7 below, 1 - eps rounds to 1 - 2**-23 above.
    close(out, [-np.log(1e-7), -np.log(2.0**-23), 2.0**-24, 2.0**-24], rtol=1e-4, atol=1e-7)
    out = L.binary_cross_entropy(p[:1], t[:1], eps=1e-3)
    close(out, -np.log(1e-3), rtol=1e-6)
    # bfloat16: eps is raised to the gap below 1 so that 1 - eps < 1.
    low = L.binary_cross_entropy(p.astype(jnp.bfloat16), t.astype(jnp.bfloat16), reduction="none")
    assert bool(jnp.all(jnp.isfinite(low)))


@pytest.mark.parametrize("eps", [0.1, 0.35])
@pytest.mark.parametrize("form", ["labels", "one_hot"])
def test_others_label_smoothing_closed_form(eps, form):
    """The course's convention: 1 - eps on the true class, eps / (K - 1) on each other."""
    targets = LABELS if form == "labels" else ONE_HOT
    smoothed = np.where(ONE_HOT > 0, 1.0 - eps, eps / (K - 1))
    np.testing.assert_allclose(smoothed.sum(-1), 1.0, rtol=1e-6)
    ref = -(smoothed * np_log_softmax(LOGITS.astype(np.float64))).sum(-1)
    out = L.softmax_cross_entropy(
        LOGITS, targets, label_smoothing=eps, smoothing_convention="others", reduction="none"
    )
    close(out, ref, rtol=1e-5, atol=1e-6)


def test_others_label_smoothing_soft_targets():
    eps = 0.2
    smoothed = (1 - eps) * SOFT + eps / (K - 1) * (1 - SOFT)
    np.testing.assert_allclose(smoothed.sum(-1), 1.0, rtol=1e-6)
    ref = -(smoothed * np_log_softmax(LOGITS.astype(np.float64))).sum(-1)
    out = L.softmax_cross_entropy(
        LOGITS, SOFT, label_smoothing=eps, smoothing_convention="others", reduction="none"
    )
    close(out, ref, rtol=1e-5, atol=1e-6)


def test_accuracy_metrics():
    pred_labels = LOGITS.argmax(-1)
    ref = (pred_labels == LABELS).mean()
    close(L.accuracy(LOGITS, LABELS), ref)
    close(L.accuracy(LOGITS, ONE_HOT), ref)
    close(L.accuracy(LOGITS, LABELS, reduction="sum"), (pred_labels == LABELS).sum())
    close(L.accuracy(LOGITS, LABELS, reduction="none"), (pred_labels == LABELS).astype(np.float32))
    probs = np.array([0.9, 0.2, 0.7, 0.4], np.float32)
    close(L.binary_accuracy(probs, np.array([1, 0, 0, 0])), 0.75)
    close(L.binary_accuracy(probs - 0.5, np.array([1, -1, -1, -1]), threshold=0.0), 0.75)


# --- hand-computed examples -------------------------------------------------------------


def test_squared_error_worked_example():
    """softmax output (0.1, 0.8, 0.1) against one-hot (0, 1, 0): squares 0.01 + 0.04 + 0.01."""
    y_hat, y = jnp.array([0.1, 0.8, 0.1]), jnp.array([0.0, 1.0, 0.0])
    close(L.mse(y_hat, y, reduction="sum"), 0.06)  # sum of squared errors
    close(L.mse(y_hat, y), 0.02)  # mean of squared errors
    close(0.5 * L.mse(y_hat, y, reduction="sum"), 0.03)  # the course's 1/2 convention
    close(optax.l2_loss(y_hat, y).sum(), 0.03)
    # Two outputs (0.87, 0.13) against (1, 0): 2 * 0.13**2 = 0.0338.
    close(L.mse(jnp.array([0.87, 0.13]), jnp.array([1.0, 0.0]), reduction="sum"), 0.0338)


def test_cross_entropy_worked_example():
    """Probabilities (0.1, 0.2, 0.7), true class 2, K = 3."""
    logits = jnp.log(jnp.array([[0.1, 0.2, 0.7]]))
    label = jnp.array([2])
    close(L.softmax_cross_entropy(logits, label), 0.356675, rtol=1e-5)  # -ln 0.7
    # others: targets (0.05, 0.05, 0.9): 0.05 ln 10 + 0.05 ln 5 + 0.9 (-ln 0.7) = 0.516608
    close(
        L.softmax_cross_entropy(logits, label, label_smoothing=0.1, smoothing_convention="others"),
        0.516608,
        rtol=1e-5,
    )
    # uniform: targets (1/30, 1/30, 0.9 + 1/30): (ln 10 + ln 5) / 30 + (28/30)(-ln 0.7) = 0.463297
    close(L.softmax_cross_entropy(logits, label, label_smoothing=0.1), 0.463297, rtol=1e-5)


def test_huber_and_hinge_worked_examples():
    close(
        L.huber(jnp.array([0.5, 3.0, -2.0]), jnp.zeros(3), reduction="none"), [0.125, 2.5, 1.5]
    )  # 0.5**2/2; 1*(3 - 0.5); 1*(2 - 0.5)
    close(
        L.binary_hinge(jnp.array([2.0, 0.5, 0.5]), jnp.array([1, 1, -1]), reduction="none"),
        [0.0, 0.5, 1.5],
    )
    # scores (3, 2.5, 0), label 0: max(0, 1 + 2.5 - 3) = 0.5; label 2: 1 + 3 - 0 = 4.
    close(
        L.multiclass_hinge(jnp.array([[3.0, 2.5, 0.0]] * 2), jnp.array([0, 2]), reduction="none"),
        [0.5, 4.0],
    )


# --- reductions --------------------------------------------------------------------------

W = RNG.uniform(0.0, 2.0, size=N).astype(np.float32)
CASES = {
    "mse": (L.mse, PRED, TARG),
    "mae": (L.mae, PRED, TARG),
    "weighted_mse": (functools.partial(L.weighted_mse, weights=W), PRED, TARG),
    "huber": (L.huber, PRED, TARG),
    "bce_logits": (L.binary_cross_entropy_with_logits, BIN_LOGITS, SOFT_BIN_TARGETS),
    "bce": (L.binary_cross_entropy, jax.nn.sigmoid(BIN_LOGITS), BIN_TARGETS),
    "sce_labels": (L.softmax_cross_entropy, LOGITS, LABELS),
    "sce_soft": (functools.partial(L.softmax_cross_entropy, label_smoothing=0.1), LOGITS, SOFT),
    "binary_hinge": (L.binary_hinge, BIN_LOGITS, PM_TARGETS),
    "multiclass_hinge": (L.multiclass_hinge, LOGITS, LABELS),
    "accuracy": (L.accuracy, LOGITS, LABELS),
    "binary_accuracy": (L.binary_accuracy, BIN_LOGITS, BIN_TARGETS),
}
CLASS_LOSSES = {"sce_labels", "sce_soft", "multiclass_hinge", "accuracy"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reductions_and_jit(name):
    fn, p, t = CASES[name]
    none = fn(p, t, reduction="none")
    expected_shape = p.shape[:-1] if name in CLASS_LOSSES else p.shape
    assert none.shape == expected_shape and none.dtype == jnp.float32
    close(fn(p, t), none.mean())
    close(fn(p, t, reduction="sum"), none.sum(), rtol=1e-5, atol=1e-5)
    assert fn(p, t).shape == ()
    jitted = jax.jit(fn, static_argnames="reduction")
    close(jitted(p, t, reduction="none"), none, rtol=tol(jnp.float32), atol=1e-6)
    shape = jax.eval_shape(functools.partial(fn, reduction="none"), p, t)
    assert shape.shape == none.shape and shape.dtype == none.dtype


def test_vmap_over_examples_equals_none_reduction():
    per_example = jax.vmap(lambda z, y: L.softmax_cross_entropy(z, y))(LOGITS, LABELS)
    close(per_example, L.softmax_cross_entropy(LOGITS, LABELS, reduction="none"))


# --- stability ---------------------------------------------------------------------------


def test_binary_cross_entropy_with_logits_stable_at_1e4():
    z = jnp.array([1e4, -1e4, 1e4, -1e4])
    t = jnp.array([1.0, 0.0, 0.0, 1.0])
    close(L.binary_cross_entropy_with_logits(z, t, reduction="none"), [0.0, 0.0, 1e4, 1e4])
    g = jax.grad(L.binary_cross_entropy_with_logits)(z, t)
    close(g, (jax.nn.sigmoid(z) - t) / 4)  # d/dz = (sigmoid(z) - t) / n


def test_softmax_cross_entropy_stable_at_1e4():
    logits = jnp.array([[1e4, -1e4, 0.0]] * 3)
    labels = jnp.array([0, 1, 2])
    close(L.softmax_cross_entropy(logits, labels, reduction="none"), [0.0, 2e4, 1e4])
    smooth = L.softmax_cross_entropy(
        logits, labels, label_smoothing=0.1, smoothing_convention="others", reduction="none"
    )
    assert bool(jnp.all(jnp.isfinite(smooth)))
    close(smooth[0], 0.05 * 2e4 + 0.05 * 1e4, rtol=1e-6)
    g = jax.grad(L.softmax_cross_entropy)(logits, labels)
    close(g, (jax.nn.softmax(logits) - jax.nn.one_hot(labels, 3)) / 3)


# --- gradients (float64) -----------------------------------------------------------------


def test_check_grads_order2(x64):
    """All smooth losses in one compiled function; inputs away from the hinge/Huber kinks."""
    p = jnp.array([0.3, -1.2, 2.0, 0.4])
    t = jnp.array([0.1, 0.5, -0.4, 1.0])
    probs = jnp.array([0.2, 0.7, 0.45, 0.9])
    logits = jnp.array([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]])
    labels = jnp.array([2, 0])
    soft = jnp.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])

    def f(p, logits):
        return jnp.stack(
            [
                L.mse(p, t),
                L.mae(p, t),
                L.weighted_mse(p, t, jnp.array([1.0, 0.5, 2.0, 0.0])),
                L.huber(p, t, delta=0.7),
                L.binary_cross_entropy_with_logits(p, jnp.array([1.0, 0.0, 0.3, 1.0])),
                L.binary_cross_entropy(jax.nn.sigmoid(p) * 0.5 + 0.25, probs),
                L.binary_hinge(p, jnp.array([1.0, -1.0, -1.0, 1.0])),
                L.softmax_cross_entropy(logits, labels, label_smoothing=0.1),
                L.softmax_cross_entropy(
                    logits, soft, label_smoothing=0.2, smoothing_convention="others"
                ),
                L.multiclass_hinge(logits, labels),
            ]
        )

    # Forward mode to order 2; reverse mode (jax.grad) is checked against the closed-form
    # gradients sigmoid(z) - t and softmax(z) - onehot in the stability tests.
    check_grads(
        jax.jit(f),
        (p, logits),
        order=2,
        modes=("fwd",),
        atol=tol(jnp.float64, "grads"),
        rtol=tol(jnp.float64, "grads"),
    )


# --- invalid values under jit give NaN ---------------------------------------------------


def test_invalid_values_under_jit_give_nan():
    sce = jax.jit(L.softmax_cross_entropy, static_argnames="reduction")
    out = sce(LOGITS[:3], jnp.array([0, 4, -1]), reduction="none")
    assert bool(jnp.isfinite(out[0])) and bool(jnp.all(jnp.isnan(out[1:])))
    assert bool(jnp.isnan(sce(LOGITS[:3], jnp.array([0, 4, 1]))))
    mch = jax.jit(L.multiclass_hinge)
    assert bool(jnp.isnan(mch(LOGITS[:2], jnp.array([0, 9]))))
    acc = jax.jit(L.accuracy)
    assert bool(jnp.isnan(acc(LOGITS[:2], jnp.array([0, 9]))))
    hinge = jax.jit(L.binary_hinge)
    assert bool(jnp.isnan(hinge(BIN_LOGITS[:2], jnp.array([1.0, 0.0]))))
    bce = jax.jit(L.binary_cross_entropy)
    assert bool(jnp.isnan(bce(jnp.array([0.5, 1.5]), jnp.array([1.0, 0.0]))))
    bce_logits = jax.jit(L.binary_cross_entropy_with_logits)
    assert bool(jnp.isnan(bce_logits(jnp.array([0.5, 1.5]), jnp.array([1.0, 2.0]))))
    wmse = jax.jit(L.weighted_mse)
    assert bool(jnp.isnan(wmse(jnp.ones(2), jnp.zeros(2), jnp.array([1.0, -1.0]))))


def test_label_smoothing_can_be_traced():
    """label_smoothing as a traced value (optax.inject_hyperparams style) is not branched on."""
    f = jax.jit(
        lambda eps: L.softmax_cross_entropy(
            LOGITS, LABELS, label_smoothing=eps, smoothing_convention="others"
        )
    )
    close(
        f(0.1),
        L.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=0.1, smoothing_convention="others"),
        rtol=1e-6,
    )
    close(f(0.0), L.softmax_cross_entropy(LOGITS, LABELS), rtol=1e-6)


# --- bad input ---------------------------------------------------------------------------


def test_reduction_validated():
    with pytest.raises(
        ValueError,
        match=r"losses.mse: reduction must be one of 'mean', "
        r"'sum', 'none'; got 'avg'",
    ):
        L.mse(PRED, TARG, reduction="avg")
    with pytest.raises(ValueError, match=r"losses.softmax_cross_entropy: reduction must be"):
        L.softmax_cross_entropy(LOGITS, LABELS, reduction=None)


@pytest.mark.parametrize(
    "fn",
    [L.mse, L.mae, L.huber, L.binary_cross_entropy_with_logits, L.binary_hinge, L.binary_accuracy],
)
def test_column_prediction_against_flat_targets_refused(fn):
    name = fn.__name__
    p_name = {"binary_cross_entropy_with_logits": "logits", "binary_hinge": "scores"}.get(
        name, "predictions"
    )
    with pytest.raises(
        ValueError,
        match=rf"losses.{name}: {p_name} has shape \(6, 1\) but "
        rf"targets has shape \(6,\); squeeze the last axis of {p_name} "
        rf"\({p_name}\[\.\.\., 0\]\) so the shapes match. jnn does not "
        rf"broadcast {p_name} against targets",
    ):
        fn(jnp.zeros((6, 1)), jnp.ones(6))


def test_flat_prediction_against_column_targets_refused():
    with pytest.raises(
        ValueError,
        match=r"losses.mse: predictions has shape \(6,\) but targets "
        r"has shape \(6, 1\); squeeze the last axis of targets",
    ):
        L.mse(jnp.zeros(6), jnp.ones((6, 1)))
    with pytest.raises(
        ValueError,
        match=r"losses.mae: predictions has shape \(2, 3\) but "
        r"targets has shape \(3,\); pass predictions and targets of the same shape",
    ):
        L.mae(jnp.zeros((2, 3)), jnp.ones(3))
    with pytest.raises(
        ValueError,
        match=r"losses.binary_cross_entropy: probabilities has "
        r"shape \(4, 1\) but targets has shape \(4,\); squeeze the last axis",
    ):
        L.binary_cross_entropy(jnp.full((4, 1), 0.5), jnp.ones(4))


def test_integer_predictions_refused():
    with pytest.raises(
        TypeError,
        match=r"losses.mse: predictions has dtype int32 but a "
        r"floating dtype is needed. Cast it first",
    ):
        L.mse(jnp.array([1, 2]), jnp.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"losses.softmax_cross_entropy: logits has dtype int32"):
        L.softmax_cross_entropy(jnp.array([[1, 2]]), jnp.array([0]))
    with pytest.raises(TypeError, match=r"losses.mse: targets has complex dtype complex64"):
        L.mse(jnp.ones(2), jnp.ones(2, jnp.complex64))


def test_integer_targets_accepted_and_cast():
    out = L.mse(jnp.array([0.5, 1.5]), jnp.array([1, 1]))
    assert out.dtype == jnp.float32
    close(out, 0.25)


def test_labels_out_of_range():
    with pytest.raises(
        ValueError,
        match=r"losses.softmax_cross_entropy: targets must be class "
        r"indices in \[0, 4\) for 4 classes; got 2 value\(s\) outside it, e.g. "
        r"\[-1, 4\]. Check the label encoding \(labels start at 0\) and the "
        r"number of output units",
    ):
        L.softmax_cross_entropy(LOGITS[:3], jnp.array([4, 0, -1]))
    with pytest.raises(
        ValueError,
        match=r"losses.multiclass_hinge: targets must be class "
        r"indices in \[0, 4\)",
    ):
        L.multiclass_hinge(LOGITS[:1], np.array([7]))
    with pytest.raises(ValueError, match=r"losses.accuracy: targets must be class indices"):
        L.accuracy(LOGITS[:1], np.array([4]))


def test_labels_checked_under_grad_when_concrete():
    loss = lambda z: L.softmax_cross_entropy(z, jnp.array([0, 5]))
    with pytest.raises(ValueError, match=r"targets must be class indices in \[0, 4\)"):
        jax.grad(loss)(LOGITS[:2])


def test_label_shape_and_dtype_errors():
    with pytest.raises(
        ValueError,
        match=r"losses.softmax_cross_entropy: targets has shape "
        r"\(6, 1\) but logits has shape \(6, 4\); squeeze the last axis of "
        r"targets \(targets\[\.\.\., 0\]\)",
    ):
        L.softmax_cross_entropy(LOGITS, LABELS[:, None])
    with pytest.raises(
        ValueError,
        match=r"losses.softmax_cross_entropy: targets has shape "
        r"\(5,\) but logits has shape \(6, 4\); pass integer labels of shape "
        r"\(6,\)",
    ):
        L.softmax_cross_entropy(LOGITS, LABELS[:5])
    with pytest.raises(
        TypeError,
        match=r"losses.softmax_cross_entropy: targets of shape \(6,\) "
        r"are read as class indices and must have an integer dtype; got "
        r"float32. Cast them, e.g. targets.astype\(jnp.int32\), or pass one-hot "
        r"targets of shape \(6, 4\)",
    ):
        L.softmax_cross_entropy(LOGITS, LABELS.astype(np.float32))
    with pytest.raises(
        ValueError,
        match=r"losses.multiclass_hinge: targets has the shape of "
        r"scores \(6, 4\), as one-hot labels do; pass integer labels of shape "
        r"\(6,\), e.g. jnp.argmax\(targets, axis=-1\)",
    ):
        L.multiclass_hinge(LOGITS, ONE_HOT)
    with pytest.raises(
        ValueError,
        match=r"losses.softmax_cross_entropy: logits must have a "
        r"class axis \(the last\), e.g. shape \(batch, classes\); got a scalar",
    ):
        L.softmax_cross_entropy(jnp.float32(1.0), jnp.int32(0))


def test_smoothing_arguments_validated():
    with pytest.raises(
        ValueError,
        match=r"losses.softmax_cross_entropy: smoothing_convention "
        r"must be 'uniform' \(epsilon/K on every class, as optax\) or 'others' "
        r"\(epsilon/\(K-1\) on the wrong classes\); got 'k-1'",
    ):
        L.softmax_cross_entropy(LOGITS, LABELS, smoothing_convention="k-1")
    with pytest.raises(
        ValueError,
        match=r"losses.softmax_cross_entropy: label_smoothing must "
        r"be in \[0.0, 1.0\]; got 1.5",
    ):
        L.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=1.5)
    with pytest.raises(
        ValueError,
        match=r"losses.softmax_cross_entropy: "
        r"smoothing_convention='others' spreads epsilon/\(K-1\) over the other "
        r"classes and needs at least 2 classes; logits has 1",
    ):
        L.softmax_cross_entropy(
            jnp.zeros((2, 1)), jnp.array([0, 0]), label_smoothing=0.1, smoothing_convention="others"
        )


def test_hyperparameters_validated():
    with pytest.raises(ValueError, match=r"losses.huber: delta must be in \(0.0, inf\); got 0.0"):
        L.huber(PRED, TARG, delta=0.0)
    with pytest.raises(
        ValueError,
        match=r"losses.binary_cross_entropy: eps must be in "
        r"\(0.0, 0.5\); got 0.5",
    ):
        L.binary_cross_entropy(jnp.full(2, 0.5), jnp.ones(2), eps=0.5)


def test_value_errors_for_targets_and_probabilities():
    with pytest.raises(
        ValueError,
        match=r"losses.binary_hinge: targets must be -1 or \+1; got "
        r"3 value\(s\) outside it, e.g. \[0.0\]. For 0/1 labels pass "
        r"2 \* targets - 1",
    ):
        L.binary_hinge(BIN_LOGITS, BIN_TARGETS)
    with pytest.raises(
        ValueError,
        match=r"losses.binary_cross_entropy: probabilities must be in "
        r"\[0, 1\]; got 1 value\(s\) outside it, e.g. \[2.0\]. If these are "
        r"logits, use binary_cross_entropy_with_logits",
    ):
        L.binary_cross_entropy(jnp.array([0.5, 2.0]), jnp.array([1.0, 0.0]))
    with pytest.raises(
        ValueError,
        match=r"losses.binary_cross_entropy_with_logits: targets must "
        r"be in \[0, 1\]; got 1 value\(s\) outside it, e.g. \[-1.0\]. For ±1 "
        r"labels pass \(targets \+ 1\) / 2",
    ):
        L.binary_cross_entropy_with_logits(jnp.zeros(2), jnp.array([1.0, -1.0]))
    with pytest.raises(
        ValueError,
        match=r"losses.weighted_mse: weights must be non-negative; "
        r"got 1 value\(s\) outside it, e.g. \[-1.0\]",
    ):
        L.weighted_mse(jnp.ones(2), jnp.zeros(2), jnp.array([1.0, -1.0]))
    with pytest.raises(
        ValueError,
        match=r"losses.weighted_mse: weights has shape \(3,\) but "
        r"predictions has shape \(6, 3\); pass one weight per sample, shape "
        r"\(6,\), or one per element, shape \(6, 3\)",
    ):
        L.weighted_mse(PRED, TARG, jnp.ones(3))


def test_registry():
    assert L.names() == sorted(L.names())
    for name in [
        "mse",
        "mae",
        "weighted_mse",
        "huber",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "softmax_cross_entropy",
        "binary_hinge",
        "multiclass_hinge",
    ]:
        assert L.get(name) is getattr(L, name)
    assert L.get("Mean-Squared-Error") is L.mse
    assert L.get(optax.l2_loss) is optax.l2_loss
    with pytest.raises(
        ValueError,
        match=r"losses.get: unknown loss 'cross_entropy'; valid "
        r"names are binary_cross_entropy, .*softmax_cross_entropy, weighted_mse. "
        r"Or pass a function loss\(predictions, targets\)",
    ):
        L.get("cross_entropy")
    with pytest.raises(
        TypeError,
        match=r"losses.get: name must be a string such as 'mse' or a "
        r"callable; got None \(type NoneType\)",
    ):
        L.get(None)


# --- properties --------------------------------------------------------------------------


@jax.jit
def _sce_views(z, labels, eps):
    k = z.shape[-1]
    return (
        L.softmax_cross_entropy(z, labels, reduction="none"),
        L.softmax_cross_entropy(z, jax.nn.one_hot(labels, k), reduction="none"),
        L.softmax_cross_entropy(z, labels, label_smoothing=eps, reduction="none"),
        -jnp.mean(jax.nn.log_softmax(z), axis=-1),
    )


@settings(max_examples=20, deadline=None)
@given(
    z=hnp.arrays(np.float32, (3, 5), elements=st.floats(-30, 30, width=32)),
    labels=hnp.arrays(np.int32, (3,), elements=st.integers(0, 4)),
    eps=st.floats(0.0, 1.0),
)
def test_cross_entropy_properties(z, labels, eps):
    """CE >= 0; labels and one-hot agree; uniform smoothing mixes CE with the mean NLL."""
    ce, ce_onehot, ce_smooth, mean_nll = (np.asarray(a) for a in _sce_views(z, labels, eps))
    assert np.all(ce >= -1e-6)
    np.testing.assert_allclose(ce_onehot, ce, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ce_smooth, (1 - eps) * ce + eps * mean_nll, rtol=1e-4, atol=1e-4)


def test_docstring_examples_run():
    result = doctest.testmod(L, extraglobs={"jnp": jnp})
    assert result.attempted > 10 and result.failed == 0
