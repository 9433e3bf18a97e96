"""Tests for jnn.viz: figures have the expected artists, and the numbers behind them are right."""

import subprocess
import sys

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import jnn  # noqa: E402
from jnn import viz  # noqa: E402
from jnn.layers import BatchNorm, Dense, Sequential  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def labelled(ax):
    return [line for line in ax.lines if not line.get_label().startswith("_")]


def test_import_does_not_load_matplotlib():
    code = "import sys, jnn.viz; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --- activations ----------------------------------------------------------------------


def test_activation_curves_match_closed_form_derivatives():
    x = jnp.linspace(-4.0, 4.0, 81)
    y, dy = viz.activation_curves("sigmoid", x)
    s = 1 / (1 + np.exp(-np.asarray(x)))
    np.testing.assert_allclose(y, s, rtol=1e-6)
    np.testing.assert_allclose(dy, s * (1 - s), atol=1e-6)
    _, dy = viz.activation_curves(jnp.tanh, x)
    np.testing.assert_allclose(dy, 1 - np.tanh(np.asarray(x)) ** 2, atol=1e-6)
    y, dy = viz.activation_curves(jnn.activations.relu, jnp.array([-1.0, 0.0, 2.0]))
    assert dy.tolist() == [0.0, 0.0, 1.0]  # JAX's relu'(0) = 0, what backprop uses


def test_activation_curves_refuses_vector_functions():
    with pytest.raises(ValueError, match="must map a scalar to a scalar"):
        viz.activation_curves(jnn.activations.softmax, jnp.linspace(-1.0, 1.0, 5))
    with pytest.raises(ValueError, match="x must be a 1-D array"):
        viz.activation_curves("relu", jnp.zeros((2, 2)))


def test_plot_activations_panels_and_lines():
    fig = viz.plot_activations(["sigmoid", "tanh", "relu"])
    assert isinstance(fig, Figure)
    f_ax, d_ax = fig.axes
    assert len(labelled(f_ax)) == 3 and len(labelled(d_ax)) == 3
    x, y = labelled(d_ax)[0].get_data()  # sigmoid' peaks at 0.25 at x = 0
    assert abs(y.max() - 0.25) < 1e-4 and abs(x[y.argmax()]) < 0.03

    fig, ax = plt.subplots()
    out = viz.plot_activations({"leaky": jnn.activations.leaky_relu}, ax=ax)
    assert out is fig and len(fig.axes) == 1
    assert [line.get_label() for line in labelled(ax)] == ["leaky", "leaky'"]

    fig = viz.plot_activations("elu", derivatives=False)
    assert len(fig.axes) == 1 and len(labelled(fig.axes[0])) == 1
    with pytest.raises(ValueError, match="unknown activation"):
        viz.plot_activations("nope")


# --- decision boundaries ----------------------------------------------------------------


def linear_score(params, x):
    return x @ params["w"] + params["b"]


def test_decision_regions_single_output_matches_direct_rule():
    params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
    x = jnp.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 2.0]])
    r = viz.decision_regions(linear_score, params, x, resolution=31, threshold=0.25)
    expected = (r.xx - 2 * r.yy + 0.5 > 0.25).astype(int)
    np.testing.assert_array_equal(r.classes, expected)
    np.testing.assert_allclose(r.score, r.xx - 2 * r.yy + 0.25, atol=1e-5)
    assert r.xx.shape == (31, 31) and r.xx.min() < -1.0 and r.yy.max() > 2.0


def test_decision_regions_multiclass_is_argmax_of_a_layer(key):
    model = Dense(3)
    x = jax.random.normal(key, (20, 2))
    params, state = model.init(key, x)
    r = viz.decision_regions(model, params, x, state=state, resolution=17)
    points = jnp.asarray(np.stack([r.xx.ravel(), r.yy.ravel()], 1), jnp.float32)
    direct = np.asarray(model.apply(params, state, points)[0]).argmax(1).reshape(17, 17)
    np.testing.assert_array_equal(r.classes, direct)
    assert r.score is None


def test_decision_regions_errors(key):
    x = jnp.ones((4, 3))
    with pytest.raises(ValueError, match="x must have 2 features"):
        viz.decision_regions(linear_score, None, x)
    model = Sequential([Dense(4), BatchNorm(), Dense(2)])
    params, _ = model.init(key, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="has state"):
        viz.decision_regions(model, params, jnp.ones((4, 2)))
    with pytest.raises(TypeError, match="must be a jnn Layer or a function"):
        viz.decision_regions(3, None, jnp.ones((4, 2)))


