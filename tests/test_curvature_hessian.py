"""jnn.curvature.hessian / hessian_diag / ggn_* against jax.hessian, numpy and dense J^T H J."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _curvature_problems import cross_entropy, mlp_apply, mlp_loss, mlp_problem, mlp_reference
from _util import assert_trees_close
from jax.flatten_util import ravel_pytree

from jnn.curvature import ggn_matrix, ggn_operator, ggn_vp, hessian, hessian_diag


@pytest.mark.parametrize("chunk_size, jit", [(None, False), (7, True)])
def test_hessian_matches_jax_hessian(x64, chunk_size, jit):
    params, batch, H_ref, flat, unravel_ref = mlp_reference()
    if jit:  # the unravel function is not an array: jit returns H only
        H = jax.jit(lambda p, b: hessian(mlp_loss, p, b, chunk_size=chunk_size)[0])(params, batch)
    else:
        H, unravel = hessian(mlp_loss, params, batch, chunk_size=chunk_size)
        assert_trees_close(unravel(flat), params, rtol=0, atol=0)
    np.testing.assert_allclose(H, H_ref, rtol=1e-10, atol=1e-12)


def test_hessian_logistic_regression_closed_form(x64):
    rng = np.random.default_rng(1)
    X, t, w = rng.normal(size=(50, 4)), (rng.uniform(size=50) < 0.5) * 1.0, rng.normal(size=4)
    loss = lambda p, b: jnp.sum(jax.nn.softplus(b[0] @ p["w"]) - b[1] * (b[0] @ p["w"]))
    H, _ = hessian(loss, {"w": jnp.asarray(w)}, (jnp.asarray(X), jnp.asarray(t)))
    p = 1 / (1 + np.exp(-X @ w))
    np.testing.assert_allclose(H, X.T @ np.diag(p * (1 - p)) @ X, rtol=1e-12)


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_hessian_diag_matches_jax_hessian(x64, key, chunk_size):
    params, batch, H_ref, flat, unravel = mlp_reference()
    diag = hessian_diag(mlp_loss, params, batch, chunk_size=chunk_size)
    assert_trees_close(diag, unravel(jnp.diag(H_ref)), rtol=1e-10, atol=1e-12)


def test_hessian_refuses_when_too_large():
    loss = lambda p, b: jnp.sum(p**2)
    with pytest.raises(
        ValueError,
        match=r"hessian: the dense d x d matrix for d=20000 parameters needs 1600000000 bytes \(1\.5 GiB\) of float32, more than max_bytes=1073741824.*hvp_operator.*top_eigenvalues",
    ):
        hessian(loss, jnp.zeros(20_000), None)
    with pytest.raises(ValueError, match=r"d=100 parameters needs 40000 bytes"):
        hessian(loss, jnp.zeros(100), None, max_bytes=1000)
    H, _ = hessian(loss, jnp.zeros(3), None, max_bytes=None)
    np.testing.assert_allclose(H, 2 * np.eye(3))


def test_hessian_bad_arguments():
    loss = lambda p, b: jnp.sum(p**2)
    with pytest.raises(ValueError, match=r"hessian: chunk_size must be a positive integer; got 0"):
        hessian(loss, jnp.zeros(3), None, chunk_size=0)
    with pytest.raises(
        ValueError, match=r"hessian: loss must return a scalar; it returned shape \(3,\)"
    ):
        hessian(lambda p, b: p**2, jnp.zeros(3), None)
    with pytest.raises(ValueError, match=r"hessian_diag: the Hessian diagonal contains nan or inf"):
        hessian_diag(lambda p, b: jnp.sum(jnp.log(p)), jnp.zeros(3), None)
    H = jax.jit(lambda p: hessian(lambda p, b: jnp.sum(jnp.log(p)), p, None)[0])(jnp.zeros(2))
    assert not np.isfinite(np.asarray(H)).all()


# ------------------------------------------------------------ Gauss-Newton


def dense_ggn(model, loss_of_outputs, params, batch):
    """J^T H_out J built from dense jax.jacobian / jax.hessian."""
    flat, unravel = ravel_pytree(params)

    @jax.jit
    def dense(flat, batch):
        out = model(unravel(flat), batch)
        J = jax.jacobian(lambda f: model(unravel(f), batch).ravel())(flat)  # (n_out, d)
        H_out = jax.hessian(lambda o: loss_of_outputs(o.reshape(out.shape), batch))(out.ravel())
        return J, J.T @ H_out @ J

    return dense(flat, batch)


def test_ggn_cross_entropy_matches_dense_and_closed_form(x64, key):
    params, batch = mlp_problem(key)
    model = lambda p, b: mlp_apply(p, b[0])
    ce = lambda logits, b: cross_entropy(logits, b[1])
    J, G_ref = dense_ggn(model, ce, params, batch)
    # closed form of H_out for mean softmax cross-entropy: blockdiag(diag(p) - p p^T) / n
    logits = model(params, batch)
    probs = jax.nn.softmax(logits)
    n = logits.shape[0]
    blocks = [np.diag(q) - np.outer(q, q) for q in np.asarray(probs)]
    H_out = np.zeros((logits.size, logits.size))
    for i, blk in enumerate(blocks):
        H_out[3 * i : 3 * i + 3, 3 * i : 3 * i + 3] = blk / n
    flat, unravel = ravel_pytree(params)
    np.testing.assert_allclose(G_ref, J.T @ H_out @ J, rtol=1e-10, atol=1e-12)

    G = jax.jit(lambda p, b: ggn_matrix(model, ce, p, b, chunk_size=8)[0])(params, batch)
    np.testing.assert_allclose(G, G_ref, rtol=1e-10, atol=1e-12)
    v = jax.random.normal(jax.random.key(2), flat.shape, flat.dtype)
    one = jax.jit(lambda p, v, b: ggn_vp(model, ce, p, v, b))
    assert_trees_close(one(params, unravel(v), batch), unravel(G_ref @ v), 1e-10, 1e-12)
    op = jax.jit(lambda p, b: ggn_operator(model, ce, p, b))(params, batch)
    assert_trees_close(
        jax.jit(lambda op, v: op(v))(op, unravel(v)), unravel(G_ref @ v), 1e-10, 1e-12
    )
    assert np.linalg.eigvalsh(np.asarray(G)).min() > -1e-12  # PSD: CE is convex in the logits


def test_gauss_newton_of_squared_error_is_jtj(x64, key):
    params, (x, _) = mlp_problem(key)
    y = jax.random.normal(jax.random.key(5), (x.shape[0], 3), x.dtype)
    model = lambda p, b: mlp_apply(p, b[0])
    sq = lambda out, b: 0.5 * jnp.sum((out - b[1]) ** 2)
    J, _ = dense_ggn(model, sq, params, (x, y))
    ggn = jax.jit(lambda p, b: ggn_matrix(model, sq, p, b)[0])
    G = ggn(params, (x, y))
    np.testing.assert_allclose(G, J.T @ J, rtol=1e-10, atol=1e-12)
    # at a zero-residual point the Gauss-Newton matrix is the Hessian
    y0 = model(params, (x, None))
    H = jax.jit(lambda p, b: hessian(lambda p, b: sq(model(p, b), b), p, b)[0])(params, (x, y0))
    np.testing.assert_allclose(ggn(params, (x, y0)), H, rtol=1e-9, atol=1e-10)


def test_ggn_bad_input():
    model = lambda p, b: p * 2.0
    with pytest.raises(
        ValueError, match=r"ggn_vp: loss_of_outputs must return a scalar; it returned shape \(3,\)"
    ):
        ggn_vp(model, lambda o, b: o, jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match=r"ggn_vp: v and params must have the same tree structure"):
        ggn_vp(model, lambda o, b: jnp.sum(o), jnp.ones(3), [jnp.ones(3)])
    with pytest.raises(TypeError, match=r"ggn_operator: model_fn must be a function; got int"):
        ggn_operator(3, lambda o, b: jnp.sum(o), jnp.ones(3))
