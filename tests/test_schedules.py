"""Schedules: point by point against closed forms written independently in numpy."""

import doctest
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.optim import _schedules as S

STEPS = np.arange(0, 260)


# ------------------------------------------------------------ numpy references (float64)


def np_exponential(t, init, T, rate, begin=0, staircase=False, end=None):
    p = np.maximum(t - begin, 0) / T
    if staircase:
        p = np.floor(p)
    out = init * rate**p
    if end is not None:
        out = np.maximum(out, end) if rate < 1 else np.minimum(out, end)
    return out


def np_polynomial(t, init, end, power, T, begin=0):
    s = np.clip(t - begin, 0, T)
    return (init - end) * (1 - s / T) ** power + end


def np_linear_course(t, a0, a_tau, tau):
    """Course H5: (1 - t/tau) a0 + (t/tau) a_tau for t <= tau, then a_tau."""
    t = np.asarray(t, dtype=float)
    return np.where(t <= tau, (1 - t / tau) * a0 + (t / tau) * a_tau, a_tau)


def np_cosine(t, init, T, alpha=0.0, p=1.0):
    s = np.minimum(t, T)
    return init * (alpha + (1 - alpha) * (0.5 * (1 + np.cos(np.pi * s / T))) ** p)


def np_warmup_cosine(t, init, peak, W, T, end=0.0, p=1.0):
    out = []
    for ti in t:
        if ti < W:
            out.append(init + (peak - init) * ti / W)
        else:
            s = min(ti - W, T - W)
            out.append(end + (peak - end) * (0.5 * (1 + math.cos(math.pi * s / (T - W)))) ** p)
    return np.array(out)


def np_cos_interp(a, b, x):
    return b + (a - b) / 2 * (1 + np.cos(np.pi * x))


def np_cosine_onecycle(t, T, peak, pct_start=0.3, div=25.0, final_div=1e4):
    S_ = int(pct_start * T)
    lo, end = peak / div, peak / (div * final_div)
    out = []
    for ti in t:
        if ti < S_:
            out.append(np_cos_interp(lo, peak, ti / S_))
        elif ti < T:
            out.append(np_cos_interp(peak, end, (ti - S_) / (T - S_)))
        else:
            out.append(end)
    return np.array(out)


def np_linear_onecycle(t, T, peak, pct_start=0.3, pct_final=0.85, div=25.0, final_div=1e4):
    knots = [0, int(pct_start * T), int(pct_final * T), T]
    vals = [peak / div, peak, peak / div, peak / (div * final_div)]
    return np.interp(t, knots, vals)


def np_step_decay(t, init, factor, every):
    return init * factor ** (t // every)


def np_piecewise(t, boundaries, values):
    out = []
    for ti in t:
        i = 0
        while i < len(boundaries) and ti >= boundaries[i]:
            i += 1
        out.append(values[i])
    return np.array(out)


def np_sgdr(t, eta_max, T0, t_mult, eta_min=0.0):
    """Simulate SGDR step by step: T_cur counts up, restart when it reaches T_i."""
    out, t_cur, T_i = [], 0, T0
    for _ in range(int(np.max(t)) + 1):
        out.append(eta_min + 0.5 * (eta_max - eta_min) * (1 + math.cos(math.pi * t_cur / T_i)))
        t_cur += 1
        if t_cur == T_i:
            t_cur, T_i = 0, T_i * t_mult
    return np.array(out)[np.asarray(t)]


def np_clr(t, base, peak, stepsize, mode="triangular", gamma=1.0):
    """Smith 2017, Section 3.1, with the paper's 1-based cycle."""
    t = np.asarray(t, dtype=float)
    cycle = np.floor(1 + t / (2 * stepsize))
    x = np.abs(t / stepsize - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1), "exp_range": gamma**t}
    return base + (peak - base) * np.maximum(0, 1 - x) * scale[mode]