def test_plot_decision_boundary_artists(key):
    x, y = jnn.data.spirals(key, 60)
    model = Sequential([Dense(8), jnp.tanh, Dense(2)])
    params, state = model.init(key, x)
    fig = viz.plot_decision_boundary(model, params, x, y, resolution=40, title="spirals")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    scatter = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatter) == 1 and scatter[0].get_offsets().shape == (60, 2)
    np.testing.assert_array_equal(scatter[0].get_array(), np.asarray(y))
    assert ax.get_title() == "spirals"
    from jnn.viz._decision import _compiled
    hits = _compiled.cache_info().hits
    viz.plot_decision_boundary(model, jax.tree.map(lambda a: -a, params), x, y, resolution=40)
    assert _compiled.cache_info().hits == hits + 1  # the same model reuses its compilation
    fig, ax = plt.subplots(1, 2)
    out = viz.plot_decision_boundary(linear_score, {"w": jnp.ones(2), "b": 0.0}, x, ax=ax[1])
    assert out is fig and not [c for c in ax[1].collections if isinstance(c, PathCollection)]
    with pytest.raises(ValueError, match="x has 60 points but y has 3 labels"):
        viz.plot_decision_boundary(model, params, x, y[:3])


# --- learning curves and schedules ----------------------------------------------------


def make_history():
    h = jnn.train.History()
    for loss, val, acc, val_acc in [(1.0, 1.1, 0.5, 0.4), (0.5, 0.7, 0.7, 0.6),
                                    (0.3, 0.8, 0.8, 0.55)]:
        h.append({"loss": loss, "val_loss": val, "accuracy": acc, "val_accuracy": val_acc})
    return h


def test_plot_learning_curves_panels_and_best_epoch():
    fig = viz.plot_learning_curves(make_history(), mark_best="val_loss")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in labelled(loss_ax)] == [
        "training loss", "validation loss", "best val_loss (epoch 2)"]
    np.testing.assert_allclose(labelled(loss_ax)[1].get_ydata(), [1.1, 0.7, 0.8])
    assert labelled(acc_ax)[2].get_xdata()[0] == 2

    fig, ax = plt.subplots()
    viz.plot_learning_curves({"loss": [3.0, 2.0, 1.0]}, ax=ax, log=True)
    assert len(labelled(ax)) == 1 and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="'mse' was not logged"):
        viz.plot_learning_curves(make_history(), ["mse"])
    with pytest.raises(TypeError, match="names must be a list"):
        viz.plot_learning_curves(make_history(), "loss")


