r"""Loss functions ``loss(predictions, targets, ...) -> scalar`` and two accuracy metrics.

Every loss takes ``reduction="mean" | "sum" | "none"``:

- regression and binary losses (``mse``, ``mae``, ``weighted_mse``, ``huber``,
  ``binary_cross_entropy*``, ``binary_hinge``) are elementwise: ``"none"`` returns an
  array of the predictions' shape and ``"mean"`` averages over every element (PyTorch's
  and optax's convention; Keras's per-sample mean over the last axis gives the same mean);
- class losses (``softmax_cross_entropy``, ``multiclass_hinge``) and ``accuracy`` reduce the
  class axis (the last) first: ``"none"`` returns the batch shape ``logits.shape[:-1]``.

Shapes are never broadcast: predictions of shape ``(n, 1)`` against targets of shape
``(n,)`` raise a ``ValueError`` that says which axis to squeeze, because broadcasting them
would silently compare every prediction with every target.

Label and target values are checked when they are concrete arrays (a ``ValueError``
naming the bad values). Inside ``jax.jit``/``vmap``/``grad`` they are tracers and cannot
be inspected, so an invalid value (a class label outside ``[0, classes)``, a hinge target
other than ±1, a probability outside [0, 1], a negative weight) makes the loss for that
example NaN instead of a plausible-looking wrong number.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jnn import _checks

__all__ = [
    "accuracy",
    "binary_accuracy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "binary_hinge",
    "get",
    "huber",
    "mae",
    "mse",
    "multiclass_hinge",
    "names",
    "softmax_cross_entropy",
    "weighted_mse",
]

REDUCTIONS = ("mean", "sum", "none")
SMOOTHING_CONVENTIONS = ("uniform", "others")


# --------------------------------------------------------------------------- helpers


def _where(name: str) -> str:
    return f"losses.{name}"


def _check_reduction(name: str, reduction: str) -> None:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"{_where(name)}: reduction must be one of 'mean', 'sum', 'none'; got {reduction!r}."
        )


def _reduce(values: jax.Array, reduction: str) -> jax.Array:
    if reduction == "mean":
        return jnp.mean(values)
    if reduction == "sum":
        return jnp.sum(values)
    return values


def _is_concrete(x: ArrayLike) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _shape_hint(a_name: str, a_shape: tuple, b_name: str, b_shape: tuple) -> str:
    if a_shape == b_shape + (1,):
        return f"squeeze the last axis of {a_name} ({a_name}[..., 0]) so the shapes match"
    if b_shape == a_shape + (1,):
        return f"squeeze the last axis of {b_name} ({b_name}[..., 0]) so the shapes match"
    return f"pass {a_name} and {b_name} of the same shape"


def _same_shape(name: str, a_name: str, a: jax.Array, b_name: str, b: jax.Array) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{_where(name)}: {a_name} has shape {a.shape} but {b_name} has shape "
            f"{b.shape}; {_shape_hint(a_name, a.shape, b_name, b.shape)}. jnn does not "
            f"broadcast {a_name} against {b_name}."
        )


def _real_targets(name: str, targets: ArrayLike, like: jax.Array, t_name: str) -> jax.Array:
    """Targets as an array; integer and bool targets become the predictions' float dtype."""
    targets = jnp.asarray(targets)
    if jnp.issubdtype(targets.dtype, jnp.complexfloating):
        raise TypeError(f"{_where(name)}: {t_name} has complex dtype {targets.dtype}.")
    if not jnp.issubdtype(targets.dtype, jnp.inexact):
        targets = targets.astype(like.dtype)
    return targets


def _float_pair(
    name: str, predictions: ArrayLike, targets: ArrayLike, p_name: str = "predictions"
) -> tuple[jax.Array, jax.Array]:
    predictions = jnp.asarray(predictions)
    _checks.floating_input(_where(name), p_name, predictions)
    targets = _real_targets(name, targets, predictions, "targets")
    _same_shape(name, p_name, predictions, "targets", targets)
    return predictions, targets


