"""Activation functions and their derivatives, side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn import activations as _activations
from jnn.viz._common import figure_and_axes, pyplot

Activation = Callable[[jax.Array], jax.Array]


def _label(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _named(where: str, activations: Any) -> dict[str, Activation]:
    """``{label: function}`` from a name, a function, a list of them or a dict."""
    if isinstance(activations, Mapping):
        items = list(activations.items())
    elif isinstance(activations, str) or callable(activations):
        items = [(None, activations)]
    elif isinstance(activations, Sequence):
        items = [(None, a) for a in activations]
    else:
        raise TypeError(
            f"{where}: activations must be a name such as 'relu', a function, a list of "
            f"them or a dict {{label: function}}; got {type(activations).__name__}."
        )
    if not items:
        raise ValueError(f"{where}: activations is empty; give at least one, e.g. ['relu'].")
    named = {}
    for label, fn in items:
        fn = _activations.get(fn) if isinstance(fn, str) else fn
        if not callable(fn):
            raise TypeError(f"{where}: {fn!r} is neither an activation name nor a function.")
        named[str(label) if label is not None else _label(fn)] = fn
    return named


def activation_curves(fn: Activation | str, x: Any) -> tuple[jax.Array, jax.Array]:
    r"""An activation and its derivative on the points ``x``.

    .. math::
        y_i = f(x_i), \qquad y'_i = f'(x_i)

    The derivative is ``jax.vmap(jax.grad(f))``: exactly the derivative backpropagation
    uses, including JAX's choice at kinks (``relu'(0) = 0``).

    Args:
        fn: an elementwise activation (a function of a scalar) or its name in
            :mod:`jnn.activations`.
        x: ``(n,)`` points.

    Returns:
        ``(y, dy)``, both ``(n,)``.

    Example:
        >>> import jax.numpy as jnp
        >>> y, dy = activation_curves("sigmoid", jnp.array([0.0]))
        >>> float(y[0]), float(dy[0])
        (0.5, 0.25)
    """
    where = "jnn.viz.activation_curves"
    fn = _activations.get(fn) if isinstance(fn, str) else fn
    if not callable(fn):
        raise TypeError(f"{where}: fn must be an activation function or name; got {fn!r}.")
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{where}: x must be a 1-D array of points; got shape {x.shape}.")
    _checks.floating_input(where, "x", x, fix="Use e.g. jnp.linspace(-5.0, 5.0, 401).")
    try:
        y = jax.vmap(fn)(x)
        dy = jax.vmap(jax.grad(fn))(x)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: {_label(fn)} must map a scalar to a scalar (an elementwise "
            f"activation); softmax-like functions of a whole vector have a Jacobian, see "
            f"jnn.activations.softmax_jacobian. The call failed with: {error}"
        ) from error
    return y, dy


def plot_activations(
    activations: Any,
    *,
    x_range: tuple[float, float] = (-5.0, 5.0),
    num_points: int = 401,
    derivatives: bool = True,
    ax: Any = None,
):
    """Plot activation functions and (by default) their derivatives.

    Args:
        activations: a name (``"relu"``), a function, a list of them, or a dict
            ``{label: function}``.
        x_range: the interval to plot, ``(low, high)``.
        num_points: points on the interval.
        derivatives: also plot :math:`f'` (by ``jax.vmap(jax.grad(f))``).
        ax: ``None`` (a new figure: one panel, or two with ``derivatives``), one Axes
            (derivatives dashed in the same colour), or a pair of Axes (functions,
            derivatives).

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> fig = plot_activations(["sigmoid", "tanh", "relu"])  # doctest: +SKIP
    """
    where = "jnn.viz.plot_activations"
    named = _named(where, activations)
    num_points = _checks.positive_int(where, "num_points", num_points)
    low, high = (float(v) for v in x_range)
    if not low < high:
        raise ValueError(f"{where}: x_range must be (low, high) with low < high; got {x_range}.")
    x = jnp.linspace(low, high, num_points)
    if ax is None:
        if derivatives:
            fig, (ax_f, ax_d) = pyplot().subplots(1, 2, figsize=(10, 3.8))
        else:
            fig, ax_f = figure_and_axes(None, (5, 3.8))
            ax_d = None
    elif isinstance(ax, (tuple, list, np.ndarray)):
        if len(ax) != 2:
            raise ValueError(f"{where}: ax must be one Axes or a pair of Axes; got {len(ax)}.")
        fig, ax_f = figure_and_axes(ax[0])
        ax_d = figure_and_axes(ax[1])[1]
    else:
        fig, ax_f = figure_and_axes(ax)
        ax_d = ax_f if derivatives else None
    x_np = np.asarray(x)
    for i, (label, fn) in enumerate(named.items()):
        y, dy = activation_curves(fn, x)
        color = f"C{i % 10}"
        ax_f.plot(x_np, np.asarray(y), color=color, label=label)
        if derivatives:
            same = ax_d is ax_f
            ax_d.plot(x_np, np.asarray(dy), color=color, ls="--" if same else "-",
                      label=f"{label}'" if same else label)
    ax_f.set_title("activation f(x)")
    ax_f.set_xlabel("x")
    ax_f.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax_f.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax_f.legend()
    if ax_d is not None and ax_d is not ax_f:
        ax_d.set_title("derivative f'(x)")
        ax_d.set_xlabel("x")
        ax_d.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax_d.axvline(0, color="0.8", lw=0.8, zorder=0)
        ax_d.legend()
    return fig
