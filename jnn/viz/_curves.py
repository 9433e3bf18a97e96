"""Learning curves, loss-per-step races and learning-rate schedules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.viz._common import as_numpy, check_names, figure_and_axes, pyplot


def _metrics_of(where: str, history: Any) -> dict[str, np.ndarray]:
    metrics = getattr(history, "metrics", history)
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"{where}: history must be a jnn.train.History or a dict {{name: values}}; got "
            f"{type(history).__name__}."
        )
    return {str(k): as_numpy(where, f"history[{k!r}]", v, 1, "(epochs,)")
            for k, v in metrics.items()}


def _best_mode(name: str) -> str:
    return "max" if "acc" in name else "min"


def plot_learning_curves(
    history: Any,
    names: list[str] | None = None,
    *,
    ax: Any = None,
    mark_best: str | None = None,
    log: bool = False,
):
    """Training and validation curves per epoch, one panel per metric.

    Each name (``"loss"``, ``"accuracy"``) is drawn for training and, where logged, for
    validation (``"val_loss"``), the course's picture for diagnosing under- and
    overfitting. :meth:`jnn.train.History.plot` draws the same without the extras.

    Args:
        history: a :class:`jnn.train.History` from ``fit``, or a dict ``{name: values}``.
        names: the training metrics to draw; by default every logged name without the
            ``val_`` prefix.
        ax: a matplotlib Axes to draw every name into; a new figure with one panel per
            name when ``None``.
        mark_best: a logged name (e.g. ``"val_loss"``) whose best epoch is marked with a
            vertical line (lowest value, or highest for accuracies), as early stopping
            would choose it.
        log: logarithmic y axis.

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_learning_curves"
    metrics = _metrics_of(where, history)
    if not metrics:
        raise ValueError(f"{where}: history is empty; train for at least one epoch first.")
    if names is None:
        names = [n for n in metrics if not n.startswith("val_")] or list(metrics)
    check_names(where, "names", names)
    for name in names:
        if name not in metrics:
            raise ValueError(f"{where}: {name!r} was not logged; logged names are "
                             f"{sorted(metrics)}.")
    if mark_best is not None and mark_best not in metrics:
        raise ValueError(f"{where}: mark_best={mark_best!r} was not logged; logged names are "
                         f"{sorted(metrics)}.")
    if ax is None:
        fig, axes = pyplot().subplots(1, len(names), figsize=(4.5 * len(names), 3.5),
                                      squeeze=False)
        axes = list(axes[0])
    else:
        fig, ax = figure_and_axes(ax)
        axes = [ax] * len(names)
    for i, (axis, name) in enumerate(zip(axes, names)):
        values = metrics[name]
        epochs = np.arange(1, values.size + 1)
        shared = ax is not None and len(names) > 1
        color = f"C{2 * i}" if shared else "C0"
        axis.plot(epochs, values, color=color, label=f"training {name}")
        if f"val_{name}" in metrics:
            val = metrics[f"val_{name}"]
            axis.plot(np.arange(1, val.size + 1), val, color=f"C{2 * i + 1}" if shared else "C1",
                      label=f"validation {name}")
        if mark_best is not None:
            best = metrics[mark_best]
            pick = np.nanargmax if _best_mode(mark_best) == "max" else np.nanargmin
            epoch = int(pick(best)) + 1
            axis.axvline(epoch, color="0.4", ls=":", label=f"best {mark_best} (epoch {epoch})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name if not shared else "value")
        if log:
            axis.set_yscale("log")
        axis.legend()
    fig.tight_layout()
    return fig


def plot_curves(
    curves: Mapping[str, Any],
    *,
    ax: Any = None,
    xlabel: str = "step",
    ylabel: str = "loss",
    log: bool = True,
    title: str | None = None,
):
    """Several 1-D curves on one axes: loss per step of competing optimizers, and the like.

    Args:
        curves: ``{label: values}``, each ``(steps,)``; the x axis is the index (0-based).
        ax: a matplotlib Axes; a new figure when ``None``.
        xlabel, ylabel, title: axis labels and title.
        log: logarithmic y axis (values must then be positive; zeros are not drawn).

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_curves"
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(f"{where}: curves must be a non-empty dict {{label: values}}; got "
                        f"{type(curves).__name__}.")
    fig, ax = figure_and_axes(ax, (5.5, 3.8))
    for label, values in curves.items():
        values = as_numpy(where, f"curves[{label!r}]", values, 1, "(steps,)")
        ax.plot(np.arange(values.size), values, label=str(label))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if title is not None:
        ax.set_title(title)
    ax.legend()
    return fig


def plot_schedules(
    schedules: Mapping[str, Callable[[Any], Any]],
    num_steps: int,
    *,
    ax: Any = None,
    log: bool = False,
):
    """Learning rate against step for one or more schedules (optax ``Schedule`` functions).

    Args:
        schedules: ``{label: schedule}`` with ``schedule(step) -> learning rate``.
        num_steps: steps ``0 .. num_steps - 1`` are evaluated (vectorized when the schedule
            allows it).
        ax: a matplotlib Axes; a new figure when ``None``.
        log: logarithmic y axis.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> import jnn
        >>> fig = plot_schedules({"cosine": jnn.optim.cosine_decay_schedule(0.1, 100)},
        ...                      100)  # doctest: +SKIP
    """
    where = "jnn.viz.plot_schedules"
    if not isinstance(schedules, Mapping) or not schedules:
        raise TypeError(f"{where}: schedules must be a non-empty dict {{label: schedule}}; got "
                        f"{type(schedules).__name__}.")
    num_steps = _checks.positive_int(where, "num_steps", num_steps)
    fig, ax = figure_and_axes(ax, (5.5, 3.5))
    steps = np.arange(num_steps)
    for label, schedule in schedules.items():
        if not callable(schedule):
            raise TypeError(f"{where}: schedules[{label!r}] must be callable as "
                            f"schedule(step); got {schedule!r}.")
        ax.plot(steps, schedule_values(schedule, num_steps), label=str(label))
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.legend()
    return fig


def schedule_values(schedule: Callable[[Any], Any], num_steps: int) -> np.ndarray:
    """``schedule(t)`` for ``t = 0 .. num_steps - 1`` as a float64 numpy array."""
    steps = jnp.arange(num_steps)
    try:
        values = jax.vmap(schedule)(steps)
    except Exception:  # a schedule with Python control flow on the step
        values = [schedule(int(t)) for t in range(num_steps)]
    return np.asarray(values, dtype=np.float64).reshape(num_steps)