def _raise_if_invalid(name: str, arg: str, values: ArrayLike, valid, expected: str, fix: str):
    """Raise when concrete ``values`` break ``valid`` (a boolean array of the same shape)."""
    if not (_is_concrete(values) and _is_concrete(valid)):
        return
    bad = np.asarray(values)[~np.asarray(valid)]
    if bad.size:
        shown = np.unique(bad)[:5].tolist()
        raise ValueError(
            f"{_where(name)}: {arg} must be {expected}; got {bad.size} value(s) outside it, "
            f"e.g. {shown}. {fix}"
        )


def _class_scores(name: str, arg: str, x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    _checks.floating_input(_where(name), arg, x)
    if x.ndim == 0:
        raise ValueError(
            f"{_where(name)}: {arg} must have a class axis (the last), e.g. shape "
            f"(batch, classes); got a scalar. For one binary output use "
            f"binary_cross_entropy_with_logits or binary_hinge."
        )
    return x


def _integer_labels(
    name: str, s_name: str, scores: jax.Array, labels: ArrayLike
) -> tuple[jax.Array, jax.Array]:
    """Integer class labels of shape ``scores.shape[:-1]``: (labels clipped, valid mask)."""
    labels = jnp.asarray(labels)
    k = scores.shape[-1]
    if labels.shape != scores.shape[:-1]:
        if labels.shape == scores.shape[:-1] + (1,):
            hint = "squeeze the last axis of targets (targets[..., 0])"
        else:
            hint = f"pass integer labels of shape {scores.shape[:-1]}"
        raise ValueError(
            f"{_where(name)}: targets has shape {labels.shape} but {s_name} has shape "
            f"{scores.shape}; {hint}."
        )
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(
            f"{_where(name)}: targets of shape {labels.shape} are read as class indices and "
            f"must have an integer dtype; got {labels.dtype}. Cast them, e.g. "
            f"targets.astype(jnp.int32), or pass one-hot targets of shape {scores.shape}."
        )
    valid = (labels >= 0) & (labels < k)
    _raise_if_invalid(
        name,
        "targets",
        labels,
        valid,
        f"class indices in [0, {k}) for {k} classes",
        "Check the label encoding (labels start at 0) and the number of output units.",
    )
    return jnp.clip(labels, 0, k - 1), valid


def _nan_where_invalid(loss: jax.Array, valid: jax.Array) -> jax.Array:
    return jnp.where(valid, loss, jnp.nan)


# --------------------------------------------------------------------------- regression


def mse(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> jax.Array:
    r"""Mean squared error (the L2 loss), as Keras's and PyTorch's ``MSELoss``.

    .. math::
        \mathrm{MSE} = \frac{1}{N} \sum_{i=1}^{N} (\hat y_i - y_i)^2

    over all :math:`N` elements.

    .. warning::
        Conventions differ by constant factors. The course writes the per-example loss as
        :math:`\tfrac12 (y - f(x))^2` (so its gradient is :math:`f(x) - y`), and
        ``optax.l2_loss`` is that :math:`\tfrac12` squared error elementwise:
        ``optax.l2_loss(p, t).mean() == 0.5 * mse(p, t)``. The course's summed risk
        :math:`\tfrac12 \sum_i (y_i - f(x_i))^2` is ``0.5 * mse(p, t, reduction="sum")``;
        ``optax.squared_error`` is ``mse(p, t, reduction="none")``. The factors rescale
        the gradient, and so the effective learning rate.

    Args:
        predictions: any shape, floating.
        targets: the same shape (integer targets are cast to the predictions' dtype).
        reduction: ``"mean"`` over all elements, ``"sum"``, or ``"none"`` (elementwise).

    Returns:
        A scalar, or the elementwise squared errors for ``reduction="none"``.

    Example (two softmax outputs against a one-hot target):
        >>> round(float(mse(jnp.array([0.87, 0.13]), jnp.array([1.0, 0.0]), reduction="sum")), 6)
        0.0338
    """
    _check_reduction("mse", reduction)
    predictions, targets = _float_pair("mse", predictions, targets)
    return _reduce(jnp.square(predictions - targets), reduction)


def mae(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> jax.Array:
    r"""Mean absolute error (the L1 loss), :math:`\frac1N \sum_i |\hat y_i - y_i|`.

    Less sensitive to outliers than :func:`mse` (its gradient is bounded by 1); optax has
    no L1 loss. At a zero residual JAX takes the derivative of :math:`|r|` to be 1.

    Args:
        predictions: any shape, floating.
        targets: the same shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (elementwise).

    Example:
        >>> float(mae(jnp.array([1.0, -1.0]), jnp.array([0.0, 1.0])))
        1.5
    """
    _check_reduction("mae", reduction)
    predictions, targets = _float_pair("mae", predictions, targets)
    return _reduce(jnp.abs(predictions - targets), reduction)


def weighted_mse(
    predictions: ArrayLike, targets: ArrayLike, weights: ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    r"""Weighted least squares: squared errors weighted per sample (or per element).

    .. math::
        L = \frac{1}{N} \sum_{i} w_i \, \lVert \hat y_i - y_i \rVert^2

    where :math:`N` is the number of elements of ``predictions``, as Keras averages
    sample-weighted losses (``"sum_over_batch_size"``). With :math:`w_i = 1/\sigma_i^2`
    this is the Gaussian negative log-likelihood (up to constants) for examples whose
    noise variances differ. For a weighted average instead, divide
    ``weighted_mse(..., reduction="sum")`` by the sum of the weights.

    Args:
        predictions: ``(n, ...)``, floating.
        targets: the same shape.
        weights: non-negative; ``(n,)`` (one weight per sample, shared by its trailing
            elements) or the shape of ``predictions`` (one per element).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (elementwise weighted errors).

    Example:
        >>> p, t = jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0])
        >>> float(weighted_mse(p, t, jnp.array([3.0, 0.5])))
        2.5
    """
    name = "weighted_mse"
    _check_reduction(name, reduction)
    predictions, targets = _float_pair(name, predictions, targets)
    weights = _real_targets(name, weights, predictions, "weights")
    if weights.shape != predictions.shape:
        if predictions.ndim >= 1 and weights.shape == predictions.shape[:1]:
            weights = weights.reshape(weights.shape + (1,) * (predictions.ndim - 1))
        else:
            raise ValueError(
                f"{_where(name)}: weights has shape {weights.shape} but predictions has shape "
                f"{predictions.shape}; pass one weight per sample, shape "
                f"{predictions.shape[:1]}, or one per element, shape {predictions.shape}."
            )
    valid = weights >= 0
    _raise_if_invalid(
        name, "weights", weights, valid, "non-negative", "Weights scale each sample's error."
    )
    loss = _nan_where_invalid(weights * jnp.square(predictions - targets), valid)
    return _reduce(loss, reduction)


def huber(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    delta: ArrayLike = 1.0,
    reduction: str = "mean",
) -> jax.Array:
    r"""The Huber loss: quadratic for small residuals, linear for large ones.

    .. math::
        L_\delta(r) = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\
        \delta \left(|r| - \tfrac12 \delta\right) & |r| > \delta \end{cases},
        \qquad r = \hat y - y

    Equals ``optax.huber_loss`` and PyTorch's ``HuberLoss(delta=...)``. (PyTorch's
    ``SmoothL1Loss(beta)`` is this divided by ``beta``.)

    Args:
        predictions: any shape, floating.
        targets: the same shape.
        delta: :math:`\delta > 0`, where the loss turns from quadratic to linear.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (elementwise).

    Example:
        >>> huber(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="none").tolist()
        [0.125, 2.5]

    References:
        Huber, "Robust Estimation of a Location Parameter", Annals of Mathematical
        Statistics, 1964.
    """
    _check_reduction("huber", reduction)
    _checks.number_in_range(_where("huber"), "delta", delta, 0.0, low_inclusive=False)
    predictions, targets = _float_pair("huber", predictions, targets)
    abs_r = jnp.abs(predictions - targets)
    quadratic = jnp.minimum(abs_r, delta)  # the part of |r| inside [0, delta]
    return _reduce(0.5 * quadratic**2 + delta * (abs_r - quadratic), reduction)


# --------------------------------------------------------------------------- binary


def binary_cross_entropy_with_logits(
    logits: ArrayLike, targets: ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    r"""Binary cross-entropy of a sigmoid output, computed stably from its logit.

    .. math::
        L(z, y) = -\left(y \log \sigma(z) + (1 - y) \log(1 - \sigma(z))\right)
                = -\left(y \log \sigma(z) + (1 - y) \log \sigma(-z)\right)

    with :math:`\log \sigma` computed directly (``jax.nn.log_sigmoid``), so it is finite
    and exact for logits of any size. Equals ``optax.sigmoid_binary_cross_entropy`` and
    PyTorch's ``BCEWithLogitsLoss``. Prefer it to :func:`binary_cross_entropy` on
    probabilities.

    Args:
        logits: any shape, floating (one logit per binary decision).
        targets: the same shape, in [0, 1] (0/1 labels or soft targets; int/bool is fine).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (elementwise).

    Example:
        >>> round(float(binary_cross_entropy_with_logits(jnp.array([0.0]), jnp.array([1]))), 6)
        0.693147
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    logits, targets = _float_pair(name, logits, targets, p_name="logits")
    valid = (targets >= 0) & (targets <= 1)
    _raise_if_invalid(
        name, "targets", targets, valid, "in [0, 1]", "For ±1 labels pass (targets + 1) / 2."
    )
    loss = -(targets * jax.nn.log_sigmoid(logits) + (1 - targets) * jax.nn.log_sigmoid(-logits))
    return _reduce(_nan_where_invalid(loss, valid), reduction)


def binary_cross_entropy(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    eps: float = 1e-7,
    reduction: str = "mean",
) -> jax.Array:
    r"""Binary cross-entropy (the Bernoulli negative log-likelihood) of probabilities.

    .. math::
        L(p, y) = -\left(y \log \tilde p + (1 - y) \log(1 - \tilde p)\right), \qquad
        \tilde p = \operatorname{clip}(p, \epsilon, 1 - \epsilon)

    The clipping (Keras's, with its :math:`\epsilon = 10^{-7}`) keeps the loss finite when
    a sigmoid saturates to exactly 0 or 1; PyTorch's ``BCELoss`` instead caps each log at
    -100. Both cap the loss at about :math:`-\log \epsilon` (16.1 here) and zero its gradient
    there, which is why :func:`binary_cross_entropy_with_logits` is the better choice for
    training. In low precision :math:`\epsilon` is raised to the gap below 1 of the dtype
    (``finfo.epsneg``) so that :math:`1 - \epsilon < 1` (e.g. 0.0039 in bfloat16).

    Args:
        probabilities: any shape, floating, in [0, 1] (e.g. a sigmoid output).
        targets: the same shape, in [0, 1].
        eps: :math:`\epsilon`, in (0, 0.5).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (elementwise).

    Example:
        >>> round(float(binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]))), 6)
        0.693147
    """
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    _checks.number_in_range(
        _where(name), "eps", eps, 0.0, 0.5, low_inclusive=False, high_inclusive=False
    )
    probabilities, targets = _float_pair(name, probabilities, targets, p_name="probabilities")
    p_valid = (probabilities >= 0) & (probabilities <= 1)
    _raise_if_invalid(
        name,
        "probabilities",
        probabilities,
        p_valid,
        "in [0, 1]",
        "If these are logits, use binary_cross_entropy_with_logits.",
    )
    t_valid = (targets >= 0) & (targets <= 1)
    _raise_if_invalid(
        name, "targets", targets, t_valid, "in [0, 1]", "For ±1 labels pass (targets + 1) / 2."
    )
    if _checks.is_concrete_number(eps):
        eps = max(float(eps), float(jnp.finfo(probabilities.dtype).epsneg))
    p = jnp.clip(probabilities, eps, 1 - eps)
    loss = -(targets * jnp.log(p) + (1 - targets) * jnp.log1p(-p))
    return _reduce(_nan_where_invalid(loss, p_valid & t_valid), reduction)


def binary_hinge(scores: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> jax.Array:
    r"""The hinge loss of a (soft-margin) support vector machine, for targets :math:`\pm 1`.

    .. math::
        L(f, y) = \max(0,\ 1 - y f), \qquad y \in \{-1, +1\}

    Equals ``optax.hinge_loss``. Targets must be exactly -1 or +1: 0/1 labels would make
    every negative example's loss 1 regardless of its score.

    Args:
        scores: any shape, floating (the raw score :math:`f(x)`, no sigmoid).
        targets: the same shape, in {-1, +1}.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (elementwise).

    Example:
        >>> scores, targets = jnp.array([2.0, 0.5, 0.5]), jnp.array([1, 1, -1])
        >>> binary_hinge(scores, targets, reduction="none").tolist()
        [0.0, 0.5, 1.5]

    References:
        Cortes, Vapnik, "Support-Vector Networks", Machine Learning, 1995.
    """
    name = "binary_hinge"
    _check_reduction(name, reduction)
    scores, targets = _float_pair(name, scores, targets, p_name="scores")
    valid = (targets == 1) | (targets == -1)
    _raise_if_invalid(
        name, "targets", targets, valid, "-1 or +1", "For 0/1 labels pass 2 * targets - 1."
    )
    loss = jnp.maximum(0.0, 1.0 - targets * scores)
    return _reduce(_nan_where_invalid(loss, valid), reduction)


# --------------------------------------------------------------------------- multiclass


def softmax_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    label_smoothing: ArrayLike = 0.0,
    smoothing_convention: str = "uniform",
    reduction: str = "mean",
) -> jax.Array:
    r"""Cross-entropy of a softmax over the last axis, for class labels or distributions.

    .. math::
        L(z, t) = -\sum_{k=1}^{K} t_k \log \operatorname{softmax}(z)_k
                = \log \sum_k e^{z_k} - \sum_k t_k z_k \quad (\textstyle\sum_k t_k = 1)

    computed with ``log_softmax`` (finite for logits of any size). The targets are read
    by their shape: integer class indices of shape ``logits.shape[:-1]`` (then
    :math:`t` is their one-hot encoding), or a distribution per example (one-hot or
    soft labels) of shape ``logits.shape``.

    Label smoothing with :math:`\epsilon` replaces the target by

    - ``smoothing_convention="uniform"``: :math:`(1 - \epsilon)\, t + \epsilon / K`,
      which gives :math:`1 - \epsilon + \epsilon/K` to the true class and
      :math:`\epsilon/K` to each other one (``optax.smooth_labels``, PyTorch's and Keras's
      ``label_smoothing``, Szegedy et al. 2016);
    - ``smoothing_convention="others"``: :math:`(1 - \epsilon)\, t + \frac{\epsilon}{K - 1}
      (1 - t)`, which gives exactly :math:`1 - \epsilon` to the true class and
      :math:`\epsilon/(K-1)` to each other one (the course's convention; it needs
      :math:`K \ge 2`).

    For the same :math:`\epsilon` the second smooths slightly more.

    Args:
        logits: ``(..., classes)``, floating.
        targets: integer labels ``(...,)`` in ``[0, classes)``, or probabilities
            ``(..., classes)`` (each row summing to 1; int one-hot is fine).
        label_smoothing: :math:`\epsilon \in [0, 1]`; 0 disables smoothing.
        smoothing_convention: ``"uniform"`` (:math:`\epsilon/K`) or ``"others"``
            (:math:`\epsilon/(K-1)`).
        reduction: ``"mean"`` or ``"sum"`` over examples, or ``"none"`` (shape
            ``logits.shape[:-1]``).

    Returns:
        A scalar, or one loss per example for ``reduction="none"``.

    Example:
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> round(float(softmax_cross_entropy(logits, jnp.array([0, 1]))), 4)
        0.3069

    References:
        Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture
        for Computer Vision", 2016 (label smoothing). https://arxiv.org/abs/1512.00567
    """
    name = "softmax_cross_entropy"
    _check_reduction(name, reduction)
    if not isinstance(smoothing_convention, str) or (
        smoothing_convention not in SMOOTHING_CONVENTIONS
    ):
        raise ValueError(
            f"{_where(name)}: smoothing_convention must be 'uniform' (epsilon/K on every "
            f"class, as optax) or 'others' (epsilon/(K-1) on the wrong classes); got "
            f"{smoothing_convention!r}."
        )
    _checks.number_in_range(_where(name), "label_smoothing", label_smoothing, 0.0, 1.0)
    logits = _class_scores(name, "logits", logits)
    k = logits.shape[-1]
    smooth = not (_checks.is_concrete_number(label_smoothing) and float(label_smoothing) == 0)
    if smooth and smoothing_convention == "others" and k < 2:
        raise ValueError(
            f"{_where(name)}: smoothing_convention='others' spreads epsilon/(K-1) over the "
            f"other classes and needs at least 2 classes; logits has {k}."
        )
    eps = label_smoothing
    log_p = jax.nn.log_softmax(logits, axis=-1)
    targets = jnp.asarray(targets)

    if targets.shape == logits.shape:
        t = _real_targets(name, targets, logits, "targets")
        if smooth:
            if smoothing_convention == "uniform":
                t = (1 - eps) * t + eps / k
            else:
                t = (1 - eps) * t + eps / (k - 1) * (1 - t)
        return _reduce(-jnp.sum(t * log_p, axis=-1), reduction)

    labels, valid = _integer_labels(name, "logits", logits, targets)
    log_p_true = jnp.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    if not smooth:
        loss = -log_p_true
    else:
        # -sum_j t'_j log p_j with t' = c everywhere plus (on_true - c) on the label.
        c = eps / k if smoothing_convention == "uniform" else eps / (k - 1)
        on_true = 1 - eps + eps / k if smoothing_convention == "uniform" else 1 - eps
        loss = -(on_true - c) * log_p_true - c * jnp.sum(log_p, axis=-1)
    return _reduce(_nan_where_invalid(loss, valid), reduction)


def multiclass_hinge(
    scores: ArrayLike, targets: ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    r"""The multiclass hinge loss of Crammer and Singer, with margin 1.

    .. math::
        L(f, y) = \max\left(0,\ 1 + \max_{j \ne y} f_j - f_y\right)
                = \max_j \left(f_j + 1 - [j = y]\right) - f_y

    Only the most-violating wrong class counts. Equals ``optax.multiclass_hinge_loss``.

    .. warning::
        PyTorch's ``MultiMarginLoss`` is the Weston–Watkins form
        :math:`\frac1K \sum_{j \ne y} \max(0, 1 + f_j - f_y)`, which sums over every
        violating class; the two agree only when at most one class violates the margin
        (up to the :math:`1/K`).

    Args:
        scores: ``(..., classes)``, floating.
        targets: integer labels ``(...,)`` in ``[0, classes)``.
        reduction: ``"mean"`` or ``"sum"`` over examples, or ``"none"`` (shape
            ``scores.shape[:-1]``).

    Example:
        >>> float(multiclass_hinge(jnp.array([[3.0, 2.5, 0.0]]), jnp.array([0])))
        0.5

    References:
        Crammer, Singer, "On the Algorithmic Implementation of Multiclass Kernel-based
        Vector Machines", JMLR 2001.
    """
    name = "multiclass_hinge"
    _check_reduction(name, reduction)
    scores = _class_scores(name, "scores", scores)
    targets = jnp.asarray(targets)
    if targets.shape == scores.shape and scores.shape[-1] > 1:
        raise ValueError(
            f"{_where(name)}: targets has the shape of scores {scores.shape}, as one-hot "
            f"labels do; pass integer labels of shape {scores.shape[:-1]}, e.g. "
            "jnp.argmax(targets, axis=-1)."
        )
    labels, valid = _integer_labels(name, "scores", scores, targets)
    is_true = jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
    score_true = jnp.take_along_axis(scores, labels[..., None], axis=-1)[..., 0]
    loss = jnp.max(scores + 1 - is_true, axis=-1) - score_true
    return _reduce(_nan_where_invalid(loss, valid), reduction)


# --------------------------------------------------------------------------- metrics


def accuracy(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> jax.Array:
    r"""The fraction of examples whose highest-scoring class is the target class.

    .. math::
        \mathrm{acc} = \frac1n \sum_i [\arg\max_k \hat y_{ik} = y_i]

    A metric, not a loss: it has no useful gradient.

    Args:
        predictions: ``(..., classes)`` logits or probabilities.
        targets: integer labels ``(...,)``, or one-hot/soft labels ``(..., classes)``
            (their argmax is the target class).
        reduction: ``"mean"`` (the accuracy), ``"sum"`` (the number correct) or
            ``"none"`` (1.0/0.0 per example).

    Example:
        >>> float(accuracy(jnp.array([[0.1, 0.9], [0.8, 0.2]]), jnp.array([1, 1])))
        0.5
    """
    name = "accuracy"
    _check_reduction(name, reduction)
    predictions = _class_scores(name, "predictions", predictions)
    targets = jnp.asarray(targets)
    if targets.shape == predictions.shape:
        labels, valid = jnp.argmax(targets, axis=-1), True
    else:
        labels, valid = _integer_labels(name, "predictions", predictions, targets)
    correct = (jnp.argmax(predictions, axis=-1) == labels).astype(predictions.dtype)
    return _reduce(_nan_where_invalid(correct, valid), reduction)


def binary_accuracy(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    threshold: ArrayLike = 0.5,
    reduction: str = "mean",
) -> jax.Array:
    r"""The fraction of binary decisions :math:`[\hat y > \theta]` that match the targets.

    The default threshold 0.5 is for probabilities (Keras's default); pass
    ``threshold=0.0`` for logits or hinge scores. Targets count as positive where they
    exceed 0.5, so both 0/1 and -1/+1 labels work.

    Args:
        predictions: any shape, floating.
        targets: the same shape.
        threshold: :math:`\theta`.
        reduction: ``"mean"``, ``"sum"`` (the number correct) or ``"none"``.

    Example:
        >>> float(binary_accuracy(jnp.array([0.9, 0.2, 0.7]), jnp.array([1, 0, 0])))
        0.6666666865348816
    """
    name = "binary_accuracy"
    _check_reduction(name, reduction)
    predictions, targets = _float_pair(name, predictions, targets)
    correct = (predictions > threshold) == (targets > 0.5)
    return _reduce(correct.astype(predictions.dtype), reduction)


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[..., jax.Array]] = {
    "mse": mse,
    "mean_squared_error": mse,
    "mae": mae,
    "mean_absolute_error": mae,
    "weighted_mse": weighted_mse,
    "huber": huber,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "softmax_cross_entropy": softmax_cross_entropy,
    "binary_hinge": binary_hinge,
    "multiclass_hinge": multiclass_hinge,
}


def names() -> list[str]:
    """The names :func:`get` accepts, sorted."""
    return sorted(_REGISTRY)


def get(name: str | Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """The loss function called ``name`` (a callable is returned unchanged).

    Names are this module's function names plus Keras's ``"mean_squared_error"`` and
    ``"mean_absolute_error"``; matching ignores case and treats ``-`` as ``_``.

    Example:
        >>> get("mse") is mse
        True
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"losses.get: name must be a string such as 'mse' or a callable; got {name!r} "
            f"(type {type(name).__name__})."
        )
    fn = _REGISTRY.get(name.strip().lower().replace("-", "_"))
    if fn is None:
        raise ValueError(
            f"losses.get: unknown loss {name!r}; valid names are {', '.join(names())}. "
            "Or pass a function loss(predictions, targets)."
        )
    return fn