CASES = {
    "constant": (lambda: S.constant_schedule(0.3), lambda t: np.full(t.shape, 0.3)),
    "exponential": (
        lambda: S.exponential_decay(0.5, 1, 0.97),
        lambda t: np_exponential(t, 0.5, 1, 0.97),
    ),
    "exponential_staircase_begin_end": (
        lambda: S.exponential_decay(0.5, 20, 0.5, transition_begin=10, staircase=True,
                                    end_value=0.02),
        lambda t: np_exponential(t, 0.5, 20, 0.5, 10, True, 0.02),
    ),
    "polynomial": (
        lambda: S.polynomial_schedule(1.0, 0.1, 2.0, 150, transition_begin=20),
        lambda t: np_polynomial(t, 1.0, 0.1, 2.0, 150, 20),
    ),
    "linear_course_H5": (
        lambda: S.linear_schedule(0.1, 0.001, 100),
        lambda t: np_linear_course(t, 0.1, 0.001, 100),
    ),
    "linear_warmup": (
        lambda: S.linear_schedule(0.0, 1.0, 50),
        lambda t: np_linear_course(t, 0.0, 1.0, 50),
    ),
    "cosine": (
        lambda: S.cosine_decay_schedule(1.0, 200, alpha=0.1, exponent=1.5),
        lambda t: np_cosine(t, 1.0, 200, 0.1, 1.5),
    ),
    "warmup_cosine": (
        lambda: S.warmup_cosine_decay_schedule(0.01, 1.0, 30, 230, end_value=0.05),
        lambda t: np_warmup_cosine(t, 0.01, 1.0, 30, 230, 0.05),
    ),
    "cosine_onecycle": (
        lambda: S.cosine_onecycle_schedule(200, 1.0, pct_start=0.25),
        lambda t: np_cosine_onecycle(t, 200, 1.0, 0.25),
    ),
    "linear_onecycle": (
        lambda: S.linear_onecycle_schedule(200, 2.0),
        lambda t: np_linear_onecycle(t, 200, 2.0),
    ),
    "step_decay": (lambda: S.step_decay(1.0, 0.5, 30), lambda t: np_step_decay(t, 1.0, 0.5, 30)),
    "piecewise_constant": (
        lambda: S.piecewise_constant([1, 50, 51, 200], [1.0, 0.5, 0.2, 0.1, 0.0]),
        lambda t: np_piecewise(t, [1, 50, 51, 200], [1.0, 0.5, 0.2, 0.1, 0.0]),
    ),
    "sgdr_tmult1": (
        lambda: S.cosine_warm_restarts(1.0, 37, min_value=0.1),
        lambda t: np_sgdr(t, 1.0, 37, 1, 0.1),
    ),
    "sgdr_tmult2": (
        lambda: S.cosine_warm_restarts(1.0, 10, t_mult=2),
        lambda t: np_sgdr(t, 1.0, 10, 2),
    ),
    "sgdr_tmult3": (
        lambda: S.cosine_warm_restarts(0.5, 3, t_mult=3, min_value=0.01),
        lambda t: np_sgdr(t, 0.5, 3, 3, 0.01),
    ),
    "triangular": (
        lambda: S.triangular_schedule(0.01, 0.1, 20),
        lambda t: np_clr(t, 0.01, 0.1, 20),
    ),
    "triangular2": (
        lambda: S.triangular2_schedule(0.01, 0.1, 15),
        lambda t: np_clr(t, 0.01, 0.1, 15, "triangular2"),
    ),
    "exp_range": (
        lambda: S.exp_range_schedule(0.01, 0.1, 25, gamma=0.995),
        lambda t: np_clr(t, 0.01, 0.1, 25, "exp_range", 0.995),
    ),
}


JNN_WRITTEN = {"step_decay", "piecewise_constant", "sgdr_tmult1", "sgdr_tmult2", "triangular",
               "triangular2", "exp_range"}


@pytest.fixture(scope="module")
def compiled_values():
    """Every schedule, vectorized over STEPS, in one compiled program (one compile)."""
    schedules = {name: make() for name, (make, _) in CASES.items()}
    run = jax.jit(lambda t: {name: jax.vmap(f)(t) for name, f in schedules.items()})
    return jax.device_get(run(jnp.asarray(STEPS)))


@pytest.mark.parametrize("name", list(CASES))
def test_schedule_matches_closed_form(name, compiled_values):
    make, reference = CASES[name]
    expected = reference(STEPS)
    # Compiled and vectorized over many steps, cycle boundaries included ...
    got = np.asarray(compiled_values[name], dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-7)
    # ... and, for the schedules written in jnn, called eagerly with a Python int.
    if name in JNN_WRITTEN:
        np.testing.assert_allclose(float(make()(30)), expected[30], rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["triangular", "sgdr_tmult2", "piecewise_constant"])
