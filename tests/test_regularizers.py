"""Regularizers: penalties against numpy, gradients, weight decay = L2 for SGD, max-norm,
clipping and gradient noise (large-sample statistics with stated bounds)."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close, tol
from jax.test_util import check_grads

from jnn.optim import _regularizers as R
from jnn.optim._base import weights_mask


def make_params(seed=0, dtype=jnp.float32):
    """A Sequential-like tree: conv kernel, dense kernel, biases, a norm scale, a scalar.

    Entries are bounded away from 0 (|w| >= 0.3) so |w| is differentiable at each of them.
    """
    rng = np.random.default_rng(seed)
    away = lambda *shape: jnp.asarray(rng.choice([-1, 1], shape) * rng.uniform(0.3, 2, shape),
                                      dtype)
    return [
        {"kernel": away(3, 3, 2, 4), "bias": away(4)},
        {"scale": away(4), "temperature": jnp.asarray(1.5, dtype)},
        {"kernel": away(4, 5), "bias": jnp.zeros(5, dtype)},
    ]


def np_leaves(params, mask):
    return [np.asarray(p, np.float64) for p, m in zip(jax.tree.leaves(params),
                                                      jax.tree.leaves(mask)) if m]


def test_weights_mask_marks_kernels_only():
    mask = weights_mask(make_params())
    assert mask == [{"kernel": True, "bias": False}, {"scale": False, "temperature": False},
                    {"kernel": True, "bias": False}]


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("which", ["default", "auto", "none", "tree", "callable"])
def test_penalties_match_numpy(key, which):
    params = make_params(0, jnp.float64)
    default = weights_mask(params)
    everything = jax.tree.map(lambda _: True, params)
    custom = jax.tree.map(lambda p: p.ndim == 1, params)
    mask, expected_mask = {
        "default": ("auto", default),
        "auto": (weights_mask, default),
        "none": (None, everything),
        "tree": (custom, custom),
        "callable": (lambda p: jax.tree.map(lambda x: x.ndim == 1, p), custom),
    }[which]
    leaves = np_leaves(params, expected_mask)
    l1 = sum(np.abs(x).sum() for x in leaves)
    l2 = 0.5 * sum((x**2).sum() for x in leaves)
    rtol = tol(jnp.float64)
    np.testing.assert_allclose(R.l1_penalty(params, mask=mask), l1, rtol=rtol)
    np.testing.assert_allclose(R.l2_penalty(params, mask=mask), l2, rtol=rtol)
    np.testing.assert_allclose(R.elastic_net(params, 0.3, mask=mask), 0.3 * l1 + 0.7 * l2,
                               rtol=rtol)
    np.testing.assert_allclose(R.elastic_net(params, 1.0, mask=mask), l1, rtol=rtol)
    np.testing.assert_allclose(R.elastic_net(params, 0.0, mask=mask), l2, rtol=rtol)


def test_default_mask_is_the_default(key):
    params = make_params()
    assert float(R.l2_penalty(params)) == float(R.l2_penalty(params, mask=weights_mask))
    assert float(R.l2_penalty(params)) < float(R.l2_penalty(params, mask=None))
    assert float(R.l2_penalty([{"bias": jnp.ones(3)}])) == 0.0


def test_penalty_bfloat16_accumulates_in_float32(key):
    params = make_params(0, jnp.bfloat16)
    out = R.l2_penalty(params)
    assert out.dtype == jnp.float32
    expected = 0.5 * sum((x**2).sum() for x in np_leaves(params, weights_mask(params)))
    np.testing.assert_allclose(float(out), expected, rtol=1e-6)


@pytest.mark.usefixtures("x64")
def test_penalty_gradients(key):
    params = make_params(0, jnp.float64)
    # Finite differences on the elastic net (it contains both penalties) ...
    small = {"kernel": params[2]["kernel"], "bias": params[0]["bias"]}
    check_grads(lambda p: R.elastic_net(p, 0.4), (small,), order=2, modes=["rev"],
                atol=tol(jnp.float64, "grads"), rtol=tol(jnp.float64, "grads"))
    mask = weights_mask(params)
    # ... and closed forms: d/dw (1/2)||w||^2 = w, d/dw ||w||_1 = sign(w); masked leaves get 0.
    expected_l2 = jax.tree.map(lambda p, m: p if m else jnp.zeros_like(p), params, mask)
    expected_l1 = jax.tree.map(lambda p, m: jnp.sign(p) if m else jnp.zeros_like(p), params, mask)
    assert_trees_close(jax.grad(R.l2_penalty)(params), expected_l2, rtol=1e-12, atol=0)
    assert_trees_close(jax.grad(R.l1_penalty)(params), expected_l1, rtol=1e-12, atol=0)


def test_penalties_jit(key):
    params = make_params()
    np.testing.assert_allclose(jax.jit(R.elastic_net)(params), R.elastic_net(params), rtol=1e-6)


# ------------------------------------------------------------------- weight decay


def test_add_decayed_weights_equals_optax(key):
    params = make_params()
    grads = jax.tree.map(jnp.ones_like, params)
    mask = weights_mask(params)
    for ours, theirs in [
        (R.add_decayed_weights(0.1), optax.add_decayed_weights(0.1, mask)),
        (R.add_decayed_weights(0.1, mask=None), optax.add_decayed_weights(0.1)),
        (R.add_decayed_weights(0.1, mask=weights_mask), optax.add_decayed_weights(0.1, mask)),
    ]:
        got, _ = ours.update(grads, ours.init(params), params)
        want, _ = theirs.update(grads, theirs.init(params), params)
        assert_trees_close(got, want, rtol=0, atol=0)
    tx = R.add_decayed_weights(0.1)
    got, _ = tx.update(grads, tx.init(params), params)
    assert_trees_close(got[0]["bias"], grads[0]["bias"], rtol=0, atol=0)  # bias untouched


@pytest.mark.usefixtures("x64")
def test_weight_decay_equals_l2_for_sgd():
    """Course F11/I6: SGD on R + (lam/2)||w||^2 == decay lam' = alpha * lam, then SGD."""
    x = jax.random.normal(jax.random.key(1), (32, 3), dtype=jnp.float64)
    y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
    params = {"kernel": jnp.ones((3, 1)), "bias": jnp.zeros(1)}

    def risk(p):
        return jnp.mean(((x @ p["kernel"])[:, 0] + p["bias"][0] - y) ** 2)

    alpha, lam = 0.05, 0.3
    penalized = optax.sgd(alpha)
    decoupled = optax.chain(R.add_decayed_weights(lam), optax.sgd(alpha))

    @jax.jit
    def steps(params):
        def body(carry, _):
            (p_pen, s_pen), (p_dec, s_dec), p_ref = carry
            g = jax.grad(lambda p: risk(p) + lam * R.l2_penalty(p))(p_pen)
            u, s_pen = penalized.update(g, s_pen, p_pen)
            p_pen = optax.apply_updates(p_pen, u)
            u, s_dec = decoupled.update(jax.grad(risk)(p_dec), s_dec, p_dec)
            p_dec = optax.apply_updates(p_dec, u)
            # theta_new = theta_old (1 - lam') - alpha grad R(theta_old); bias not decayed.
            g = jax.grad(risk)(p_ref)
            p_ref = {"kernel": p_ref["kernel"] * (1 - alpha * lam) - alpha * g["kernel"],
                     "bias": p_ref["bias"] - alpha * g["bias"]}
            return ((p_pen, s_pen), (p_dec, s_dec), p_ref), None

        init = ((params, penalized.init(params)), (params, decoupled.init(params)), params)
        ((p_pen, _), (p_dec, _), p_ref), _ = jax.lax.scan(body, init, length=25)
        return p_pen, p_dec, p_ref

    p_pen, p_dec, p_np = steps(params)
    assert_trees_close(p_pen, p_dec, rtol=1e-12, atol=1e-14)
    assert_trees_close(p_dec, p_np, rtol=1e-12, atol=1e-14)