def test_plot_curves_and_schedules():
    fig = viz.plot_curves({"a": [1.0, 0.5, 0.25], "b": [1.0, 0.9, 0.8]})
    assert len(labelled(fig.axes[0])) == 2
    schedule = jnn.optim.step_decay(0.1, 0.5, 10)
    values = viz.schedule_values(schedule, 25)
    np.testing.assert_allclose(values, [0.1 * 0.5 ** (t // 10) for t in range(25)], rtol=1e-6)
    python_only = lambda t: 0.1 if int(t) < 5 else 0.01  # not traceable: falls back to a loop
    np.testing.assert_allclose(viz.schedule_values(python_only, 8)[4:6], [0.1, 0.01])
    fig = viz.plot_schedules({"step": schedule, "const": optax.constant_schedule(0.05)}, 25)
    lines = labelled(fig.axes[0])
    assert len(lines) == 2 and len(lines[0].get_xdata()) == 25
    with pytest.raises(TypeError, match="must be callable"):
        viz.plot_schedules({"bad": 0.1}, 5)


# --- optimizer paths ---------------------------------------------------------------------


def test_gd_path_on_a_quadratic_matches_the_closed_form(x64):
    A = jnp.diag(jnp.array([20.0, 1.0]))  # the Hessian of 10 x1^2 + 0.5 x2^2
    x0 = jnp.array([1.0, 2.0])
    eta = 0.08
    path = viz.optimizer_path(viz.ill_conditioned_quadratic, optax.sgd(eta), x0, 30)
    assert path.shape == (31, 2) and path.dtype == jnp.float64
    expected = np.stack([np.diag((1 - eta * np.diag(A)) ** t) @ np.asarray(x0)
                         for t in range(31)])
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-14)


def test_momentum_path_matches_a_python_loop(x64):
    opt = jnn.optim.nesterov(1e-3, 0.9)
    x0 = jnp.array([-1.5, 2.0])
    path = viz.optimizer_path(viz.rosenbrock, opt, x0, 20)
    x, s = x0, opt.init(x0)
    for t in range(20):
        u, s = opt.update(jax.grad(viz.rosenbrock)(x), s, x)
        x = optax.apply_updates(x, u)
        np.testing.assert_allclose(path[t + 1], x, rtol=1e-10)
    np.testing.assert_array_equal(path[0], x0)


def test_path_with_extra_args_optimizer_gets_the_value():
    # Polyak's step on |x|^2: eta = f / |g|^2 = 1/4, so x halves at every step.
    path = viz.optimizer_path(lambda x: jnp.sum(x**2), optax.polyak_sgd(1.0), jnp.ones(2), 3)
    np.testing.assert_allclose(path[:, 0], [1.0, 0.5, 0.25, 0.125], rtol=1e-6)


def test_gradient_noise_is_keyed():
    f, x0, opt = viz.shifted_quadratic, jnp.zeros(2), optax.sgd(0.05)
    a = viz.optimizer_path(f, opt, x0, 50, gradient_noise=5.0, key=jax.random.key(1))
    b = viz.optimizer_path(f, opt, x0, 50, gradient_noise=5.0, key=jax.random.key(1))
    c = viz.optimizer_path(f, opt, x0, 50, gradient_noise=5.0, key=jax.random.key(2))
    gd = viz.optimizer_path(f, opt, x0, 50)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, gd)
    with pytest.raises(ValueError, match="needs a key"):
        viz.optimizer_path(f, opt, x0, 5, gradient_noise=1.0)
    with pytest.raises(ValueError, match="f must return a scalar"):
        viz.optimizer_path(lambda x: x, opt, x0, 5)
    with pytest.raises(TypeError, match="optax GradientTransformation"):
        viz.optimizer_path(f, "sgd", x0, 5)


def test_test_functions_minima():
    assert float(viz.rosenbrock(jnp.array([1.0, 1.0]))) == 0.0
    assert float(viz.shifted_quadratic(jnp.array([-6.0, 8.0]))) == 0.0
    assert float(viz.himmelblau(jnp.array([3.0, 2.0]))) == 0.0
    H = jax.hessian(viz.ill_conditioned_quadratic)(jnp.zeros(2))
    np.testing.assert_allclose(H, np.diag([20.0, 1.0]))
    np.testing.assert_allclose(jax.hessian(viz.saddle)(jnp.zeros(2)), np.diag([2.0, -2.0]))


def test_plot_optimizer_paths_lines_start_at_x0():
    x0 = jnp.array([-1.0, 1.5])
    paths = viz.optimizer_paths(viz.rosenbrock, {"sgd": optax.sgd(1e-3),
                                                 "adam": optax.adam(0.05)}, x0, 40)
    fig = viz.plot_optimizer_paths(viz.rosenbrock, paths, minimum=(1.0, 1.0), resolution=50)
    ax = fig.axes[0]
    lines = labelled(ax)
    assert [line.get_label() for line in lines] == ["sgd", "adam"]
    for line, path in zip(lines, paths.values()):
        np.testing.assert_allclose(np.c_[line.get_xdata(), line.get_ydata()], path, rtol=1e-6)
        np.testing.assert_allclose([line.get_xdata()[0], line.get_ydata()[0]], x0)
    x_low, x_high = ax.get_xlim()
    assert x_low < -1.0 and x_high > 1.0  # the window holds the paths and the minimum
    with pytest.raises(ValueError, match=r"must have shape \(T \+ 1, 2\)"):
        viz.plot_optimizer_paths(viz.rosenbrock, {"bad": np.zeros((5, 3))})


# --- spectra -------------------------------------------------------------------------------


def test_plot_hessian_spectrum():
    # Results built by hand in the shapes jnn.curvature returns (no Lanczos run needed here).
    grid = jnp.linspace(-2.0, 6.0, 200)
    res = jnn.curvature.SpectralDensity(
        grid=grid, density=jnp.exp(-0.5 * grid**2) / jnp.sqrt(2 * jnp.pi),
        nodes=jnp.zeros((1, 3)), weights=jnp.ones((1, 3)) / 3, sigma=jnp.array(0.1),
        finite=jnp.array(True))
    top = jnn.curvature.Eigenpairs(
        eigenvalues=jnp.array([5.0, 4.924]), eigenvectors=jnp.zeros((2, 80)),
        error_bounds=jnp.zeros(2), num_matvecs=jnp.array(10), converged=jnp.array(True),
        finite=jnp.array(True))
    A = jnp.diag(jnp.linspace(-1.0, 5.0, 80))
    fig = viz.plot_hessian_spectrum(res, eigenvalues=jnp.linalg.eigvalsh(A), top=top, bins=20)
    ax = fig.axes[0]
    assert [line.get_label() for line in labelled(ax)] == ["density (SLQ)", "top eigenvalues"]
    assert len(ax.patches) == 20 and ax.get_yscale() == "log"
    top_lines = [line for line in ax.lines if line.get_linestyle() == "--"]
    np.testing.assert_allclose([line.get_xdata()[0] for line in top_lines], [5.0, 4.924],
                               atol=2e-3)
    with pytest.raises(ValueError, match="give density=, eigenvalues= or top="):
        viz.plot_hessian_spectrum()


def test_plot_sharpness_draws_two_over_eta():
    steps = np.arange(10)
    fig = viz.plot_sharpness(steps, np.linspace(1, 40, 10), learning_rate=0.05,
                             loss=np.linspace(1, 0.1, 10))
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"  # loss on a twin axis
    edge = [line for line in fig.axes[0].lines if line.get_label().startswith("$2/")]
    assert edge[0].get_ydata()[0] == pytest.approx(40.0)
    with pytest.raises(ValueError, match="same length"):
        viz.plot_sharpness(steps, np.ones(3))


# --- convolutions, images, confusion -------------------------------------------------------


def images_of(fig):
    return [ax.images[0].get_array() for ax in fig.axes if ax.images]


def test_plot_filters_one_panel_per_filter():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 4))
    fig = viz.plot_filters({"kernel": kernel, "bias": np.zeros(4)})
    arrays = images_of(fig)
    assert len(fig.axes) == 4 and len(arrays) == 4
    np.testing.assert_allclose(arrays[2], kernel[:, :, 0, 2])
    fig = viz.plot_filters(np.ones((5, 5, 2, 3)))
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "in1/f1"
    rgb = images_of(viz.plot_filters(np.random.default_rng(1).normal(size=(3, 3, 3, 5))))
    assert len(rgb) == 5 and rgb[0].shape == (3, 3, 3) and 0 <= rgb[0].min() <= rgb[0].max() <= 1
    sobel = jnn.layers.sobel_kernel("x")
    fig, ax = plt.subplots()
    viz.plot_filters(np.stack([sobel, sobel.T], -1), ax=ax)
    assert ax.images[0].get_array().shape == (3, 7)  # two 3x3 filters and a 1-pixel gap
    with pytest.raises(ValueError, match="'kernel' entry"):
        viz.plot_filters({"w": kernel})


