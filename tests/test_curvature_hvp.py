"""jnn.curvature.hvp / hvp_operator against jax.hessian and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _curvature_problems import mlp_loss, mlp_problem, mlp_reference
from _util import assert_trees_close

from jnn.curvature import hvp, hvp_operator


@pytest.mark.parametrize("form", ["hvp", "linearized", "jvp_each_time"])
def test_hvp_matches_jax_hessian(x64, form):
    params, batch, H, flat, unravel = mlp_reference()
    v_flat = jax.random.normal(jax.random.key(1), flat.shape, flat.dtype)
    if form == "hvp":
        f = lambda p, v, b: hvp(mlp_loss, p, v, b)
    else:
        f = lambda p, v, b: hvp_operator(mlp_loss, p, b, linearize=form == "linearized")(v)
    out = jax.jit(f)(params, unravel(v_flat), batch)
    assert_trees_close(out, unravel(H @ v_flat), rtol=1e-10, atol=1e-12)


def test_hvp_quadratic_form_closed_form(x64):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6))
    A = A + A.T
    b = rng.normal(size=6)
    loss = lambda p, batch: 0.5 * p @ batch[0] @ p - batch[1] @ p
    v = rng.normal(size=6)
    out = hvp(
        loss, jnp.asarray(rng.normal(size=6)), jnp.asarray(v), (jnp.asarray(A), jnp.asarray(b))
    )
    np.testing.assert_allclose(out, A @ v, rtol=1e-12)


def test_hvp_logistic_regression_closed_form(x64):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    t = (rng.uniform(size=40) < 0.5).astype(np.float64)
    w = rng.normal(size=5)

    def loss(w, batch):
        X, t = batch
        z = X @ w
        return jnp.sum(jax.nn.softplus(z) - t * z)

    p = 1 / (1 + np.exp(-X @ w))
    H = X.T @ np.diag(p * (1 - p)) @ X
    op = hvp_operator(loss, jnp.asarray(w), (jnp.asarray(X), jnp.asarray(t)))
    for v in np.eye(5):
        np.testing.assert_allclose(op(jnp.asarray(v)), H @ v, rtol=1e-12, atol=1e-13)


def test_operator_is_a_pytree_that_passes_through_jit(x64, key):
    params, batch, H, flat, unravel = mlp_reference()
    op = hvp_operator(mlp_loss, params, batch)
    v = jax.tree.map(jnp.ones_like, params)
    twice = jax.jit(lambda op, v: op(op(v)))
    expected = unravel(H @ (H @ jnp.ones_like(flat)))
    assert_trees_close(twice(op, v), expected, rtol=1e-10, atol=1e-12)


def test_float32_probe_dtype_is_cast(key):
    params, batch = mlp_problem(key, dtype=jnp.float32)
    v = jax.tree.map(lambda p: jnp.ones(p.shape, jnp.float16), params)
    out = jax.jit(lambda p, v, b: hvp(mlp_loss, p, v, b))(params, v, batch)
    assert all(o.dtype == jnp.float32 for o in jax.tree.leaves(out))


# ---------------------------------------------------------------- bad input


def test_loss_must_return_a_scalar():
    loss = lambda p, b: p * 2.0
    with pytest.raises(
        ValueError, match=r"hvp: loss must return a scalar; it returned shape \(3,\)"
    ):
        hvp(loss, jnp.ones(3), jnp.ones(3), None)
    with pytest.raises(ValueError, match=r"hvp_operator: loss must return a scalar"):
        hvp_operator(loss, jnp.ones(3), None)


def test_loss_returning_aux_tuple_is_refused():
    loss = lambda p, b: (jnp.sum(p), {"aux": 1.0})
    with pytest.raises(
        TypeError, match=r"hvp: loss must return a scalar array; it returned a tuple"
    ):
        hvp(loss, jnp.ones(3), jnp.ones(3), None)


def test_integer_params_are_refused():
    with pytest.raises(
        TypeError, match=r"hvp: params leaf .* has dtype int32; curvature needs floating"
    ):
        hvp(lambda p, b: jnp.sum(p), jnp.ones(3, jnp.int32), jnp.ones(3), None)


def test_v_tree_mismatch_prints_both_structures():
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    v = {"a": jnp.ones(2)}
    loss = lambda p, b: jnp.sum(p["a"] ** 2) + jnp.sum(p["b"] ** 2)
    with pytest.raises(
        ValueError,
        match=r"(?s)v and params must have the same tree structure.*v: PyTreeDef.*params: PyTreeDef",
    ):
        hvp(loss, params, v, None)
    op = hvp_operator(loss, params)
    with pytest.raises(ValueError, match=r"hvp_operator: v and params must have the same tree"):
        op(v)


def test_v_leaf_shape_mismatch():
    loss = lambda p, b: jnp.sum(p["a"] ** 2)
    with pytest.raises(
        ValueError,
        match=r"hvp: v leaf \['a'\] has shape \(3,\) but the matching params leaf has shape \(2,\)",
    ):
        hvp(loss, {"a": jnp.ones(2)}, {"a": jnp.ones(3)}, None)


def test_non_finite_raises_eagerly_and_flows_under_jit():
    loss = lambda p, b: jnp.sum(jnp.log(p) ** 2)
    bad = jnp.array([1.0, -1.0])
    with pytest.raises(ValueError, match=r"hvp: the Hessian-vector product contains nan or inf"):
        hvp(loss, bad, jnp.ones(2), None)
    out = jax.jit(lambda p: hvp(loss, p, jnp.ones(2), None))(bad)
    assert not np.all(np.isfinite(out))


def test_docstring_examples_run():
    import doctest

    import jnn.curvature as C

    modules = [C._hvp, C._hessian, C._gauss_newton, C._eigen, C._power, C._estimators, C._density]
    attempted = 0
    for module in modules:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted >= 40