def test_add_l1_subgradient(key):
    params = make_params()
    grads = jax.tree.map(lambda p: 0.1 * jnp.ones_like(p), params)
    tx = R.add_l1_subgradient(0.2)
    got, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    mask = weights_mask(params)
    want = jax.tree.map(lambda g, p, m: g + 0.2 * np.sign(p) if m else g, grads, params, mask)
    assert_trees_close(got, want, rtol=1e-7, atol=0)
    # Away from zero it is the gradient of loss + lam * l1_penalty.
    via_grad = jax.grad(lambda p: 0.1 * sum(jnp.sum(x) for x in jax.tree.leaves(p))
                        + 0.2 * R.l1_penalty(p))(params)
    assert_trees_close(got, via_grad, rtol=1e-6, atol=1e-7)
    zero, _ = tx.update(jnp.zeros((2, 2)), None, jnp.zeros((2, 2)))
    assert float(jnp.abs(zero).max()) == 0.0  # sign(0) = 0


# ------------------------------------------------------------------------ max-norm


def np_max_norm(w, c, axes):
    norms = np.sqrt((w.astype(np.float64) ** 2).sum(axis=axes, keepdims=True))
    return np.where(norms > c, w * c / np.maximum(norms, 1e-300), w)


def test_max_norm_dense_and_conv():
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(6, 8)) * np.linspace(0.05, 2.0, 8)  # column norms ~0.1 .. ~5
    conv = rng.normal(size=(3, 3, 2, 4)) * np.array([0.05, 0.5, 1.0, 2.0])
    params = {"dense": {"kernel": dense, "bias": 10 * np.ones(8)},
              "conv": {"kernel": conv, "bias": 10 * np.ones(4)}}
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), params)
    grads = jax.tree.map(lambda p: jnp.asarray(0.1 * rng.normal(size=p.shape), jnp.float32),
                         params)
    c = 1.5
    tx = optax.chain(optax.sgd(0.5), R.max_norm(c))
    updates, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    plain = optax.apply_updates(params, jax.tree.map(lambda g: -0.5 * g, grads))

    for name, axes in (("dense", (0,)), ("conv", (0, 1, 2))):
        landed = np.asarray(plain[name]["kernel"])
        got = np.asarray(new[name]["kernel"])
        norms_before = np.sqrt((landed**2).sum(axis=axes))
        norms_after = np.sqrt((got**2).sum(axis=axes))
        assert (norms_before > c).any() and (norms_before < c).any()
        assert np.all(norms_after <= c * (1 + 1e-6))
        np.testing.assert_allclose(got, np_max_norm(landed, c, axes), rtol=1e-6, atol=1e-7)
        small = norms_before <= c
        # Columns inside the ball: exactly the unconstrained step.
        np.testing.assert_array_equal(got[..., small], landed[..., small])
        # Biases (default mask) are never constrained.
        np.testing.assert_array_equal(new[name]["bias"], plain[name]["bias"])


