"""jnn.landscape sharpness, save/load, the landscape figures of jnn.viz, and the doctests."""

import doctest
import json
import sys

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

from jnn.landscape import (
    epsilon_sharpness,
    hessian_directions,
    line,
    load_landscape,
    plane,
    save_landscape,
    top_hessian_eigenvalue,
    trajectory_pca,
)
from jnn.viz import _landscape as vl

matplotlib.use("Agg")


def _quadratic(key, d=12):
    """L = 0.5 t' H t with a known spectrum (eigenvalues 1..d, random eigenvectors)."""
    q, _ = np.linalg.qr(np.asarray(jax.random.normal(key, (d, d))))
    evals = np.arange(1.0, d + 1.0)
    H = (q * evals) @ q.T
    return jnp.asarray(H, jnp.float32), q, evals


def test_top_hessian_eigenpairs_match_numpy(key):
    H, q, evals = _quadratic(key)
    loss = lambda p, h: 0.5 * p["w"] @ h @ p["w"]
    params = {"w": jnp.ones(12)}
    d1, d2 = hessian_directions(loss, params, H, key=jax.random.key(1))
    np.testing.assert_allclose(abs(float(d1["w"] @ q[:, -1])), 1.0, atol=1e-4)
    np.testing.assert_allclose(abs(float(d2["w"] @ q[:, -2])), 1.0, atol=1e-4)
    rayleigh = [float(d["w"] @ H @ d["w"]) for d in (d1, d2)]
    np.testing.assert_allclose(rayleigh, evals[::-1][:2], rtol=1e-4)
    lam = top_hessian_eigenvalue(loss, params, H, key=jax.random.key(2))
    np.testing.assert_allclose(lam, 12.0, rtol=1e-4)


def test_epsilon_sharpness_box_and_ball_closed_forms(key):
    # Box |y_i| <= eps (|t_i| + 1) around t = c: the max of 0.5 sum h_i y_i^2 is at a corner.
    h = jnp.array([1.0, 4.0, 0.5, 2.0])
    c = jnp.array([0.0, 1.0, -2.0, 0.5])
    loss = lambda p, b: 0.5 * jnp.sum(b * (p - c) ** 2)
    eps = 0.05
    res = epsilon_sharpness(loss, c, h, epsilon=eps, key=key)
    corner = 0.5 * np.sum(np.asarray(h) * (eps * (np.abs(np.asarray(c)) + 1)) ** 2)
    np.testing.assert_allclose(res.max_loss, corner, rtol=1e-5)
    np.testing.assert_allclose(res.sharpness, 100 * corner / (1 + 0.0), rtol=1e-5)
    assert bool(res.finite) and float(res.loss) == 0.0 and np.isinf(res.relative_increase)
    # Ball ||y|| <= eps (||t|| + 1) at t = 0: the max is 0.5 lambda_max r^2 (top eigenvector).
    H, _, evals = _quadratic(jax.random.key(3), d=6)
    quad = lambda p, b: 0.5 * p @ b @ p + 1.0
    ball = epsilon_sharpness(quad, jnp.zeros(6), H, epsilon=0.1, norm="l2", steps=50,
                             key=jax.random.key(4))
    np.testing.assert_allclose(ball.max_loss, 1.0 + 0.5 * evals[-1] * 0.1**2, rtol=2e-4)
    np.testing.assert_allclose(ball.relative_increase, 0.5 * evals[-1] * 0.1**2, rtol=2e-3)
    np.testing.assert_allclose(jnp.linalg.norm(ball.perturbation), 0.1, rtol=1e-5)
    # A sharper minimum (H scaled by 10) has a larger sharpness.
    sharp = epsilon_sharpness(quad, jnp.zeros(6), 10 * H, epsilon=0.1, norm="l2", steps=50,
                              key=jax.random.key(4))
    assert float(sharp.sharpness) > 9 * float(ball.sharpness)


def test_sharpness_bad_input():
    loss = lambda p, b: jnp.sum(p**2)
    with pytest.raises(ValueError, match=r"epsilon_sharpness: epsilon must be in \(0.0, inf\)"):
        epsilon_sharpness(loss, jnp.ones(2), None, epsilon=0.0)
    with pytest.raises(ValueError, match=r"epsilon_sharpness: norm must be one of"):
        epsilon_sharpness(loss, jnp.ones(2), None, norm="linf")
    with pytest.raises(ValueError, match=r"epsilon_sharpness: loss must return a scalar"):
        epsilon_sharpness(lambda p, b: p, jnp.ones(2), None)


@pytest.fixture(scope="module")
def landscapes():
    loss = lambda p, b: jnp.sum((p - b) ** 2) + 0.1
    grid = jnp.linspace(-1.0, 1.0, 7)
    d1, d2 = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    acc = {"neg": lambda p, b: -jnp.sum(p)}
    flat = plane(loss, jnp.zeros(2), d1, d2, grid, grid[:5], jnp.zeros(2), metrics=acc,
                 chunk_size=8)
    one = line(loss, jnp.zeros(2), d1, grid, jnp.zeros(2), chunk_size=7)
    return flat, one


