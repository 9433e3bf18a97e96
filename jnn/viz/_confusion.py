"""Confusion matrices of classifiers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jnn import _checks
from jnn.viz._common import as_numpy, figure_and_axes

_NORMALIZE = (None, "true", "pred", "all")


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    r"""Counts :math:`C_{ij}` of examples of true class :math:`i` predicted as class :math:`j`.

    Args:
        y_true: ``(n,)`` integer labels.
        y_pred: ``(n,)`` predicted labels, or ``(n, K)`` scores (logits or probabilities;
            the argmax is the prediction).
        num_classes: :math:`K`; by default one more than the largest label seen (or the
            width of the scores).

    Returns:
        ``(K, K)`` int64 counts; rows are true classes, columns predictions.

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2]).tolist()
        [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    where = "jnn.viz.confusion_matrix"
    true = as_numpy(where, "y_true", y_true, 1, "(n,)")
    pred = as_numpy(where, "y_pred", y_pred, (1, 2), "(n,) labels or (n, K) scores")
    if pred.shape[0] != true.shape[0]:
        raise ValueError(f"{where}: y_true has {true.shape[0]} labels but y_pred has "
                         f"{pred.shape[0]} predictions.")
    width = pred.shape[1] if pred.ndim == 2 else 0
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and (not np.all(labels == np.rint(labels)) or labels.min() < 0):
            raise ValueError(f"{where}: {name} must hold class indices 0, 1, ...; got values "
                             f"from {labels.min()} to {labels.max()}.")
    true, pred = true.astype(np.int64), pred.astype(np.int64)
    seen = max(int(true.max(initial=-1)), int(pred.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = max(seen, width, 1)
    else:
        num_classes = _checks.positive_int(where, "num_classes", num_classes)
        if seen > num_classes:
            raise ValueError(f"{where}: labels go up to {seen - 1} but num_classes="
                             f"{num_classes}; use num_classes >= {seen}.")
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (true, pred), 1)
    return counts


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    num_classes: int | None = None,
    normalize: str | None = None,
    class_names: Sequence[str] | None = None,
    annotate: bool = True,
    ax: Any = None,
    cmap: str = "Blues",
    title: str | None = None,
):
    """Plot a confusion matrix (rows: true class, columns: predicted class).

    Args:
        y_true, y_pred, num_classes: as in :func:`confusion_matrix`.
        normalize: ``None`` (counts), ``"true"`` (each row sums to 1: per-class recall on
            the diagonal), ``"pred"`` (each column sums to 1: precision) or ``"all"``.
        class_names: tick labels.
        annotate: write the value in each cell.
        ax: a matplotlib Axes; a new figure when ``None``.
        cmap: the colour map.
        title: the axes title (default: the accuracy).

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_confusion_matrix"
    if normalize not in _NORMALIZE:
        raise ValueError(f"{where}: normalize must be one of {_NORMALIZE}; got {normalize!r}.")
    counts = confusion_matrix(y_true, y_pred, num_classes)
    k = counts.shape[0]
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"{where}: class_names has {len(class_names)} names for {k} classes.")
    values = counts.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            values = values / values.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            values = values / values.sum(axis=0, keepdims=True)
        elif normalize == "all":
            values = values / values.sum()
    values = np.nan_to_num(values)
    fig, ax = figure_and_axes(ax, (0.45 * k + 2.5, 0.45 * k + 2.0))
    image = ax.imshow(values, cmap=cmap, vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(k)
    names = [str(c) for c in (class_names if class_names is not None else ticks)]
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if annotate:
        threshold = values.max() / 2 if values.max() > 0 else 0.5
        for i in range(k):
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalize else f"{counts[i, j]}"
                ax.text(j, i, text, ha="center", va="center", fontsize="x-small",
                        color="white" if values[i, j] > threshold else "black")
    total = counts.sum()
    accuracy = np.trace(counts) / total if total else float("nan")
    ax.set_title(title if title is not None else f"accuracy {accuracy:.3f}")
    return fig
