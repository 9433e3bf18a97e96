"""Smith's learning-rate range test ("LR finder"), compiled as one ``lax.scan``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn._checks import number_in_range, positive_int

_MODES = ("exponential", "linear")


class LRRangeTestResult(NamedTuple):
    """What :func:`lr_range_test` measured.

    Attributes:
        lrs: ``(num_steps,)`` the learning rate of each step.
        losses: ``(num_steps,)`` the minibatch loss at each step, taken before that step's
            update; ``nan`` after the test stopped.
        smoothed_losses: ``(num_steps,)`` the bias-corrected moving average of ``losses``;
            ``nan`` after the stop.
        suggested_lr: the learning rate where the smoothed loss falls fastest per unit of
            ``log(lr)`` (``nan`` when too few steps were recorded).
        num_recorded: how many steps ran before the test stopped (``num_steps`` if the
            loss never diverged).
    """

    lrs: jax.Array
    losses: jax.Array
    smoothed_losses: jax.Array
    suggested_lr: float
    num_recorded: int

    def plot(self, ax: Any = None) -> Any:
        """Loss against learning rate (log axis), the suggestion marked; a matplotlib Figure.

        Args:
            ax: a matplotlib ``Axes`` to draw into; a new figure when ``None``.

        Returns:
            The ``matplotlib.figure.Figure`` holding the axes.
        """
        import matplotlib.pyplot as plt  # lazily: plotting is optional

        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure
        n = self.num_recorded
        lrs = np.asarray(self.lrs)[:n]
        ax.plot(lrs, np.asarray(self.losses)[:n], color="0.7", lw=1, label="minibatch loss")
        ax.plot(lrs, np.asarray(self.smoothed_losses)[:n], color="C0", lw=2,
                label="smoothed loss")
        if math.isfinite(self.suggested_lr):
            y = np.interp(np.log(self.suggested_lr), np.log(lrs),
                          np.asarray(self.smoothed_losses)[:n])
            ax.plot([self.suggested_lr], [y], "o", color="C3",
                    label=f"steepest descent: lr = {self.suggested_lr:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("Learning-rate range test")
        ax.legend()
        return fig


def range_test_lrs(min_lr: float, max_lr: float, num_steps: int, mode: str) -> np.ndarray:
    """The learning rates of the test, in float64: geometric or arithmetic from min to max."""
    fraction = np.arange(num_steps) / (num_steps - 1)
    if mode == "exponential":
        return min_lr * (max_lr / min_lr) ** fraction
    return min_lr + (max_lr - min_lr) * fraction


def steepest_descent_lr(
    lrs: np.ndarray, smoothed: np.ndarray, num_recorded: int, skip_start: int, skip_end: int
) -> float:
    """``lrs[argmin d(smoothed)/d(log lr)]`` over the recorded steps, ends trimmed."""
    lrs = np.asarray(lrs, dtype=np.float64)[:num_recorded]
    smoothed = np.asarray(smoothed, dtype=np.float64)[:num_recorded]
    window = slice(skip_start, max(num_recorded - skip_end, 0))
    lr_w, loss_w = lrs[window], smoothed[window]
    ok = np.isfinite(loss_w)
    if ok.sum() < 3:  # too short to trim: use every finite recorded point
        ok = np.isfinite(smoothed)
        lr_w, loss_w = lrs, smoothed
    lr_w, loss_w = lr_w[ok], loss_w[ok]
    if lr_w.size < 2:
        return float("nan")
    slope = np.gradient(loss_w, np.log(lr_w))
    return float(lr_w[np.argmin(slope)])


def _check_data(where: str, data: Any, single_batch: bool) -> int | None:
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError(f"{where}: data has no arrays; pass a batch such as (x, y).")
    if single_batch:
        return None
    shapes = [np.shape(x) for x in leaves]
    if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
        raise ValueError(
            f"{where}: every array in data needs the same leading axis of batches "
            f"(num_batches, batch, ...); got shapes {shapes}. To reuse one batch at every "
            "step, pass single_batch=True."
        )
    return shapes[0][0]


def lr_range_test(
    loss_fn: Callable[[Any, Any], jax.Array],
    params: Any,
    data: Any,
    optimizer_factory: Callable[..., optax.GradientTransformation],
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    smooth: float = 0.98,
    diverge_threshold: float = 4.0,
    single_batch: bool = False,
    key: jax.Array | None = None,
    skip_start: int | None = None,
    skip_end: int = 5,
) -> LRRangeTestResult:
    r"""Smith's learning-rate range test: train briefly while raising the rate (course H8).

    Step :math:`t = 0, \dots, N-1` uses

    .. math::
        \eta_t = \eta_{\min}\left(\frac{\eta_{\max}}{\eta_{\min}}\right)^{t/(N-1)}
        \quad\text{(exponential)}, \qquad
        \eta_t = \eta_{\min} + (\eta_{\max} - \eta_{\min})\frac{t}{N-1} \quad\text{(linear)},

    records the minibatch loss :math:`\ell_t` at the current parameters, then takes one
    optimizer step with :math:`\eta_t`. The curve is smoothed with a bias-corrected
    exponential moving average

    .. math::
        a_t = \beta a_{t-1} + (1 - \beta)\,\ell_t, \qquad \bar\ell_t = a_t / (1 - \beta^{t+1}),

    and the test stops (later steps are masked to ``nan`` and skipped) once
    :math:`\bar\ell_t > \bar\ell_{\text{best}} + (\kappa - 1)|\bar\ell_{\text{best}}|`,
    which for a non-negative loss is :math:`\bar\ell_t > \kappa\,\bar\ell_{\text{best}}`
    with :math:`\kappa` = ``diverge_threshold`` (fastai's rule), or once the loss is not
    finite. The suggested rate is where the smoothed curve falls fastest,
    :math:`\arg\min_t\, d\bar\ell_t / d\log\eta_t` (``np.gradient``), after dropping the
    first ``skip_start`` and last ``skip_end`` recorded steps, as fastai does. A good
    learning rate is usually a little below the point where the loss turns up; the
    suggestion is a starting point for reading the plot, not a guarantee.

    The whole test is one compiled ``lax.scan``: the rate enters through
    ``optax.inject_hyperparams``, so a single program covers every step.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``.
        params: the initial parameters (not modified).
        data: a pytree of arrays with a leading axis of batches, ``(num_batches, batch,
            ...)``; step ``t`` uses batch ``t mod num_batches`` (reshuffled every pass when
            ``key`` is given). With ``single_batch=True``, one batch reused at every step.
        optimizer_factory: ``optimizer_factory(learning_rate=...) ->
            optax.GradientTransformation``, e.g. ``optax.sgd`` or
            ``lambda learning_rate: optax.adam(learning_rate, b1=0.9)``.
        min_lr: :math:`\eta_{\min} > 0`.
        max_lr: :math:`\eta_{\max} > \eta_{\min}`.
        num_steps: :math:`N \ge 2`.
        mode: ``"exponential"`` (default) or ``"linear"``.
        smooth: :math:`\beta \in [0, 1)`; 0 means no smoothing.
        diverge_threshold: :math:`\kappa > 1`.
        single_batch: reuse ``data`` as one batch at every step.
        key: a ``jax.random.key`` to shuffle the order of the batches; ``None``: in order.
        skip_start: recorded steps ignored at the start when suggesting; default
            ``num_steps // 10``.
        skip_end: recorded steps ignored at the end when suggesting (default 5).

    Returns:
        An :class:`LRRangeTestResult` with ``lrs``, ``losses``, ``smoothed_losses``,
        ``suggested_lr``, ``num_recorded`` and a ``plot(ax=None)`` method.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim as jo
        >>> x = jax.random.normal(jax.random.key(0), (20, 32, 3))  # 20 batches of 32
        >>> y = x @ jnp.array([1.0, -2.0, 0.5])
        >>> loss = lambda w, batch: jnp.mean((batch[0] @ w - batch[1]) ** 2)
        >>> result = jo.lr_range_test(loss, jnp.zeros(3), (x, y), optax.sgd,
        ...                           min_lr=1e-4, max_lr=10.0, num_steps=60)
        >>> 1e-3 < result.suggested_lr < 1.0
        True
        >>> fig = result.plot()  # doctest: +SKIP

    References:
        Smith, `Cyclical Learning Rates for Training Neural Networks
        <https://arxiv.org/abs/1506.01186>`_, 2017 (Section 3.3); Howard & Gugger,
        `fastai: A Layered API for Deep Learning <https://arxiv.org/abs/2002.04688>`_, 2020.
    """
    where = "jnn.optim.lr_range_test"
    if not callable(loss_fn):
        raise TypeError(f"{where}: loss_fn must be a function (params, batch) -> scalar; "
                        f"got {type(loss_fn).__name__}.")
    number_in_range(where, "min_lr", min_lr, 0.0, low_inclusive=False)
    number_in_range(where, "max_lr", max_lr, 0.0, low_inclusive=False)
    if not float(max_lr) > float(min_lr):
        raise ValueError(f"{where}: max_lr must exceed min_lr; got {min_lr=}, {max_lr=}.")
    positive_int(where, "num_steps", num_steps)
    if num_steps < 2:
        raise ValueError(f"{where}: num_steps must be at least 2; got {num_steps}.")
    if mode not in _MODES:
        raise ValueError(f"{where}: mode must be one of {_MODES}; got {mode!r}.")
    number_in_range(where, "smooth", smooth, 0.0, 1.0, high_inclusive=False)
    number_in_range(where, "diverge_threshold", diverge_threshold, 1.0, low_inclusive=False)
    skip_start = num_steps // 10 if skip_start is None else skip_start
    for name, value in (("skip_start", skip_start), ("skip_end", skip_end)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where}: {name} must be a non-negative integer; got {value!r}.")
    num_batches = _check_data(where, data, single_batch)

    try:
        tx = optimizer_factory(learning_rate=min_lr)
    except TypeError as err:
        raise TypeError(
            f"{where}: optimizer_factory must accept the keyword learning_rate; calling "
            f"optimizer_factory(learning_rate={min_lr}) failed with: {err}. Wrap it, e.g. "
            "optimizer_factory=lambda learning_rate: optax.sgd(learning_rate, momentum=0.9)."
        ) from None
    if not isinstance(tx, optax.GradientTransformation):
        raise TypeError(
            f"{where}: optimizer_factory must return an optax.GradientTransformation; got "
            f"{type(tx).__name__}."
        )

    first_batch = data if single_batch else jax.tree.map(lambda x: x[0], data)
    out = jax.eval_shape(loss_fn, params, first_batch)
    if not hasattr(out, "shape") or out.shape != () or not jnp.issubdtype(out.dtype,
                                                                         jnp.floating):
        raise ValueError(
            f"{where}: loss_fn(params, batch) must return a floating scalar; got "
            f"{jax.tree.map(lambda s: (s.shape, s.dtype), out)}. Reduce it, e.g. with jnp.mean."
        )

    tx = optax.inject_hyperparams(optimizer_factory)(learning_rate=min_lr)
    opt_state = tx.init(params)
    lr_dtype = opt_state.hyperparams["learning_rate"].dtype
    lrs = jnp.asarray(range_test_lrs(min_lr, max_lr, num_steps, mode), dtype=lr_dtype)

    if num_batches is None:
        order = jnp.zeros(num_steps, jnp.int32)
    elif key is None:
        order = jnp.arange(num_steps, dtype=jnp.int32) % num_batches
    else:
        passes = -(-num_steps // num_batches)
        keys = jax.random.split(key, passes)
        perms = jax.vmap(lambda k: jax.random.permutation(k, num_batches))(keys)
        order = perms.reshape(-1)[:num_steps].astype(jnp.int32)

    loss_dtype = out.dtype
    nan = jnp.asarray(jnp.nan, loss_dtype)

    def step(carry, inputs):
        lr, index = inputs

        def run(carry):
            params, opt_state, avg, best, _, t = carry
            batch = data if num_batches is None else jax.tree.map(lambda x: x[index], data)
            loss, grads = jax.value_and_grad(loss_fn)(params, batch)
            hyper = {**opt_state.hyperparams, "learning_rate": lr}
            updates, opt_state = tx.update(grads, opt_state._replace(hyperparams=hyper), params)
            params = optax.apply_updates(params, updates)
            avg = smooth * avg + (1 - smooth) * loss
            smoothed = avg / (1 - jnp.asarray(smooth, loss_dtype) ** (t + 1))
            diverged = ~jnp.isfinite(smoothed) | (
                smoothed > best + (diverge_threshold - 1) * jnp.abs(best)
            )
            best = jnp.minimum(best, smoothed)
            return (params, opt_state, avg, best, diverged, t + 1), (loss, smoothed)

        def skip(carry):
            return carry, (nan, nan)

        return jax.lax.cond(carry[4], skip, run, carry)

    @jax.jit
    def scan(params, opt_state, lrs, order):
        init = (params, opt_state, jnp.zeros((), loss_dtype), jnp.asarray(jnp.inf, loss_dtype),
                jnp.asarray(False), jnp.asarray(0, jnp.int32))
        final, (losses, smoothed) = jax.lax.scan(step, init, (lrs, order))
        return losses, smoothed, final[5]

    losses, smoothed, recorded = scan(params, opt_state, lrs, order)
    recorded = int(recorded)
    suggested = steepest_descent_lr(np.asarray(lrs), np.asarray(smoothed), recorded,
                                    skip_start, skip_end)
    return LRRangeTestResult(lrs, losses, smoothed, suggested, recorded)
