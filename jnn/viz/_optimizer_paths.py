"""Optimizer trajectories on 2-D test functions: run them with ``lax.scan``, draw them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn.viz._common import as_numpy, figure_and_axes


def rosenbrock(x: jax.Array, a: float = 1.0, b: float = 100.0) -> jax.Array:
    r"""Rosenbrock's banana valley, minimum 0 at :math:`(a, a^2)`.

    .. math:: f(x) = (a - x_1)^2 + b\,(x_2 - x_1^2)^2

    Example:
        >>> import jax.numpy as jnp
        >>> float(rosenbrock(jnp.array([1.0, 1.0])))
        0.0
    """
    return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2


def ill_conditioned_quadratic(x: jax.Array) -> jax.Array:
    r"""The course's ravine :math:`f(\theta) = 10\theta_1^2 + 0.5\theta_2^2` (condition 20).

    Its Hessian is :math:`\mathrm{diag}(20, 1)`: gradient descent must keep
    :math:`\eta < 2/20` to stay stable along :math:`\theta_1` and then crawls along
    :math:`\theta_2`, the case for momentum and adaptive steps.

    Example:
        >>> import jax.numpy as jnp
        >>> float(ill_conditioned_quadratic(jnp.array([1.0, 2.0])))
        12.0
    """
    return 10.0 * x[0] ** 2 + 0.5 * x[1] ** 2


def shifted_quadratic(x: jax.Array) -> jax.Array:
    r"""The course's GD-vs-SGD bowl :math:`f(x) = 1.25(x_1 + 6)^2 + (x_2 - 8)^2`.

    Minimum 0 at :math:`(-6, 8)`; Hessian :math:`\mathrm{diag}(2.5, 2)`.

    Example:
        >>> import jax.numpy as jnp
        >>> float(shifted_quadratic(jnp.array([-6.0, 8.0])))
        0.0
    """
    return 1.25 * (x[0] + 6.0) ** 2 + (x[1] - 8.0) ** 2


def himmelblau(x: jax.Array) -> jax.Array:
    r"""Himmelblau's function, four minima of value 0 (one at :math:`(3, 2)`).

    .. math:: f(x) = (x_1^2 + x_2 - 11)^2 + (x_1 + x_2^2 - 7)^2

    Example:
        >>> import jax.numpy as jnp
        >>> float(himmelblau(jnp.array([3.0, 2.0])))
        0.0
    """
    return (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2


def saddle(x: jax.Array) -> jax.Array:
    r"""The saddle :math:`f(x) = x_1^2 - x_2^2`: an indefinite Hessian :math:`\mathrm{diag}(2, -2)`.

    Example:
        >>> import jax.numpy as jnp
        >>> float(saddle(jnp.array([1.0, 1.0])))
        0.0
    """
    return x[0] ** 2 - x[1] ** 2


def optimizer_path(
    f: Callable[[jax.Array], jax.Array],
    optimizer: optax.GradientTransformation,
    x0: Any,
    num_steps: int,
    *,
    gradient_noise: float = 0.0,
    key: jax.Array | None = None,
) -> jax.Array:
    r"""The iterates of an optax optimizer minimizing ``f`` from ``x0``, as one ``lax.scan``.

    .. math::
        g_t = \nabla f(x_t) + \sigma \xi_t, \qquad
        (u_t, s_{t+1}) = \text{update}(g_t, s_t, x_t), \qquad x_{t+1} = x_t + u_t

    with :math:`\xi_t \sim \mathcal N(0, I)` when ``gradient_noise`` :math:`\sigma > 0`
    (a stand-in for minibatch noise, to compare GD with SGD). Optimizers that need the
    loss itself (``optax.GradientTransformationExtraArgs``: L-BFGS, ``jnn.optim.newton``)
    get ``value=``, ``grad=`` and ``value_fn=f``.

    Args:
        f: the objective, a scalar function of an array (usually a 2-vector).
        optimizer: an optax gradient transformation (``optax.sgd(0.01)``,
            ``jnn.optim.nesterov(0.01, 0.9)``, ...).
        x0: the start point.
        num_steps: the number of updates.
        gradient_noise: :math:`\sigma \ge 0`.
        key: a PRNG key, required when ``gradient_noise > 0``.

    Returns:
        ``(num_steps + 1, *x0.shape)``: :math:`x_0, x_1, \dots, x_T`. A diverging run
        contains ``inf``/``nan`` after it blew up.

    Example:
        >>> import jax.numpy as jnp, optax
        >>> path = optimizer_path(lambda x: jnp.sum(x**2), optax.sgd(0.25), jnp.ones(2), 2)
        >>> path.tolist()                     # x_{t+1} = (1 - 2 * 0.25) x_t
        [[1.0, 1.0], [0.5, 0.5], [0.25, 0.25]]
    """
    where = "jnn.viz.optimizer_path"
    if not callable(f):
        raise TypeError(f"{where}: f must be a function of an array; got {f!r}.")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"{where}: optimizer must be an optax GradientTransformation such as "
                        f"optax.sgd(0.01); got {type(optimizer).__name__}.")
    num_steps = _checks.positive_int(where, "num_steps", num_steps)
    _checks.number_in_range(where, "gradient_noise", gradient_noise, 0.0)
    x0 = jnp.asarray(x0)
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.result_type(float))
    out = jax.eval_shape(f, x0)
    if out.shape != ():
        raise ValueError(f"{where}: f must return a scalar; it returns shape {out.shape} for "
                         f"x0 of shape {x0.shape}.")
    noisy = gradient_noise > 0
    if noisy and key is None:
        raise ValueError(f"{where}: gradient_noise={gradient_noise} needs a key, e.g. "
                         f"key=jax.random.key(0).")
    extra = isinstance(optimizer, optax.GradientTransformationExtraArgs)
    value_and_grad = jax.value_and_grad(f)

    def step(carry, step_key):
        x, opt_state = carry
        value, g = value_and_grad(x)
        if noisy:
            g = g + gradient_noise * jax.random.normal(step_key, g.shape, g.dtype)
        if extra:
            updates, opt_state = optimizer.update(g, opt_state, x, value=value, grad=g,
                                                  value_fn=f)
        else:
            updates, opt_state = optimizer.update(g, opt_state, x)
        x = optax.apply_updates(x, updates).astype(x0.dtype)
        return (x, opt_state), x

    keys = jax.random.split(key if noisy else jax.random.key(0), num_steps)

    @jax.jit
    def run(x0, keys):
        _, xs = jax.lax.scan(step, (x0, optimizer.init(x0)), keys)
        return jnp.concatenate([x0[None], xs])

    return run(x0, keys)


def optimizer_paths(
    f: Callable[[jax.Array], jax.Array],
    optimizers: Mapping[str, optax.GradientTransformation],
    x0: Any,
    num_steps: int,
    **kwargs: Any,
) -> dict[str, jax.Array]:
    """:func:`optimizer_path` for each of ``{label: optimizer}`` from the same start.

    Keyword arguments (``gradient_noise``, ``key``) are passed on; every optimizer sees the
    same noise when ``key`` is given.

    Returns:
        ``{label: (num_steps + 1, *x0.shape) path}``.
    """
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise TypeError("jnn.viz.optimizer_paths: optimizers must be a non-empty dict "
                        f"{{label: optimizer}}; got {type(optimizers).__name__}.")
    return {label: optimizer_path(f, opt, x0, num_steps, **kwargs)
            for label, opt in optimizers.items()}


def _limits(paths: list[np.ndarray], extra: list[np.ndarray], margin: float):
    points = np.concatenate([p.reshape(-1, 2) for p in paths] + [e.reshape(-1, 2)
                                                                  for e in extra])
    points = points[np.all(np.isfinite(points), axis=1)]
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin * np.maximum(high - low, 1e-3 * np.maximum(np.abs(high), 1.0))
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def plot_optimizer_paths(
    f: Callable[[jax.Array], jax.Array],
    paths: Mapping[str, Any],
    *,
    ax: Any = None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    minimum: Any = None,
    levels: int = 30,
    log_levels: bool | None = None,
    resolution: int = 200,
    markers: bool = True,
    title: str | None = None,
):
    """Contours of a function of two variables with optimizer trajectories on top.

    Args:
        f: the objective, a scalar function of a 2-vector (vmapped over the grid).
        paths: ``{label: (T + 1, 2) iterates}``, e.g. from :func:`optimizer_paths`.
        ax: a matplotlib Axes; a new figure when ``None``.
        xlim, ylim: the plotted window; by default the paths' extent plus 10%.
            Points outside (a diverging run) are simply not visible.
        minimum: a point ``(2,)`` to mark with a star (the optimum).
        levels: the number of contour levels.
        log_levels: geometrically spaced levels (for valleys such as Rosenbrock's);
            by default when ``f`` is non-negative on the window.
        resolution: grid points per axis for the contours.
        markers: mark every iterate with a dot (drop them for long runs).
        title: the axes title.

    Returns:
        The matplotlib ``Figure``; each path is one ``Line2D`` labelled with its name.

    Example:
        >>> import jax.numpy as jnp, optax
        >>> paths = optimizer_paths(ill_conditioned_quadratic,
        ...     {"sgd": optax.sgd(0.09), "momentum": optax.sgd(0.02, momentum=0.9)},
        ...     jnp.array([1.0, 2.0]), 50)
        >>> fig = plot_optimizer_paths(ill_conditioned_quadratic, paths)  # doctest: +SKIP
    """
    where = "jnn.viz.plot_optimizer_paths"
    if not isinstance(paths, Mapping):
        raise TypeError(f"{where}: paths must be a dict {{label: (T + 1, 2) array}}; got "
                        f"{type(paths).__name__}.")
    arrays = {}
    for label, path in paths.items():
        path = as_numpy(where, f"paths[{label!r}]", path, 2, "(T + 1, 2)")
        if path.shape[1] != 2:
            raise ValueError(f"{where}: paths[{label!r}] must have shape (T + 1, 2) (points in "
                             f"the plane); got {path.shape}.")
        arrays[str(label)] = path.astype(np.float64)
    resolution = _checks.positive_int(where, "resolution", resolution)
    levels = _checks.positive_int(where, "levels", levels)
    extra = [] if minimum is None else [np.asarray(minimum, np.float64).reshape(1, 2)]
    if xlim is None or ylim is None:
        if not arrays and not extra:
            raise ValueError(f"{where}: give xlim and ylim when there are no paths to fit.")
        auto_x, auto_y = _limits(list(arrays.values()), extra, 0.1)
        xlim, ylim = xlim or auto_x, ylim or auto_y
    xx, yy = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    grid = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=1), jnp.result_type(float))
    zz = np.asarray(jax.jit(jax.vmap(f))(grid), np.float64).reshape(xx.shape)
    finite = zz[np.isfinite(zz)]
    if log_levels is None:
        log_levels = finite.size > 0 and finite.min() >= 0
    if log_levels:
        positive = finite[finite > 0]
        low = max(positive.min(), positive.max() * 1e-6)
        contour_levels = np.geomspace(low, positive.max(), levels)
    else:
        contour_levels = np.linspace(finite.min(), finite.max(), levels)
    fig, ax = figure_and_axes(ax, (5.5, 4.5))
    ax.contour(xx, yy, zz, levels=contour_levels, cmap="viridis", linewidths=0.7, alpha=0.8)
    for i, (label, path) in enumerate(arrays.items()):
        color = f"C{i % 10}"
        ax.plot(path[:, 0], path[:, 1], color=color, lw=1.6, label=label,
                marker="o" if markers else None, ms=2.5)
        ax.plot(path[-1:, 0], path[-1:, 1], color=color, marker="s", ms=5, ls="none")
    if arrays:
        start = next(iter(arrays.values()))[0]
        ax.plot([start[0]], [start[1]], "ko", ms=6, ls="none")
    if minimum is not None:
        m = np.asarray(minimum, np.float64).reshape(2)
        ax.plot([m[0]], [m[1]], marker="*", color="k", ms=12, ls="none")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title is not None:
        ax.set_title(title)
    if arrays:
        ax.legend(loc="best", fontsize="small")
    return fig