def test_schedule_drives_optax_learning_rate(name):
    """Used as an optax learning rate, step t moves a parameter by -lr_t (grad = 1)."""
    make, reference = CASES[name]
    tx = optax.sgd(make())

    def body(carry, _):
        params, state = carry
        updates, state = tx.update(jnp.ones(()), state, params)
        return (optax.apply_updates(params, updates), state), updates

    params = jnp.zeros(())
    _, updates = jax.lax.scan(body, (params, tx.init(params)), length=60)
    np.testing.assert_allclose(-np.asarray(updates), reference(np.arange(60)), rtol=2e-6,
                               atol=1e-7)


def test_schedule_under_inject_hyperparams():
    sched = S.cosine_warm_restarts(1.0, 5, t_mult=2)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=sched)
    state = tx.init(jnp.zeros(3))
    lrs = []
    update = jax.jit(tx.update)
    for _ in range(12):
        _, state = update(jnp.ones(3), state)
        lrs.append(float(state.hyperparams["learning_rate"]))  # the rate this step used
    np.testing.assert_allclose(lrs, np_sgdr(np.arange(12), 1.0, 5, 2), rtol=2e-6, atol=1e-7)


@pytest.mark.usefixtures("x64")
def test_schedules_float64_tight():
    names = ("sgdr_tmult3", "exp_range", "triangular2", "piecewise_constant")
    schedules = [CASES[name][0]() for name in names]
    got = jax.jit(lambda t: [jax.vmap(f)(t) for f in schedules])(jnp.asarray(STEPS))
    for name, values in zip(names, got):
        assert values.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(values), CASES[name][1](STEPS), rtol=1e-12,
                                   atol=1e-14)


def test_sgdr_large_step_counts():
    """Restart points stay exact far out (no float log for the cycle index)."""
    sched = jax.jit(S.cosine_warm_restarts(1.0, 1, t_mult=2))
    # Restarts at 2^k - 1 for T_0 = 1, T_mult = 2.
    for k in (10, 20, 30):
        start = 2**k - 1
        assert float(sched(jnp.int32(start))) == 1.0
        np.testing.assert_allclose(float(sched(jnp.int32(start - 1))), 0.5 * (1 + math.cos(
            math.pi * (2 ** (k - 1) - 1) / 2 ** (k - 1))), atol=1e-6)


# ------------------------------------------------------------- equality with optax


def test_wrappers_equal_optax():
    t = jnp.asarray(STEPS)
    pairs = [
        (S.exponential_decay(0.5, 20, 0.5, 10, True, 0.02),
         optax.exponential_decay(0.5, 20, 0.5, 10, True, 0.02)),
        (S.linear_schedule(0.1, 0.001, 100, 5), optax.linear_schedule(0.1, 0.001, 100, 5)),
        (S.polynomial_schedule(1.0, 0.1, 2.0, 150), optax.polynomial_schedule(1.0, 0.1, 2.0, 150)),
        (S.cosine_decay_schedule(1.0, 200, 0.1), optax.cosine_decay_schedule(1.0, 200, 0.1)),
        (S.warmup_cosine_decay_schedule(0.0, 1.0, 30, 230),
         optax.warmup_cosine_decay_schedule(0.0, 1.0, 30, 230)),
        (S.cosine_onecycle_schedule(200, 1.0), optax.cosine_onecycle_schedule(200, 1.0)),
        (S.linear_onecycle_schedule(200, 1.0), optax.linear_onecycle_schedule(200, 1.0)),
        # Schedules written in jnn, against optax's equivalent spelling:
        (S.step_decay(1.0, 0.5, 30), optax.exponential_decay(1.0, 30, 0.5, staircase=True)),
        (S.piecewise_constant([50, 120], [1.0, 0.1, 0.05]),
         optax.piecewise_constant_schedule(1.0, {50: 0.1, 120: 0.5})),
        (S.cosine_warm_restarts(1.0, 40, min_value=0.1),
         optax.sgdr_schedule([dict(init_value=1.0, peak_value=1.0, warmup_steps=0,
                                   decay_steps=40, end_value=0.1)] * 7)),
        (S.cosine_warm_restarts(1.0, 10, t_mult=2),
         optax.sgdr_schedule([dict(init_value=1.0, peak_value=1.0, warmup_steps=0,
                                   decay_steps=10 * 2**i) for i in range(5)])),
    ]
    run = jax.jit(lambda t: [(jax.vmap(a)(t), jax.vmap(b)(t)) for a, b in pairs])
    for ours, theirs in run(t):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------ bad input