def test_save_and_load_roundtrip(tmp_path, landscapes):
    flat, one = landscapes
    path = tmp_path / "plane.npz"
    meta = {"seeds": [3, 4], "model": "Sequential([Dense(16), relu, Dense(3)])",
            "normalization": "filter"}
    save_landscape(path, flat, metadata=meta)
    back = load_landscape(path)
    for field in ("alphas", "betas", "loss", "nonfinite"):
        np.testing.assert_array_equal(getattr(back, field), np.asarray(getattr(flat, field)))
    np.testing.assert_array_equal(back.metrics["neg"], flat.metrics["neg"])
    assert back.metadata == {**flat.metadata, **meta}
    with np.load(path, allow_pickle=False) as raw:  # plain numpy, no pickled objects
        assert json.loads(str(raw["__metadata__"]))["format"] == "jnn.landscape/1"
    save_landscape(tmp_path / "line.npz", one)
    assert load_landscape(tmp_path / "line.npz").betas is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.npz", "plane.npz"]


def test_save_load_bad_input(tmp_path, landscapes):
    flat, _ = landscapes
    with pytest.raises(TypeError, match=r"save_landscape: metadata must hold only JSON values"):
        save_landscape(tmp_path / "x.npz", flat, metadata={"model": object()})
    with pytest.raises(TypeError, match=r"save_landscape: landscape must be a"):
        save_landscape(tmp_path / "x.npz", {"loss": 1})
    np.savez(tmp_path / "other.npz", loss=np.zeros(3))
    with pytest.raises(ValueError, match=r"load_landscape: .* is not a landscape written by"):
        load_landscape(tmp_path / "other.npz")
    assert not (tmp_path / "x.npz").exists()


def test_landscape_figures(landscapes):
    from matplotlib.figure import Figure

    flat, one = landscapes
    figs = [
        vl.plot_landscape_line(one),
        vl.plot_landscape_line({"a": one, "b": one}, log=True),
        vl.plot_landscape_contour(flat, log=True),
        vl.plot_landscape_contour(flat, value="neg", filled=True, levels=5),
        vl.plot_landscape_heatmap(flat, log=True),
        vl.plot_landscape_surface(flat),
    ]
    path = [jnp.array([t, 0.5 * t]) for t in np.linspace(-0.8, 0.0, 5)]
    pca = trajectory_pca(path, k=2)
    figs.append(vl.plot_landscape_trajectory(flat, pca, labels=list(range(5))))
    assert all(isinstance(f, Figure) for f in figs)
    assert figs[2].axes[0].collections, "contour lines drawn"
    assert len(figs[2].axes[0].texts) > 0, "contour levels labelled"
    assert figs[1].axes[0].get_yscale() == "log"
    assert figs[6].axes[0].get_xlabel().startswith("PC1")
    fig, ax = matplotlib.pyplot.subplots()
    assert vl.plot_landscape_heatmap(flat, ax=ax) is fig
    with pytest.raises(ValueError, match=r"plot_landscape_contour: needs a plane"):
        vl.plot_landscape_contour(one)
    with pytest.raises(ValueError, match=r"value='acc' is not in this landscape"):
        vl.plot_landscape_line(one, value="acc")
    with pytest.raises(TypeError, match=r"plot_landscape_surface: ax must be a 3-D Axes"):
        vl.plot_landscape_surface(flat, ax=ax)
    matplotlib.pyplot.close("all")


def test_landscape_figures_vmax(landscapes):
    """vmax caps the color scale, the contour levels and the surface (the loss here runs
    from 0.1 at the centre to 2.1 at the corners)."""
    flat, _ = landscapes
    fig = vl.plot_landscape_contour(flat, vmax=1.0, levels=5, filled=True)
    np.testing.assert_allclose(fig.axes[0].collections[-1].levels, np.linspace(0.1, 1.0, 5))
    fig = vl.plot_landscape_heatmap(flat, vmax=1.0, log=True)
    assert fig.axes[0].collections[0].norm.vmax == 1.0
    fig = vl.plot_landscape_surface(flat, vmax=1.0)
    z = fig.axes[0].collections[0].get_array()  # face colors follow the capped heights
    assert float(np.max(z)) <= 1.0 + 1e-9 < float(np.max(flat.loss))
    fig = vl.plot_landscape_trajectory(flat, np.zeros((3, 2)), vmax=1.0)
    assert max(fig.axes[0].collections[0].levels) <= 1.0
    for plot in (vl.plot_landscape_contour, vl.plot_landscape_heatmap,
                 vl.plot_landscape_surface):
        with pytest.raises(ValueError, match=r"vmax=0.05 must be a finite number above the "
                                             r"smallest value drawn \(0.1\)"):
            plot(flat, vmax=0.05)
    with pytest.raises(TypeError, match=r"plot_landscape_heatmap: vmax must be a number .* "
                                        r"got str"):
        vl.plot_landscape_heatmap(flat, vmax="1")
    matplotlib.pyplot.close("all")


def test_docstring_examples_run():
    """The cheap examples; the others (fast path, BatchNorm paths, Lanczos, fit) repeat what
    the tests above check, and `pytest --doctest-modules jnn/landscape` runs them all."""
    from jnn.landscape import _directions, _interpolate, _io, _sharpness, _slices, _trajectory

    examples = [
        _directions.random_direction, _directions.filter_normalize,
        _directions.filter_normalized_direction, _directions.layer_normalize,
        _directions.difference, _directions.orthogonalize, _directions.cosine_similarity,
        _slices.line, _slices.plane,
        _io.save_landscape, _interpolate.interpolate, _sharpness.epsilon_sharpness,
        _trajectory.trajectory_pca, _trajectory.project_trajectory,
    ]
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for fn in examples:
        module = sys.modules[fn.__module__]
        for test in finder.find(fn, module=module, globs=dict(vars(module))):
            runner.run(test)
    assert runner.failures == 0
    assert runner.tries >= 40