def test_plot_feature_maps_and_images():
    maps = np.random.default_rng(0).normal(size=(1, 6, 6, 5))
    fig = viz.plot_feature_maps(maps)
    assert len(images_of(fig)) == 5
    np.testing.assert_allclose(images_of(fig)[3], maps[0, :, :, 3])
    assert len(images_of(viz.plot_feature_maps(maps[0], max_maps=2))) == 2
    with pytest.raises(ValueError, match="batch of 2"):
        viz.plot_feature_maps(np.zeros((2, 4, 4, 3)))

    x, y = jnn.data.load_digits()
    pred = np.asarray(y[:6]).copy()
    pred[1] = (pred[1] + 1) % 10
    fig = viz.plot_images(x[:6], y[:6], pred)
    assert len(fig.axes) == 6 and images_of(fig)[0].shape == (8, 8)
    assert fig.axes[1].title.get_color() == "C3" and fig.axes[0].title.get_color() == "k"
    with pytest.raises(ValueError, match="image_shape"):
        viz.plot_images(np.zeros((3, 10)))


def test_confusion_matrix_matches_a_loop():
    rng = np.random.default_rng(0)
    true, pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    expected = np.zeros((4, 4), int)
    for t, p in zip(true, pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(viz.confusion_matrix(true, pred), expected)
    logits = np.eye(5)[pred]  # scores: argmax is the prediction, width gives K = 5
    np.testing.assert_array_equal(viz.confusion_matrix(true, logits)[:4, :4], expected)
    assert viz.confusion_matrix(true, logits).shape == (5, 5)
    with pytest.raises(ValueError, match="num_classes=3; use num_classes >= 4"):
        viz.confusion_matrix(true, pred, num_classes=3)
    with pytest.raises(ValueError, match="class indices"):
        viz.confusion_matrix([0.5, 1.0], [0, 1])


def test_plot_confusion_matrix_normalized_rows():
    true = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 2, 2])
    fig = viz.plot_confusion_matrix(true, pred, normalize="true", class_names=["a", "b", "c"])
    ax = fig.axes[0]
    values = ax.images[0].get_array()
    np.testing.assert_allclose(values.sum(axis=1), 1.0)
    assert values[1, 1] == pytest.approx(2 / 3) and ax.get_title() == "accuracy 0.667"
    assert len(ax.texts) == 9
    with pytest.raises(ValueError, match="normalize must be one of"):
        viz.plot_confusion_matrix(true, pred, normalize="rows")
