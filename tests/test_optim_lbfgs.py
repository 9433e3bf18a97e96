"""jnn.optim.lbfgs against scipy's L-BFGS-B and optax's L-BFGS; its call and its errors.

The zoom line search compiles slowly, so one jitted step (float64) serves both scipy
problems: the loss is a Rosenbrock + quadratic family whose data arrive as keyword
arguments, which also exercises the loss-keyword path of ``update``.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize
from _util import assert_trees_close

import jnn.optim as jo

DIM = 6


def family(params, a, b, w):
    """``w`` · Rosenbrock(x) + ½ xᵀ a x - bᵀ x on params = {"x": (DIM,)}."""
    x = params["x"]
    rosen = jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    return w * rosen + 0.5 * x @ a @ x - b @ x


OPT = jo.lbfgs()  # the loss arrives at update time


@functools.cache
def zoom_step():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state, a, b, w):
        value, grads = jax.value_and_grad(family)(params, a, b, w)
        updates, state = OPT.update(grads, state, params, value=value, value_fn=family,
                                    a=a, b=b, w=w)
        return optax.apply_updates(params, updates), state, jnp.linalg.norm(grads["x"])

    return step


def problem(name):
    rng = np.random.default_rng(0)
    if name == "rosenbrock":
        a, b, w = np.zeros((DIM, DIM)), np.zeros(DIM), 1.0
        x0 = np.tile([-1.2, 1.0], DIM // 2)
    else:
        q, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
        a = q @ np.diag(np.logspace(0, 2, DIM)) @ q.T  # condition number 100
        b, w = rng.normal(size=DIM), 0.0
        x0 = np.zeros(DIM)
    return a, b, w, x0


def scipy_solution(a, b, w, x0):
    fun = jax.jit(lambda x: family({"x": x}, a, b, w))
    jac = jax.jit(jax.grad(lambda x: family({"x": x}, a, b, w)))
    return scipy.optimize.minimize(
        lambda x: float(fun(x)), x0, jac=lambda x: np.asarray(jac(x)), method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 0.0, "maxiter": 500})


@pytest.mark.parametrize("name", ["rosenbrock", "quadratic"])
def test_matches_scipy_lbfgs(x64, name):
    a, b, w, x0 = problem(name)
    reference = scipy_solution(a, b, w, x0)
    step = zoom_step()
    params = {"x": jnp.asarray(x0)}
    state = OPT.init(params)
    iterations = 0
    while iterations < 200:
        params, state, grad_norm = step(params, state, a, b, w)
        iterations += 1
        if grad_norm < 1e-9:
            break
    expected = np.ones(DIM) if name == "rosenbrock" else np.linalg.solve(a, b)
    np.testing.assert_allclose(reference.x, expected, atol=1e-6)
    np.testing.assert_allclose(params["x"], expected, atol=1e-8)
    # Same algorithm family: iteration counts within a factor 1.5 of scipy's.
    assert reference.nit / 1.5 <= iterations <= 1.5 * reference.nit + 2, (iterations,
                                                                          reference.nit)


def test_two_loop_recursion_equals_optax(x64):
    """Fixed steps (no line search), memory 3 < steps, so the circular buffer wraps."""
    a, b, _, _ = problem("quadratic")
    loss = lambda p: 0.5 * p["x"] @ a @ p["x"] - b @ p["x"]
    ours = jo.lbfgs(learning_rate=0.5, memory_size=3, linesearch=None)
    theirs = optax.lbfgs(learning_rate=0.5, memory_size=3, linesearch=None)

    @jax.jit
    def run():
        out = []
        for opt in (ours, theirs):
            p = {"x": jnp.ones(DIM)}
            s = opt.init(p)
            traj = []
            for _ in range(12):
                u, s = opt.update(jax.grad(loss)(p), s, p)
                p = optax.apply_updates(p, u)
                traj.append(p["x"])
            out.append(jnp.stack(traj))
        return out

    mine, reference = run()
    assert_trees_close(mine, reference, rtol=1e-12, atol=1e-12)


def test_loss_at_construction_at_update_and_without_value_agree():
    """The same iterates whichever way the loss and its value reach the line search."""
    a, b, w, x0 = problem("quadratic")
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    loss = functools.partial(family, w=0.0)
    built = jo.lbfgs(loss_fn=loss, linesearch="backtracking")
    at_update = jo.lbfgs(linesearch="backtracking")

    @jax.jit
    def run():
        p1 = p2 = p3 = {"x": jnp.zeros(DIM)}
        s1, s2, s3 = built.init(p1), at_update.init(p2), built.init(p3)
        for _ in range(4):
            u, s1 = built.update(jax.grad(loss)(p1, a, b), s1, p1, a=a, b=b)
            p1 = optax.apply_updates(p1, u)
            v, g = jax.value_and_grad(loss)(p2, a, b)
            u, s2 = at_update.update(g, s2, p2, value=v, grad=g, value_fn=loss, a=a, b=b)
            p2 = optax.apply_updates(p2, u)
            # Reuse the line search's value and gradient from the state.
            v, g = optax.value_and_grad_from_state(loss)(p3, a, b, state=s3)
            u, s3 = built.update(g, s3, p3, value=v, a=a, b=b)
            p3 = optax.apply_updates(p3, u)
        return p1, p2, p3

    p1, p2, p3 = run()
    assert_trees_close(p1, p2, rtol=1e-6, atol=1e-6)
    assert_trees_close(p1, p3, rtol=1e-6, atol=1e-6)
    optimum = float(loss({"x": jnp.linalg.solve(a, b)}, a, b))
    assert float(loss(p1, a, b)) - optimum < 0.5 * (0.0 - optimum)  # f(0) = 0


def test_missing_loss_shows_the_call_to_write():
    opt = jo.lbfgs()
    params = jnp.ones(2)
    with pytest.raises(TypeError, match=(
            r"^jnn\.optim\.lbfgs: the line search evaluates the loss, but no loss was given\. "
            r"Either build the optimizer with it, opt = jnn\.optim\.lbfgs\(loss_fn=loss\), or "
            r"pass it at every step: updates, state = opt\.update\(grads, state, params, "
            r"value_fn=loss\) \(add value=loss_value to save one evaluation, and the loss's "
            r"other arguments as keywords, e\.g\. batch=batch\)\. With linesearch=None no "
            r"loss is needed\.$")):
        opt.update(params, opt.init(params), params)
    with pytest.raises(TypeError, match=r"^jnn\.optim\.lbfgs: update needs params: "
                                        r"opt\.update\(grads, state, params\)\.$"):
        opt.update(params, opt.init(params))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"^jnn\.optim\.lbfgs: memory_size must be a positive "
                                         r"integer; got 0\."):
        jo.lbfgs(memory_size=0)
    with pytest.raises(ValueError, match=r"^jnn\.optim\.lbfgs: linesearch must be one of "
                                         r"'zoom', 'backtracking'; got 'wolfe'\.$"):
        jo.lbfgs(linesearch="wolfe")
    with pytest.raises(ValueError, match=r"^jnn\.optim\.lbfgs: learning_rate must be in "
                                         r"\(0\.0, inf\); got -1\.0\."):
        jo.lbfgs(learning_rate=-1.0)
    with pytest.raises(TypeError, match=r"^jnn\.optim\.lbfgs: loss_fn must be a function "
                                        r"loss\(params, \*\*kwargs\) -> scalar; got float\.$"):
        jo.lbfgs(1.0)
    with pytest.raises(ValueError, match=r"^jnn\.optim\.scale_by_lbfgs: updates and params "
                                         r"must have the same tree structure"):
        opt = jo.lbfgs(linesearch=None)
        opt.update({"x": jnp.ones(2)}, opt.init({"x": jnp.ones(2)}),
                   {"x": jnp.ones(2), "y": jnp.ones(1)})