def test_max_norm_explicit_axis(key):
    w = jax.random.normal(key, (5, 7)) * 3
    tx = R.max_norm(2.0, axis=1, mask=None)
    u, _ = tx.update(jnp.zeros_like(w), tx.init(w), w)
    np.testing.assert_allclose(w + u, np_max_norm(np.asarray(w), 2.0, (1,)), rtol=1e-6,
                               atol=1e-7)


def test_transformations_under_inject_hyperparams(key):
    w = jax.random.normal(key, (4, 3)) * 3
    tx = optax.inject_hyperparams(R.max_norm)(max_value=1.0)
    u, _ = jax.jit(tx.update)(jnp.zeros_like(w), tx.init(w), w)
    np.testing.assert_allclose(w + u, np_max_norm(np.asarray(w), 1.0, (0,)), rtol=1e-6,
                               atol=1e-7)
    for factory, kwargs, expected in [
        (R.add_l1_subgradient, {"l1": 0.5}, 0.5 * np.sign(w)),
        (R.add_decayed_weights, {"weight_decay": 0.5}, 0.5 * np.asarray(w)),
    ]:
        tx = optax.inject_hyperparams(factory)(**kwargs)
        u, state = jax.jit(tx.update)(jnp.zeros_like(w), tx.init(w), w)
        np.testing.assert_allclose(u, expected, rtol=1e-6)
        assert float(state.hyperparams[next(iter(kwargs))]) == 0.5


# ------------------------------------------------------------------------- clipping


def test_clipping_equals_optax_and_numpy(key):
    tree = {"a": 3 * jax.random.normal(key, (10,)), "b": jnp.array([[4.0, -5.0]])}
    leaves = [np.asarray(x) for x in jax.tree.leaves(tree)]
    for ours, theirs, np_fn in [
        (R.clip_by_value(1.0), optax.clip(1.0), lambda x, n: np.clip(x, -1.0, 1.0)),
        (R.clip_by_global_norm(2.0), optax.clip_by_global_norm(2.0),
         lambda x, n: x * min(1.0, 2.0 / n)),
    ]:
        got, _ = ours.update(tree, ours.init(tree))
        want, _ = theirs.update(tree, theirs.init(tree))
        assert_trees_close(got, want, rtol=0, atol=0)
        gnorm = np.sqrt(sum((x.astype(np.float64) ** 2).sum() for x in leaves))
        for g, x in zip(jax.tree.leaves(got), leaves):
            np.testing.assert_allclose(g, np_fn(x, gnorm), rtol=1e-6)


# ---------------------------------------------------------------------- gradient noise


def test_gradient_noise_statistics():
    """Variance eta / (1 + t)^gamma at step t, zero mean, independent across steps.

    Bounds: with n samples the sample variance has relative standard error sqrt(2/n)
    (0.32% for n = 2e5); we allow 5 standard errors. The mean and the correlation between
    consecutive steps have standard error 1/sqrt(n) (in units of sigma); 5 of those too.
    """
    n, eta, gamma = 200_000, 0.3, 0.55
    tx = R.add_gradient_noise(eta, gamma, key=jax.random.key(42))
    grads = jnp.full((n,), 2.0)
    state = tx.init(grads)
    update = jax.jit(tx.update)
    previous = None
    for t in range(4):
        out, state = update(grads, state)
        noise = np.asarray(out, np.float64) - 2.0
        var = eta / (1 + t) ** gamma
        assert abs(noise.var() / var - 1) < 5 * np.sqrt(2 / n)
        assert abs(noise.mean()) < 5 * np.sqrt(var / n)
        if previous is not None:
            assert abs(np.corrcoef(noise, previous)[0, 1]) < 5 / np.sqrt(n)
        previous = noise


