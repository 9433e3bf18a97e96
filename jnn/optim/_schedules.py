"""Learning-rate schedules: plain functions ``step -> learning rate``.

Every schedule here is a pure, jit-compatible function of the step count, so it can be
passed wherever optax accepts a learning rate (``optax.sgd(schedule)``,
``optax.inject_hyperparams``, ``optax.scale_by_schedule``). Arguments are checked when
the schedule is built, never when it is called.

Where optax already has a correct schedule, jnn validates the arguments (optax silently
turns, say, ``transition_steps=0`` into a constant) and then returns optax's own function;
the docstring says so. Schedules optax lacks (step decay, piecewise constant by values,
cosine with warm restarts and ``T_mult``, the cyclical family) are written here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn._checks import is_concrete_number, number_in_range, positive_int

Schedule = Callable[[jax.typing.ArrayLike], jax.Array]

_CYCLICAL_MODES = ("triangular", "triangular2", "exp_range")


# ----------------------------------------------------------------------------- checks


def _rate(where: str, name: str, value: Any) -> Any:
    """A learning-rate value: a finite number >= 0 (tracers pass through unchecked)."""
    number_in_range(where, name, value, 0.0, fix="Learning rates cannot be negative.")
    if is_concrete_number(value) and not math.isfinite(float(value)):
        raise ValueError(f"{where}: {name} must be finite; got {value!r}.")
    return value


def _count(where: str, name: str, value: Any) -> int:
    """A step count >= 0 (a Python or numpy integer)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{where}: {name} must be a non-negative integer number of steps; got {value!r} "
            f"(type {type(value).__name__})."
        )
    if value < 0:
        raise ValueError(
            f"{where}: {name} must be a non-negative integer number of steps; got {value!r}."
        )
    return int(value)