BAD = [
    (lambda: S.constant_schedule(-0.1), ValueError, r"constant_schedule: value must be in \[0.0"),
    (lambda: S.constant_schedule(float("inf")), ValueError, "value must be finite"),
    (lambda: S.exponential_decay(0.1, 0, 0.5), ValueError,
     "exponential_decay: transition_steps must be a positive integer; got 0"),
    (lambda: S.exponential_decay(0.1, 10, 0.0), ValueError, "decay_rate must be in"),
    (lambda: S.exponential_decay(0.1, 10, 0.5, transition_begin=-1), ValueError,
     "transition_begin must be a non-negative integer"),
    (lambda: S.exponential_decay(-1.0, 10, 0.5), ValueError, "init_value must be in"),
    (lambda: S.polynomial_schedule(1.0, 0.0, 0.0, 10), ValueError, "power must be in"),
    (lambda: S.linear_schedule(0.1, 0.0, 0), ValueError,
     "linear_schedule: transition_steps must be a positive integer"),
    (lambda: S.linear_schedule(0.1, 0.0, 10.5), TypeError, "transition_steps must be a positive"),
    (lambda: S.cosine_decay_schedule(0.1, 100, alpha=1.5), ValueError, "alpha must be in"),
    (lambda: S.warmup_cosine_decay_schedule(0.0, 1.0, 100, 50), ValueError,
     "decay_steps is the total length including the warm-up.*decay_steps=150"),
    (lambda: S.cosine_onecycle_schedule(2, 1.0, pct_start=0.3), ValueError,
     "rounds down to step 0, leaving that phase empty"),
    (lambda: S.cosine_onecycle_schedule(100, 1.0, pct_start=1.0), ValueError,
     r"pct_start must be in \(0.0, 1.0\)"),
    (lambda: S.linear_onecycle_schedule(100, 1.0, pct_start=0.5, pct_final=0.4), ValueError,
     "0 < int\\(pct_start\\*T\\) < int\\(pct_final\\*T\\) < T"),
    (lambda: S.step_decay(0.1, 30, 0.1), ValueError,
     "step_decay: factor must be in \\(0.0, 1.0\\]; got 30.*step_decay\\(init_value, factor"),
    (lambda: S.step_decay(0.1, 0.5, 0), ValueError, "every must be a positive integer; got 0"),
    (lambda: S.piecewise_constant([10, 10], [1.0, 0.5, 0.1]), ValueError,
     r"boundaries must be strictly increasing; got \[10, 10\]"),
    (lambda: S.piecewise_constant([20, 10], [1.0, 0.5, 0.1]), ValueError,
     "strictly increasing"),
    (lambda: S.piecewise_constant([0, 10], [1.0, 0.5, 0.1]), ValueError, "boundaries must be >= 1"),
    (lambda: S.piecewise_constant([10], [1.0]), ValueError,
     "values needs one more entry than boundaries.*1 boundaries and 1 values"),
    (lambda: S.piecewise_constant([-5], [1.0, 0.1]), ValueError,
     r"boundaries\[0\] must be a non-negative integer"),
    (lambda: S.piecewise_constant([10], [1.0, -0.1]), ValueError, r"values\[1\] must be in"),
    (lambda: S.cosine_warm_restarts(1.0, 0), ValueError, "period must be a positive integer"),
    (lambda: S.cosine_warm_restarts(1.0, 10, t_mult=0), ValueError,
     "t_mult must be a positive integer.*t_mult=1 for cycles of equal length"),
    (lambda: S.cosine_warm_restarts(1.0, 10, t_mult=1.5), TypeError, "t_mult must be a positive"),
    (lambda: S.cosine_warm_restarts(0.1, 10, min_value=0.2), ValueError,
     "min_value must not exceed init_value"),
    (lambda: S.cyclical_schedule(1.0, 0.1, 10), ValueError, "peak_value must be >= init_value"),
    (lambda: S.cyclical_schedule(0.1, 1.0, 0), ValueError,
     "step_size must be a positive integer; got 0. It is half a cycle"),
    (lambda: S.cyclical_schedule(0.1, 1.0, 10, mode="sawtooth"), ValueError,
     "mode must be one of \\('triangular', 'triangular2', 'exp_range'\\); got 'sawtooth'"),
    (lambda: S.cyclical_schedule(0.1, 1.0, 10, gamma=0.9), ValueError,
     "gamma only applies to mode='exp_range'"),
    (lambda: S.exp_range_schedule(0.1, 1.0, 10, gamma=1.5), ValueError, "gamma must be in"),
]


@pytest.mark.parametrize("make, exc, match", BAD)
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_docstring_examples():
    result = doctest.testmod(S, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