def test_gradient_noise_equals_optax():
    g = jnp.ones((3, 4))
    ours, theirs = R.add_gradient_noise(0.01, 0.55, key=7), optax.add_noise(0.01, 0.55, 7)
    s1, s2 = ours.init(g), theirs.init(g)
    for _ in range(3):
        u1, s1 = ours.update(g, s1)
        u2, s2 = theirs.update(g, s2)
        np.testing.assert_array_equal(u1, u2)


# ------------------------------------------------------------------------ bad input


def test_bad_masks(key):
    params = make_params()
    with pytest.raises(ValueError, match=r"l2_penalty: params and mask must have the same tree "
                                         r"structure\.\n  params: PyTreeDef.*\n  mask: PyTreeDef"):
        R.l2_penalty(params, mask={"kernel": True})
    with pytest.raises(TypeError, match="l1_penalty: mask leaves must be Python bools.*"
                                        "jax.tree.map\\(lambda p: p.ndim >= 2, params\\)"):
        R.l1_penalty(params, mask=jax.tree.map(lambda p: 1, params))
    tx = R.max_norm(1.0, mask={"a": True})
    with pytest.raises(ValueError, match="max_norm: params and mask must have the same tree"):
        tx.init(params)
    with pytest.raises(ValueError, match="add_decayed_weights: mask must be 'auto' \\(weights, "
                                         "not biases\\), None \\(every leaf\\).*got 'biases'"):
        R.add_decayed_weights(0.1, mask="biases")


@pytest.mark.parametrize("make, exc, match", [
    (lambda: R.elastic_net({}, l1_ratio=1.5), ValueError, r"elastic_net: l1_ratio must be in \[0.0, 1.0\]"),
    (lambda: R.add_decayed_weights(-0.1), ValueError, "add_decayed_weights: weight_decay must be in"),
    (lambda: R.add_l1_subgradient(-1.0), ValueError, "add_l1_subgradient: l1 must be in"),
    (lambda: R.max_norm(0.0), ValueError, r"max_norm: max_value must be in \(0.0, inf\)"),
    (lambda: R.clip_by_value(0.0), ValueError, "clip_by_value: max_delta must be in"),
    (lambda: R.clip_by_global_norm(-1.0), ValueError, "clip_by_global_norm: max_norm must be in"),
    (lambda: R.add_gradient_noise(-0.1, key=0), ValueError, "add_gradient_noise: eta must be in"),
    (lambda: R.add_gradient_noise(0.1, -1.0, key=0), ValueError, "gamma must be in"),
    (lambda: R.add_gradient_noise(0.1), TypeError, "missing 1 required keyword-only argument: 'key'"),
])
def test_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_needs_params_and_valid_axis():
    w = jnp.ones((3, 2))
    for tx, name in [(R.max_norm(1.0), "max_norm"), (R.add_l1_subgradient(0.1), "add_l1_subgradient")]:
        with pytest.raises(ValueError, match=rf"{name}: this transformation needs the parameters; "
                                             r"call update\(updates, state, params\)"):
            tx.update(w, tx.init(w))
    with pytest.raises(ValueError, match="max_norm: axis 2 is out of range for a parameter with 2 "
                                         "dimensions"):
        R.max_norm(1.0, axis=2).init(w)
    with pytest.raises(ValueError, match="max_norm: updates and params must have the same tree"):
        tx = R.max_norm(1.0)
        tx.update({"a": w}, tx.init(w), w)


def test_docstring_examples():
    result = doctest.testmod(R, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_transformations_keep_dtypes():
    """bfloat16 and float32 leaves come out in their own dtype."""
    params = {"a": jnp.full((3, 2), 4.0, jnp.bfloat16), "b": jnp.full((2, 2), 4.0, jnp.float32)}
    grads = jax.tree.map(jnp.ones_like, params)
    for tx in (R.max_norm(1.0), R.add_l1_subgradient(0.1), R.add_decayed_weights(0.1),
               R.add_gradient_noise(0.1, key=0)):
        updates, _ = tx.update(grads, tx.init(params), params)
        assert jax.tree.map(lambda u: u.dtype, updates) == {"a": jnp.bfloat16, "b": jnp.float32}
    updates, _ = R.max_norm(1.0).update(grads, None, params)
    new = optax.apply_updates(params, updates)
    norms = jnp.linalg.norm(new["a"].astype(jnp.float32), axis=0)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-2)  # bfloat16 rounding