def _fraction(where: str, name: str, value: Any) -> float:
    number_in_range(where, name, value, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    return float(value)


# ------------------------------------------------------------- validated optax schedules


def constant_schedule(value: jax.typing.ArrayLike) -> Schedule:
    r"""Constant learning rate (course H2).

    .. math::
        \alpha^{[t]} = \alpha \quad \forall t

    Validates ``value`` and returns :func:`optax.constant_schedule`, which is correct.

    Args:
        value: the learning rate, ``>= 0``.

    Returns:
        A schedule ``step -> value``.

    Example:
        >>> import jnn.optim as jo
        >>> float(jo.constant_schedule(0.1)(1000))
        0.1
    """
    _rate("jnn.optim.constant_schedule", "value", value)
    return optax.constant_schedule(value)


def exponential_decay(
    init_value: jax.typing.ArrayLike,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: jax.typing.ArrayLike | None = None,
) -> Schedule:
    r"""Exponential decay ("exponential cooling", course H3).

    .. math::
        \eta_t = \eta_0 \, \gamma^{(t - B)/T} \quad (t \ge B), \qquad \eta_t = \eta_0 \quad (t < B)

    with :math:`\gamma` = ``decay_rate``, :math:`T` = ``transition_steps`` and :math:`B` =
    ``transition_begin``; ``staircase=True`` floors the exponent, so the rate drops by
    :math:`\gamma` every :math:`T` steps. With ``transition_steps=1`` this is the familiar
    :math:`\eta_t = \eta_0 \gamma^t`. (The course slide writes :math:`\eta = \eta_0^t`, a
    typo for :math:`\eta_0 \gamma^t`.) ``end_value`` bounds the decay from below
    (from above when :math:`\gamma > 1`).

    Same signature as :func:`optax.exponential_decay`; jnn checks the arguments (optax
    quietly returns a constant for ``transition_steps <= 0`` or ``decay_rate == 0``) and
    then returns optax's function, which computes exactly the formula above.

    Args:
        init_value: :math:`\eta_0 \ge 0`.
        transition_steps: :math:`T \ge 1`.
        decay_rate: :math:`\gamma > 0`.
        transition_begin: :math:`B \ge 0`, steps held at ``init_value`` first.
        staircase: decay in discrete jumps every ``transition_steps`` steps.
        end_value: optional bound, ``>= 0``.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.exponential_decay(1.0, transition_steps=1, decay_rate=0.5)
        >>> [round(float(sched(t)), 4) for t in range(4)]
        [1.0, 0.5, 0.25, 0.125]
    """
    where = "jnn.optim.exponential_decay"
    _rate(where, "init_value", init_value)
    positive_int(where, "transition_steps", transition_steps)
    number_in_range(
        where, "decay_rate", decay_rate, 0.0, low_inclusive=False,
        fix="Use 0 < decay_rate < 1 to decay, > 1 to grow.",
    )
    _count(where, "transition_begin", transition_begin)
    if end_value is not None:
        _rate(where, "end_value", end_value)
    return optax.exponential_decay(
        init_value, transition_steps, decay_rate, transition_begin, staircase, end_value
    )


def polynomial_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    power: jax.typing.ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    r"""Polynomial decay from ``init_value`` to ``end_value``.

    .. math::
        \eta_t = (\eta_0 - \eta_\tau)\left(1 - \frac{\min(\max(t - B, 0), \tau)}{\tau}\right)^p
                 + \eta_\tau

    Validates the arguments and returns :func:`optax.polynomial_schedule` (correct; optax
    alone would silently give a constant for ``transition_steps <= 0``).

    Args:
        init_value: :math:`\eta_0 \ge 0`.
        end_value: :math:`\eta_\tau \ge 0`.
        power: :math:`p > 0`.
        transition_steps: :math:`\tau \ge 1`.
        transition_begin: :math:`B \ge 0`.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.polynomial_schedule(1.0, 0.0, power=2, transition_steps=10)
        >>> round(float(sched(5)), 4)
        0.25
    """
    where = "jnn.optim.polynomial_schedule"
    _rate(where, "init_value", init_value)
    _rate(where, "end_value", end_value)
    number_in_range(where, "power", power, 0.0, low_inclusive=False)
    positive_int(where, "transition_steps", transition_steps)
    _count(where, "transition_begin", transition_begin)
    return optax.polynomial_schedule(
        init_value, end_value, power, transition_steps, transition_begin
    )


def linear_schedule(
    init_value: jax.typing.ArrayLike,
    end_value: jax.typing.ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    r"""Linear decay (or warm-up) to a final rate, then constant (course H5).

    .. math::
        \alpha^{[t]} = \left(1 - \frac{t}{\tau}\right)\alpha^{[0]} + \frac{t}{\tau}\,\alpha^{[\tau]}
        \quad (t \le \tau), \qquad \alpha^{[t]} = \alpha^{[\tau]} \quad (t > \tau)

    that is :math:`\alpha^{[0]} + t(\alpha^{[\tau]} - \alpha^{[0]})/\tau` (the slide's
    expanded form has a sign error). ``transition_begin`` = :math:`B` delays the start
    (:math:`t` is then counted from :math:`B`). Decaying linearly matters for SGD because
    the minibatch gradient noise does not vanish at the minimum.

    Validates the arguments and returns :func:`optax.linear_schedule`, which computes this.

    Args:
        init_value: :math:`\alpha^{[0]} \ge 0`.
        end_value: :math:`\alpha^{[\tau]} \ge 0` (may exceed ``init_value`` for a warm-up).
        transition_steps: :math:`\tau \ge 1`.
        transition_begin: :math:`B \ge 0`.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.linear_schedule(0.1, 0.01, transition_steps=4)
        >>> [round(float(sched(t)), 4) for t in range(6)]
        [0.1, 0.0775, 0.055, 0.0325, 0.01, 0.01]
    """
    where = "jnn.optim.linear_schedule"
    _rate(where, "init_value", init_value)
    _rate(where, "end_value", end_value)
    positive_int(where, "transition_steps", transition_steps)
    _count(where, "transition_begin", transition_begin)
    return optax.linear_schedule(init_value, end_value, transition_steps, transition_begin)


def cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    decay_steps: int,
    alpha: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    r"""Cosine annealing from ``init_value`` to ``alpha * init_value``.

    .. math::
        \eta_t = \eta_0\left[\alpha + (1 - \alpha)\left(\tfrac12\left(1 + \cos\frac{\pi
        \min(t, T)}{T}\right)\right)^p\right]

    Validates the arguments and returns :func:`optax.cosine_decay_schedule` (correct).

    Args:
        init_value: :math:`\eta_0 \ge 0`.
        decay_steps: :math:`T \ge 1`.
        alpha: final fraction of ``init_value``, in ``[0, 1]``.
        exponent: :math:`p > 0`.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.cosine_decay_schedule(1.0, decay_steps=100)
        >>> round(float(sched(50)), 4)
        0.5

    References:
        Loshchilov & Hutter, `SGDR: Stochastic Gradient Descent with Warm Restarts
        <https://arxiv.org/abs/1608.03983>`_, 2016.
    """
    where = "jnn.optim.cosine_decay_schedule"
    _rate(where, "init_value", init_value)
    positive_int(where, "decay_steps", decay_steps)
    number_in_range(where, "alpha", alpha, 0.0, 1.0)
    number_in_range(where, "exponent", exponent, 0.0, low_inclusive=False)
    return optax.cosine_decay_schedule(init_value, decay_steps, alpha, exponent)


def warmup_cosine_decay_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    warmup_steps: int,
    decay_steps: int,
    end_value: jax.typing.ArrayLike = 0.0,
    exponent: jax.typing.ArrayLike = 1.0,
) -> Schedule:
    r"""Linear warm-up to ``peak_value``, then cosine decay to ``end_value``.

    .. math::
        \eta_t = \begin{cases}
          \eta_{\text{init}} + (\eta_{\text{peak}} - \eta_{\text{init}})\, t / W, & t < W \\
          \eta_{\text{end}} + (\eta_{\text{peak}} - \eta_{\text{end}})
            \left[\tfrac12\left(1 + \cos\frac{\pi \min(t - W,\, T - W)}{T - W}\right)\right]^p,
            & t \ge W
        \end{cases}

    with :math:`W` = ``warmup_steps`` and :math:`T` = ``decay_steps`` (the total length,
    warm-up included). Validates the arguments (``decay_steps`` must exceed
    ``warmup_steps``) and returns :func:`optax.warmup_cosine_decay_schedule` (correct).

    Args:
        init_value: rate at step 0, ``>= 0``.
        peak_value: rate at the end of the warm-up, ``>= 0``.
        warmup_steps: :math:`W \ge 0` (0: no warm-up).
        decay_steps: :math:`T > W`.
        end_value: final rate, ``>= 0``.
        exponent: :math:`p > 0`.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110)
        >>> [round(float(sched(t)), 4) for t in (0, 5, 10, 60, 110)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    where = "jnn.optim.warmup_cosine_decay_schedule"
    _rate(where, "init_value", init_value)
    _rate(where, "peak_value", peak_value)
    _rate(where, "end_value", end_value)
    _count(where, "warmup_steps", warmup_steps)
    positive_int(where, "decay_steps", decay_steps)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"{where}: decay_steps is the total length including the warm-up, so it must "
            f"exceed warmup_steps; got {decay_steps=}, {warmup_steps=}. "
            f"Did you mean decay_steps={warmup_steps + decay_steps}?"
        )
    number_in_range(where, "exponent", exponent, 0.0, low_inclusive=False)
    return optax.warmup_cosine_decay_schedule(
        init_value, peak_value, warmup_steps, decay_steps, end_value, exponent
    )


def _onecycle_checks(
    where: str, transition_steps: Any, peak_value: Any, div_factor: Any, final_div_factor: Any
) -> None:
    positive_int(where, "transition_steps", transition_steps)
    _rate(where, "peak_value", peak_value)
    number_in_range(where, "div_factor", div_factor, 0.0, low_inclusive=False)
    number_in_range(where, "final_div_factor", final_div_factor, 0.0, low_inclusive=False)


def _phase_boundary(where: str, name: str, pct: float, transition_steps: int) -> int:
    boundary = int(pct * transition_steps)
    if boundary < 1:
        raise ValueError(
            f"{where}: {name} * transition_steps = {pct} * {transition_steps} rounds down to "
            f"step {boundary}, leaving that phase empty; use more transition_steps or a "
            f"larger {name}."
        )
    return boundary


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: jax.typing.ArrayLike,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    r"""One-cycle policy with cosine phases (Smith & Topin; the fastai/PyTorch default).

    .. math::
        \eta_t = \begin{cases}
          \mathrm{cos\_interp}(\eta_{\max}/d,\ \eta_{\max},\ t / S), & t < S \\
          \mathrm{cos\_interp}(\eta_{\max},\ \eta_{\max}/(d\,d_f),\ (t - S)/(T - S)),
            & S \le t < T \\
          \eta_{\max}/(d\,d_f), & t \ge T
        \end{cases}

    with :math:`\mathrm{cos\_interp}(a, b, x) = b + \tfrac{a - b}{2}(1 + \cos\pi x)`,
    :math:`S = \lfloor p_{\text{start}} T \rfloor`, :math:`d` = ``div_factor`` and
    :math:`d_f` = ``final_div_factor``. Validates the arguments (both phases must be
    non-empty) and returns :func:`optax.cosine_onecycle_schedule` (correct).

    Args:
        transition_steps: :math:`T \ge 1`, the whole cycle.
        peak_value: :math:`\eta_{\max} \ge 0`.
        pct_start: fraction of the cycle spent rising, in ``(0, 1)``.
        div_factor: start rate is ``peak_value / div_factor``.
        final_div_factor: final rate is ``peak_value / (div_factor * final_div_factor)``.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.cosine_onecycle_schedule(100, peak_value=1.0, pct_start=0.3)
        >>> [round(float(sched(t)), 4) for t in (0, 30)]
        [0.04, 1.0]

    References:
        Smith & Topin, `Super-Convergence: Very Fast Training of Neural Networks Using
        Large Learning Rates <https://arxiv.org/abs/1708.07120>`_, 2017.
    """
    where = "jnn.optim.cosine_onecycle_schedule"
    _onecycle_checks(where, transition_steps, peak_value, div_factor, final_div_factor)
    _fraction(where, "pct_start", pct_start)
    start = _phase_boundary(where, "pct_start", pct_start, transition_steps)
    if start >= transition_steps:
        raise ValueError(
            f"{where}: pct_start={pct_start} leaves no decreasing phase in "
            f"{transition_steps} steps; lower pct_start."
        )
    return optax.cosine_onecycle_schedule(
        transition_steps, peak_value, pct_start, div_factor, final_div_factor
    )


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: jax.typing.ArrayLike,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    r"""One-cycle policy with linear phases (Smith 2018's original form).

    Three linear pieces: up from :math:`\eta_{\max}/d` to :math:`\eta_{\max}` over
    ``[0, S)``, back down to :math:`\eta_{\max}/d` over ``[S, F)``, then "annihilation"
    down to :math:`\eta_{\max}/(d\,d_f)` over ``[F, T)``, constant afterwards, where
    :math:`S = \lfloor p_{\text{start}} T\rfloor` and :math:`F = \lfloor p_{\text{final}}
    T\rfloor`:

    .. math::
        \eta_t = a_k + (a_{k+1} - a_k)\,\frac{t - b_k}{b_{k+1} - b_k}
        \quad (b_k \le t < b_{k+1})

    with knots :math:`b = (0, S, F, T)` and values :math:`a = (\eta_{\max}/d,\ \eta_{\max},\
    \eta_{\max}/d,\ \eta_{\max}/(d\,d_f))`. Validates the arguments (all three phases must be
    non-empty) and returns :func:`optax.linear_onecycle_schedule` (correct).

    Args:
        transition_steps: :math:`T \ge 1`.
        peak_value: :math:`\eta_{\max} \ge 0`.
        pct_start: end of the rising phase as a fraction of ``T``, in ``(0, 1)``.
        pct_final: end of the falling phase as a fraction of ``T``, in ``(pct_start, 1)``.
        div_factor: :math:`d > 0`.
        final_div_factor: :math:`d_f > 0`.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.linear_onecycle_schedule(100, peak_value=1.0)
        >>> [round(float(sched(t)), 4) for t in (0, 15, 30, 85)]
        [0.04, 0.52, 1.0, 0.04]

    References:
        Smith, `A disciplined approach to neural network hyper-parameters: Part 1
        <https://arxiv.org/abs/1803.09820>`_, 2018.
    """
    where = "jnn.optim.linear_onecycle_schedule"
    _onecycle_checks(where, transition_steps, peak_value, div_factor, final_div_factor)
    _fraction(where, "pct_start", pct_start)
    _fraction(where, "pct_final", pct_final)
    start = _phase_boundary(where, "pct_start", pct_start, transition_steps)
    final = int(pct_final * transition_steps)
    if not start < final < transition_steps:
        raise ValueError(
            f"{where}: the phase boundaries must satisfy 0 < int(pct_start*T) < "
            f"int(pct_final*T) < T; got {start}, {final}, T={transition_steps} from "
            f"{pct_start=}, {pct_final=}. Use pct_start < pct_final < 1 and more steps."
        )
    return optax.linear_onecycle_schedule(
        transition_steps, peak_value, pct_start, pct_final, div_factor, final_div_factor
    )


# --------------------------------------------------------------- schedules written here


def step_decay(init_value: jax.typing.ArrayLike, factor: float, every: int) -> Schedule:
    r"""Step decay: multiply the rate by ``factor`` every ``every`` steps (course H4).

    .. math::
        \eta_t = \eta_0 \, f^{\lfloor t / k \rfloor}

    Equals ``optax.exponential_decay(init_value, every, factor, staircase=True)``; this
    is the name and argument order the course uses.

    Args:
        init_value: :math:`\eta_0 \ge 0`.
        factor: :math:`f \in (0, 1]`, e.g. ``0.1``.
        every: :math:`k \ge 1` steps between drops.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.step_decay(1.0, factor=0.1, every=30)
        >>> [round(float(sched(t)), 4) for t in (0, 29, 30, 60)]
        [1.0, 1.0, 0.1, 0.01]
    """
    where = "jnn.optim.step_decay"
    _rate(where, "init_value", init_value)
    number_in_range(
        where, "factor", factor, 0.0, 1.0, low_inclusive=False,
        fix="It multiplies the rate at each drop, e.g. factor=0.1; the call is "
        "step_decay(init_value, factor, every).",
    )
    positive_int(where, "every", every, fix="It is the number of steps between drops.")

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        drops = jnp.floor_divide(count, every)
        return init_value * jnp.power(jnp.asarray(factor, dtype=float), drops)

    return schedule


def piecewise_constant(
    boundaries: Sequence[int], values: Sequence[jax.typing.ArrayLike]
) -> Schedule:
    r"""Piecewise-constant rate given by its values between step boundaries.

    .. math::
        \eta_t = v_i \quad \text{where } i = \#\{\, j : b_j \le t \,\}

    so ``values[0]`` holds before ``boundaries[0]``, ``values[1]`` from ``boundaries[0]``
    up to ``boundaries[1]``, and ``values[-1]`` from ``boundaries[-1]`` on. Optax's
    :func:`optax.piecewise_constant_schedule` takes multiplicative scales instead; the two
    agree when ``values`` are the running products of the scales.

    Args:
        boundaries: strictly increasing step counts ``>= 1``.
        values: ``len(boundaries) + 1`` rates ``>= 0``.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.piecewise_constant([100, 150], [0.1, 0.01, 0.001])
        >>> [round(float(sched(t)), 4) for t in (0, 99, 100, 150)]
        [0.1, 0.1, 0.01, 0.001]
    """
    where = "jnn.optim.piecewise_constant"
    boundaries = [_count(where, f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
    values = list(values)
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            f"{where}: values needs one more entry than boundaries (a rate before the first "
            f"boundary and one after each); got {len(boundaries)} boundaries and "
            f"{len(values)} values."
        )
    for i, v in enumerate(values):
        _rate(where, f"values[{i}]", v)
    if boundaries and boundaries[0] < 1:
        raise ValueError(f"{where}: boundaries must be >= 1; got {boundaries}.")
    if any(b1 <= b0 for b0, b1 in zip(boundaries, boundaries[1:])):
        raise ValueError(f"{where}: boundaries must be strictly increasing; got {boundaries}.")
    bounds = np.asarray(boundaries, dtype=np.int64)
    table = jnp.asarray(values, dtype=float)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        index = jnp.searchsorted(jnp.asarray(bounds, dtype=jnp.asarray(count).dtype), count,
                                 side="right")
        return table[index]

    return schedule


def cosine_warm_restarts(
    init_value: jax.typing.ArrayLike,
    period: int,
    t_mult: int = 1,
    min_value: jax.typing.ArrayLike = 0.0,
) -> Schedule:
    r"""Cosine annealing with warm restarts (SGDR), cycles growing by ``t_mult``.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12(\eta_{\max} - \eta_{\min})
                 \left(1 + \cos\left(\pi\,\frac{T_{cur}}{T_i}\right)\right)

    where cycle :math:`i` lasts :math:`T_i = T_0\,T_{mult}^{\,i}` steps and
    :math:`T_{cur}` counts steps since the last restart; at each restart the rate jumps
    back to :math:`\eta_{\max}`. Cycles go on forever. (:func:`optax.sgdr_schedule` needs
    every cycle listed by hand; this is the paper's :math:`T_0, T_{mult}` form.)

    Args:
        init_value: :math:`\eta_{\max} \ge 0`.
        period: :math:`T_0 \ge 1`, length of the first cycle.
        t_mult: :math:`T_{mult} \ge 1` (integer), growth factor of the cycle length.
        min_value: :math:`\eta_{\min}`, in ``[0, init_value]``.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.cosine_warm_restarts(1.0, period=10, t_mult=2)
        >>> [round(float(sched(t)), 4) for t in (0, 5, 10, 20, 30)]
        [1.0, 0.5, 1.0, 0.5, 1.0]

    References:
        Loshchilov & Hutter, `SGDR: Stochastic Gradient Descent with Warm Restarts
        <https://arxiv.org/abs/1608.03983>`_, 2016.
    """
    where = "jnn.optim.cosine_warm_restarts"
    _rate(where, "init_value", init_value)
    _rate(where, "min_value", min_value)
    positive_int(where, "period", period)
    positive_int(where, "t_mult", t_mult, fix="Use t_mult=1 for cycles of equal length.")
    if (
        is_concrete_number(init_value)
        and is_concrete_number(min_value)
        and float(min_value) > float(init_value)
    ):
        raise ValueError(
            f"{where}: min_value must not exceed init_value; got {min_value=}, {init_value=}."
        )
    if t_mult > 1:
        # Restart steps T_0 (m^i - 1)/(m - 1), exact in integers, up to the int32 range a
        # step counter can reach; the cycle index is then a search, with no float log.
        starts, lengths = [0], [period]
        while starts[-1] + lengths[-1] < 2**31 - 1:
            starts.append(starts[-1] + lengths[-1])
            lengths.append(lengths[-1] * t_mult)
        starts_np = np.asarray(starts, dtype=np.int64)
        lengths_np = np.asarray(lengths, dtype=np.float64)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        if t_mult == 1:
            t_cur = jnp.remainder(count, period)
            length = period
        else:
            cycle = jnp.searchsorted(starts_np.astype(count.dtype), count, side="right") - 1
            t_cur = count - jnp.asarray(starts_np.astype(count.dtype))[cycle]
            length = jnp.asarray(lengths_np, dtype=float)[cycle]
        cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * t_cur / length))
        return min_value + (init_value - min_value) * cosine

    return schedule


def cyclical_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    step_size: int,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    r"""Cyclical learning rate (CLR): a triangle wave between two bounds (course H6).

    In Smith's notation (``base_lr`` = ``init_value``, ``max_lr`` = ``peak_value``,
    ``stepsize`` = ``step_size``, half a cycle):

    .. math::
        \mathrm{cycle} &= \lfloor 1 + t / (2\,\mathrm{stepsize}) \rfloor \\
        x &= |t / \mathrm{stepsize} - 2\,\mathrm{cycle} + 1| \\
        \eta_t &= \mathrm{base\_lr} + (\mathrm{max\_lr} - \mathrm{base\_lr})
                  \max(0, 1 - x)\, s_t

    with amplitude scale :math:`s_t = 1` (``"triangular"``), :math:`s_t = 2^{-(\mathrm{cycle}
    - 1)}` (``"triangular2"``: the range is halved every cycle) or :math:`s_t = \gamma^t`
    (``"exp_range"``). Not in optax.

    Args:
        init_value: lower bound ``base_lr >= 0``.
        peak_value: upper bound ``max_lr >= init_value``.
        step_size: steps in half a cycle, ``>= 1`` (Smith: 2 to 10 epochs' worth).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: per-step amplitude decay for ``"exp_range"``, in ``(0, 1]``; must stay
            ``1.0`` for the other modes.

    Returns:
        A schedule ``step -> learning rate``.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.cyclical_schedule(0.1, 1.0, step_size=4, mode="triangular2")
        >>> [round(float(sched(t)), 4) for t in (0, 2, 4, 8, 12, 16)]
        [0.1, 0.55, 1.0, 0.1, 0.55, 0.1]

    References:
        Smith, `Cyclical Learning Rates for Training Neural Networks
        <https://arxiv.org/abs/1506.01186>`_, 2017.
    """
    where = "jnn.optim.cyclical_schedule"
    _rate(where, "init_value", init_value)
    _rate(where, "peak_value", peak_value)
    if (
        is_concrete_number(init_value)
        and is_concrete_number(peak_value)
        and float(peak_value) < float(init_value)
    ):
        raise ValueError(
            f"{where}: peak_value must be >= init_value; got {init_value=}, {peak_value=}."
        )
    positive_int(where, "step_size", step_size, fix="It is half a cycle, in steps.")
    if mode not in _CYCLICAL_MODES:
        raise ValueError(f"{where}: mode must be one of {_CYCLICAL_MODES}; got {mode!r}.")
    number_in_range(where, "gamma", gamma, 0.0, 1.0, low_inclusive=False)
    if mode != "exp_range" and gamma != 1.0:
        raise ValueError(
            f"{where}: gamma only applies to mode='exp_range'; got {gamma=} with {mode=}."
        )

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = jnp.asarray(count, dtype=float)
        cycle = jnp.floor(t / (2 * step_size))  # zero-based: Smith's cycle - 1
        x = jnp.abs(t / step_size - 2 * cycle - 1)
        if mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = jnp.power(0.5, cycle)
        else:
            scale = jnp.power(jnp.asarray(gamma, dtype=float), t)
        return init_value + (peak_value - init_value) * jnp.maximum(0.0, 1.0 - x) * scale

    return schedule


def triangular_schedule(
    init_value: jax.typing.ArrayLike, peak_value: jax.typing.ArrayLike, step_size: int
) -> Schedule:
    r"""Cyclical rate, ``"triangular"`` policy: a constant-amplitude triangle wave.

    .. math::
        \eta_t = \mathrm{base\_lr} + (\mathrm{max\_lr} - \mathrm{base\_lr})\max(0, 1 - x)

    with :math:`x` as in :func:`cyclical_schedule`, which this calls.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.triangular_schedule(0.0, 1.0, step_size=2)
        >>> [round(float(sched(t)), 4) for t in range(5)]
        [0.0, 0.5, 1.0, 0.5, 0.0]

    References:
        Smith, `Cyclical Learning Rates for Training Neural Networks
        <https://arxiv.org/abs/1506.01186>`_, 2017.
    """
    return cyclical_schedule(init_value, peak_value, step_size, "triangular")


def triangular2_schedule(
    init_value: jax.typing.ArrayLike, peak_value: jax.typing.ArrayLike, step_size: int
) -> Schedule:
    r"""Cyclical rate, ``"triangular2"`` policy: the amplitude halves every cycle.

    .. math::
        \eta_t = \mathrm{base\_lr} + (\mathrm{max\_lr} - \mathrm{base\_lr})\max(0, 1 - x)
                 \,/\, 2^{\mathrm{cycle} - 1}

    with :math:`x` and :math:`\mathrm{cycle}` as in :func:`cyclical_schedule`.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.triangular2_schedule(0.0, 1.0, step_size=2)
        >>> [round(float(sched(t)), 4) for t in (2, 6, 10)]
        [1.0, 0.5, 0.25]

    References:
        Smith, `Cyclical Learning Rates for Training Neural Networks
        <https://arxiv.org/abs/1506.01186>`_, 2017.
    """
    return cyclical_schedule(init_value, peak_value, step_size, "triangular2")


def exp_range_schedule(
    init_value: jax.typing.ArrayLike,
    peak_value: jax.typing.ArrayLike,
    step_size: int,
    gamma: float,
) -> Schedule:
    r"""Cyclical rate, ``"exp_range"`` policy: the amplitude decays as :math:`\gamma^t`.

    .. math::
        \eta_t = \mathrm{base\_lr} + (\mathrm{max\_lr} - \mathrm{base\_lr})\max(0, 1 - x)
                 \,\gamma^t

    with :math:`x` as in :func:`cyclical_schedule` and :math:`t` the step count.

    Example:
        >>> import jnn.optim as jo
        >>> sched = jo.exp_range_schedule(0.0, 1.0, step_size=2, gamma=0.5)
        >>> [round(float(sched(t)), 4) for t in (1, 2, 3)]
        [0.25, 0.25, 0.0625]

    References:
        Smith, `Cyclical Learning Rates for Training Neural Networks
        <https://arxiv.org/abs/1506.01186>`_, 2017.
    """
    return cyclical_schedule(init_value, peak_value, step_size, "exp_range", gamma)
