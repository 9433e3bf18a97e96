"""Newton's method: the 1-D teaching version, the exact damped step and truncated Newton-CG.

:func:`newton` and :func:`newton_cg` are ``optax.GradientTransformationExtraArgs`` that
take the loss as ``value_fn=`` at every step (what ``jnn.train.fit`` passes) or as
``loss_fn=`` at construction. The curvature comes from :mod:`jnn.curvature`: the dense
Hessian from chunked Hessian-vector products, or the products themselves for CG.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import optax
from jax import lax
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from jnn import _checks, curvature
from jnn.optim import _base
from jnn.optim._transform import kwargs_accepted_by

DEFAULT_MAX_BYTES = 2**30

NO_LOSS_MSG = (
    "{where}: the step needs the loss itself (for its curvature), but no loss was given. "
    "Either build the optimizer with it, opt = jnn.optim.{name}(loss_fn=loss), where "
    "loss(params, batch) -> scalar, and pass the loss's other arguments at every step, "
    "opt.update(grads, state, params, batch=batch); or pass the loss at every step, "
    "opt.update(grads, state, params, value_fn=lambda p: loss(p, batch)). "
    "jnn.train.fit passes value_fn for you."
)
NO_PARAMS_MSG = "{where}: update needs params: opt.update(grads, state, params, value_fn=loss)."


# --------------------------------------------------------------------------------------
# Shared pieces (also used by _gauss_newton, _adahessian and _sophia)
# --------------------------------------------------------------------------------------


def check_loss_fn(where: str, loss_fn: Any, name: str = "loss_fn") -> None:
    """``loss_fn`` given at construction must be ``None`` or a function."""
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(
            f"{where}: {name} must be a function {name}(params, batch) -> scalar or None; "
            f"got {type(loss_fn).__name__}."
        )


def loss_of_params(
    where: str, name: str, loss_fn: Callable | None, value_fn: Callable | None, extra: dict
) -> Callable:
    """The loss as a function of params only: ``value_fn`` (per step) or ``loss_fn``.

    Keyword arguments of ``update`` other than ``value``, ``grad`` and ``value_fn``
    (``extra``) go to the loss when it takes them by name (e.g. ``batch=``).
    """
    fn = value_fn if value_fn is not None else loss_fn
    if fn is None:
        raise TypeError(NO_LOSS_MSG.format(where=where, name=name))
    if not callable(fn):
        raise TypeError(f"{where}: value_fn must be a function of params; got {type(fn).__name__}.")
    kwargs = kwargs_accepted_by(fn, extra)
    return lambda p: fn(p, **kwargs)


def check_scalar_loss(where: str, f: Callable, params: Any) -> None:
    """``f(params)`` must be a floating scalar (checked abstractly, at trace time)."""
    out = jax.eval_shape(f, params)
    if not isinstance(out, jax.ShapeDtypeStruct):
        raise TypeError(
            f"{where}: the loss must return a scalar array; it returned a "
            f"{type(out).__name__} with structure {jax.tree.structure(out)}. If it returns "
            "(value, aux), pass value_fn=lambda p: loss(p)[0]."
        )
    if out.shape != ():
        raise ValueError(
            f"{where}: the loss must return a scalar; it returned shape {out.shape}. "
            "Reduce the per-example losses, e.g. return jnp.mean(losses)."
        )
    if not jnp.issubdtype(out.dtype, jnp.inexact):
        raise TypeError(
            f"{where}: the loss returned dtype {out.dtype}; a floating scalar is needed."
        )


def check_dense_fits(where: str, d: int, dtype: Any, max_bytes: int | None, alternative: str):
    """Refuse a ``d x d`` curvature matrix above ``max_bytes`` with the matrix-free fix."""
    if max_bytes is None:
        return
    _checks.positive_int(where, "max_bytes", max_bytes)
    needed = d * d * jnp.dtype(dtype).itemsize
    if needed > max_bytes:
        raise ValueError(
            f"{where}: the dense {d} x {d} curvature matrix for d={d} parameters needs "
            f"{needed / 2**20:.1f} MiB of {jnp.dtype(dtype).name}, more than "
            f"max_bytes={max_bytes} ({max_bytes / 2**20:.1f} MiB). Use the matrix-free "
            f"{alternative} instead, or pass a larger max_bytes (None disables the check)."
        )


class NewtonState(NamedTuple):
    """State of :func:`newton` (and of :func:`jnn.optim.gauss_newton`).

    Attributes:
      count: number of updates so far (int32).
      damping: the :math:`\\lambda` of the last step (after any increases it needed).
      num_tries: Cholesky factorizations the last step used (1 when the first
        :math:`\\lambda` worked).
      fell_back: ``True`` when no try worked and the last step was the gradient step
        :math:`-\\eta g`.
      gain_ratio: actual over predicted decrease of the loss in the last step (adaptive
        damping only; 0 otherwise).
    """

    count: jax.Array
    damping: jax.Array
    num_tries: jax.Array
    fell_back: jax.Array
    gain_ratio: jax.Array


def init_newton_state(damping: ArrayLike, dtype: Any) -> NewtonState:
    return NewtonState(
        count=jnp.zeros([], jnp.int32),
        damping=jnp.asarray(damping, dtype),
        num_tries=jnp.zeros([], jnp.int32),
        fell_back=jnp.zeros([], bool),
        gain_ratio=jnp.zeros([], dtype),
    )


def nielsen_factor(gain_ratio: jax.Array) -> jax.Array:
    """Nielsen's damping multiplier after an accepted step, :math:`\\max(1/3, 1-(2\\rho-1)^3)`."""
    return jnp.maximum(1 / 3, 1 - (2 * gain_ratio - 1) ** 3)


def start_damping(state: NewtonState, damping: ArrayLike, adaptive: bool) -> jax.Array:
    """The first :math:`\\lambda` of a step: the hyperparameter, or adapted from the last step."""
    lam0 = jnp.asarray(damping, state.damping.dtype)
    if not adaptive:
        return lam0
    adapted = jnp.where(
        state.fell_back, 2 * state.damping, state.damping * nielsen_factor(state.gain_ratio)
    )
    return jnp.where(state.count == 0, lam0, adapted)


class DampedSolve(NamedTuple):
    direction: jax.Array  # (H + λI)^{-1} g, flat
    damping: jax.Array
    num_tries: jax.Array
    accepted: jax.Array
    gain_ratio: jax.Array


def damped_cholesky_solve(
    A: jax.Array,
    g: jax.Array,
    damping: jax.Array,
    max_tries: int,
    accept: Callable | None = None,
) -> DampedSolve:
    r"""Solve :math:`(A + \lambda I) p = g` by Cholesky, raising :math:`\lambda` until it works.

    A try fails when :math:`A + \lambda I` is not positive definite (the factor or the
    solution has nan/inf) or, with ``accept``, when ``accept(p)`` returns ``False``. After
    a failure :math:`\lambda \leftarrow \nu\lambda`, :math:`\nu \leftarrow 2\nu`
    (Nielsen's rule, :math:`\nu_0 = 2`); a zero :math:`\lambda` becomes
    :math:`\beta = 10^{-3} \max_i |A_{ii}|` instead (as in Nocedal & Wright,
    Algorithm 3.3). At most ``max_tries`` factorizations, all inside one
    ``lax.while_loop``.

    Args:
      A: ``(d, d)`` symmetric curvature matrix.
      g: ``(d,)`` right-hand side (the gradient).
      damping: the first :math:`\lambda`.
      max_tries: most factorizations.
      accept: ``accept(p) -> (ok, gain_ratio)`` for the loss test, or ``None``.
    """
    d = g.shape[0]
    eye = jnp.eye(d, dtype=A.dtype)
    scale = jnp.max(jnp.abs(jnp.diag(A)))
    from_zero = 1e-3 * jnp.where(jnp.isfinite(scale) & (scale > 0), scale, 1.0)

    def attempt(lam):
        factor = jsl.cho_factor(A + lam * eye, lower=True)
        p = jsl.cho_solve(factor, g)
        ok = jnp.all(jnp.isfinite(factor[0])) & jnp.all(jnp.isfinite(p))
        ratio = jnp.zeros([], A.dtype)
        if accept is not None:
            loss_ok, ratio = accept(jnp.where(ok, p, jnp.zeros_like(p)))
            ok = ok & loss_ok
        return p, ok, ratio

    def cond(carry):
        _, _, _, tries, accepted, _ = carry
        return (~accepted) & (tries < max_tries)

    def body(carry):
        _, lam, nu, tries, _, _ = carry
        lam = jnp.where(tries > 0, jnp.where(lam > 0, nu * lam, from_zero), lam)
        nu = jnp.where(tries > 0, 2 * nu, nu)
        p, ok, ratio = attempt(lam)
        return p, lam, nu, tries + 1, ok, ratio

    lam = jnp.asarray(damping, A.dtype)
    carry = (
        jnp.zeros_like(g),
        lam,
        jnp.asarray(2.0, A.dtype),
        jnp.zeros([], jnp.int32),
        jnp.zeros([], bool),
        jnp.zeros([], A.dtype),
    )
    p, lam, _, tries, accepted, ratio = lax.while_loop(cond, body, carry)
    return DampedSolve(p, lam, tries, accepted, ratio)


def loss_decrease_test(f: Callable, flat_params, unravel, A, g, value, step_size):
    """``accept(p)`` for the adaptive damping: does :math:`\\theta - \\eta p` lower the loss?

    Returns ``(ok, gain_ratio)`` with the gain ratio :math:`\\rho` = actual decrease over
    the decrease predicted by the model :math:`m(s) = g^\\top s + \\tfrac12 s^\\top A s`.
    """

    def accept(p):
        s = -step_size * p
        trial = f(unravel(flat_params + s.astype(flat_params.dtype))).astype(A.dtype)
        predicted = -(g @ s + 0.5 * s @ (A @ s))
        actual = value - trial
        ok = jnp.isfinite(trial) & (trial <= value)
        ratio = jnp.where(predicted > 0, actual / jnp.where(predicted > 0, predicted, 1), 1.0)
        return ok, jnp.where(jnp.isfinite(ratio), ratio, 0.0).astype(A.dtype)

    return accept


# --------------------------------------------------------------------------------------
# newton_1d
# --------------------------------------------------------------------------------------


def _scalar_start(where: str, f: Callable, x0: Any) -> jax.Array:
    if not callable(f):
        raise TypeError(f"{where}: f must be a function f(x) -> scalar; got {type(f).__name__}.")
    x0 = jnp.asarray(x0)
    if jnp.issubdtype(x0.dtype, jnp.integer) or x0.dtype == bool:
        x0 = x0.astype(jnp.result_type(float))
    _checks.floating_input(where, "x0", x0)
    if x0.shape != ():
        raise ValueError(
            f"{where}: x0 must be a scalar (newton_1d is the one-dimensional method); got "
            f"shape {x0.shape}. For several variables use jnn.optim.newton."
        )
    out = jax.eval_shape(f, x0)
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != ():
        raise ValueError(
            f"{where}: f must map a scalar to a scalar; f(x0) returned "
            f"{getattr(out, 'shape', type(out).__name__)}."
        )
    return x0


def newton_1d_step(f: Callable, x: ArrayLike, learning_rate: ArrayLike = 1.0) -> jax.Array:
    r"""One step of Newton's method on a scalar function: :math:`x - \eta f'(x) / f''(x)`.

    Args:
      f: ``f(x) -> scalar`` for a scalar ``x``, twice differentiable.
      x: the current point (a scalar).
      learning_rate: :math:`\eta` (1 is the pure Newton step).

    Returns:
      The next point, a scalar (nan or inf where :math:`f''(x) = 0`).

    Example:
      >>> from jnn.optim import newton_1d_step
      >>> float(newton_1d_step(lambda x: (x - 3.0) ** 2, 0.0))      # a parabola: one step
      3.0
    """
    x = _scalar_start("jnn.optim.newton_1d_step", f, x)
    df = jax.grad(f)
    return x - learning_rate * df(x) / jax.grad(df)(x)


def newton_1d(
    f: Callable, x0: ArrayLike, num_steps: int = 10, *, learning_rate: ArrayLike = 1.0
) -> jax.Array:
    r"""Newton's method on a scalar function of one variable, for teaching.

    Minimizing the second-order Taylor model :math:`f(x_t + \epsilon) \approx f(x_t) +
    f'(x_t)\,\epsilon + \tfrac12 f''(x_t)\,\epsilon^2` over :math:`\epsilon` gives

    .. math::

        x_{t+1} = x_t - \eta\, \frac{f'(x_t)}{f''(x_t)},

    Newton's root-finding method applied to :math:`f'`. It jumps to the minimum of a
    parabola in one step, converges quadratically near a minimum where
    :math:`f'' > 0`, and heads for a maximum where :math:`f'' < 0`.

    Args:
      f: ``f(x) -> scalar`` for a scalar ``x`` (derivatives by ``jax.grad``).
      x0: the starting point (a scalar; integers are converted to floats).
      num_steps: the number of steps.
      learning_rate: :math:`\eta` (1 is the pure Newton step; below 1 damps it).

    Returns:
      The iterates :math:`x_0, x_1, \dots, x_{\text{num\_steps}}`, shape
      ``(num_steps + 1,)``. Where :math:`f''(x_t) = 0` the later iterates are nan/inf.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.optim import newton_1d
      >>> xs = newton_1d(lambda x: x**4 / 4 - x, 2.0, num_steps=6)   # minimum at x = 1
      >>> [round(float(x), 4) for x in xs]      # the error squares at every step
      [2.0, 1.4167, 1.1105, 1.0106, 1.0001, 1.0, 1.0]

    References:
      Nocedal & Wright, Numerical Optimization, 2nd ed., Section 2.2, 2006.
    """
    where = "jnn.optim.newton_1d"
    x0 = _scalar_start(where, f, x0)
    n = _checks.positive_int(where, "num_steps", num_steps)
    df = jax.grad(f)
    d2f = jax.grad(df)

    def step(x, _):
        x = x - learning_rate * df(x) / d2f(x)
        return x, x

    _, xs = lax.scan(step, x0, None, length=n)
    return jnp.concatenate([x0[None], xs.astype(x0.dtype)])


# --------------------------------------------------------------------------------------
# newton: the exact damped step
# --------------------------------------------------------------------------------------


def newton(
    learning_rate: optax.ScalarOrSchedule = 1.0,
    damping: ArrayLike = 0.0,
    adaptive_damping: bool = False,
    *,
    loss_fn: Callable | None = None,
    max_tries: int = 10,
    chunk_size: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> optax.GradientTransformationExtraArgs:
    r"""Newton's method: the exact damped Newton step on the flattened parameters.

    With :math:`\theta = \mathrm{ravel}(\text{params}) \in \mathbb{R}^d`, gradient
    :math:`g` (the incoming updates) and Hessian :math:`H = \nabla^2 L(\theta)`,

    .. math::

        \theta_{t+1} = \theta_t - \eta\, (H + \lambda I)^{-1} g,

    where :math:`(H + \lambda I)^{-1} g` comes from a Cholesky factorization
    :math:`H + \lambda I = L L^\top` and two triangular solves (never an inverse).
    :math:`H` is built from ``d`` Hessian-vector products (:func:`jnn.curvature.hessian`),
    so a step costs about ``d`` gradients plus :math:`d^3/3` flops: use it for models with
    up to a few thousand parameters, and :func:`newton_cg` beyond.

    **When** :math:`H + \lambda I` **is not positive definite** (a saddle point, a
    maximum), the factorization fails and the step raises :math:`\lambda` and tries
    again: :math:`\lambda \leftarrow \nu\lambda`, :math:`\nu \leftarrow 2\nu` with
    :math:`\nu_0 = 2` (a zero :math:`\lambda` becomes :math:`10^{-3}\max_i |H_{ii}|`), up to
    ``max_tries`` factorizations inside one ``lax.while_loop``. If none works, the step
    falls back to the gradient step :math:`-\eta g`. The state reports what happened
    (``damping``, ``num_tries``, ``fell_back``); nothing raises under ``jit``.

    **Adaptive damping** (``adaptive_damping=True``, Levenberg-Marquardt style): a try
    is accepted only if it does not increase the loss, :math:`L(\theta - \eta p) \le
    L(\theta)`; otherwise :math:`\lambda` grows as above and the step is solved again
    with the same :math:`H`. After an accepted step with gain ratio
    :math:`\rho = (L(\theta) - L(\theta + s)) / (-g^\top s - \tfrac12 s^\top H s)`,
    the next step starts from :math:`\lambda \max(1/3, 1 - (2\rho - 1)^3)` (Nielsen's
    rule: a good quadratic model lowers the damping). ``damping`` is the first step's
    :math:`\lambda`.

    Args:
      learning_rate: :math:`\eta` > 0 (1 is the full Newton step), or a schedule.
      damping: :math:`\lambda` >= 0 added to the Hessian's diagonal.
      adaptive_damping: adapt :math:`\lambda` from the loss decrease (costs one loss
        evaluation per try).
      loss_fn: ``loss(params, **kwargs) -> scalar`` given once; otherwise pass
        ``value_fn=`` (the loss as a function of params) to ``update``.
      max_tries: most Cholesky factorizations per step (>= 1; 1 means: fall back to the
        gradient step at once when :math:`H + \lambda I` is not positive definite).
      chunk_size: Hessian-vector products evaluated at once while building :math:`H`.
      max_bytes: refuse models whose ``d x d`` Hessian needs more bytes (default 1 GiB);
        ``None`` disables the check.

    Returns:
      An ``optax.GradientTransformationExtraArgs``;
      ``update(grads, state, params, *, value_fn=None, value=None, grad=None, **kwargs)``
      returns :math:`-\eta (H + \lambda I)^{-1} g` and a :class:`NewtonState`. Keyword
      arguments other than ``value``, ``grad`` and ``value_fn`` go to the loss by name
      (e.g. ``batch=batch``); ``value`` (the loss at ``params``) saves one evaluation with
      adaptive damping. Under ``optax.inject_hyperparams`` list the integer arguments as
      static: ``static_args=("loss_fn", "max_tries", "max_bytes")``.

    Example:
      An optax loop; the loss goes to ``update`` as ``value_fn``:

      >>> import jax, jax.numpy as jnp, optax, jnn.optim
      >>> x = jax.random.normal(jax.random.key(0), (64, 3))
      >>> y = (x @ jnp.array([1.0, -2.0, 0.5]) > 0).astype(jnp.float32)
      >>> def loss(w, batch):                         # L2-regularized logistic regression
      ...     x, y = batch
      ...     z = x @ w
      ...     return jnp.mean(jax.nn.softplus(z) - y * z) + 0.05 * jnp.sum(w**2)
      >>> opt = jnn.optim.newton()
      >>> @jax.jit
      ... def step(w, state, batch):
      ...     grads = jax.grad(loss)(w, batch)
      ...     updates, state = opt.update(grads, state, w, value_fn=loss, batch=batch)
      ...     return optax.apply_updates(w, updates), state
      >>> w = jnp.zeros(3); state = opt.init(w)
      >>> for _ in range(6):
      ...     w, state = step(w, state, (x, y))
      >>> bool(jnp.linalg.norm(jax.grad(loss)(w, (x, y))) < 1e-5)
      True

      The same with the loss given once: ``opt = jnn.optim.newton(loss_fn=loss)`` and
      ``opt.update(grads, state, w, batch=(x, y))``. With ``jnn.train.fit``:
      ``fit(model, params, state, jnn.optim.newton(damping=1e-3), loss, (x, y), ...)``.

    .. note::
        The Hessian is that of the loss handed to ``update`` (a minibatch's loss in
        ``fit``). The incoming updates are used as :math:`g`: chained after
        ``optax.clip_by_global_norm`` the Newton system is solved for the clipped
        gradient; chained before it, the Newton step itself is clipped (a simple trust
        region).

    References:
      Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithms 3.2 and 3.3, 2006.
      Nielsen, "Damping parameter in Marquardt's method", Technical report IMM-REP-1999-05,
      DTU, 1999.
    """
    where = "jnn.optim.newton"
    _base.check_learning_rate(where, learning_rate)
    _base.check_nonnegative(where, "damping", damping, "1e-3")
    if not isinstance(adaptive_damping, bool):
        raise TypeError(
            f"{where}: adaptive_damping must be True or False; got {adaptive_damping!r}."
        )
    check_loss_fn(where, loss_fn)
    _checks.positive_int(where, "max_tries", max_tries)
    if chunk_size is not None:
        _checks.positive_int(where, "chunk_size", chunk_size)

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        return init_newton_state(damping, flat.dtype)

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del grad  # the incoming updates are the gradient to precondition
        if params is None:
            raise TypeError(NO_PARAMS_MSG.format(where=where))
        _base.check_trees(where, updates, params)
        f = loss_of_params(where, "newton", loss_fn, value_fn, extra)
        check_scalar_loss(where, f, params)
        flat_params, unravel = ravel_pytree(params)
        check_dense_fits(where, flat_params.size, flat_params.dtype, max_bytes,
                         "jnn.optim.newton_cg")
        H, _ = curvature.hessian(lambda p, _: f(p), params, None, chunk_size=chunk_size,
                                 max_bytes=None)
        g = ravel_pytree(updates)[0].astype(H.dtype)
        step_size = jnp.asarray(_base.learning_rate_at(learning_rate, state.count), H.dtype)

        accept = None
        if adaptive_damping:
            f0 = f(params) if value is None else value
            accept = loss_decrease_test(f, flat_params, unravel, H, g,
                                        jnp.asarray(f0, H.dtype), step_size)
        lam = start_damping(state, damping, adaptive_damping)
        solved = damped_cholesky_solve(H, g, lam, max_tries, accept)
        direction = jnp.where(solved.accepted, solved.direction, g)
        new_updates = optax.tree.cast_like(unravel(-step_size * direction), updates)
        new_state = NewtonState(
            count=optax.safe_increment(state.count),
            damping=solved.damping.astype(state.damping.dtype),
            num_tries=solved.num_tries,
            fell_back=~solved.accepted,
            gain_ratio=solved.gain_ratio.astype(state.gain_ratio.dtype),
        )
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------------------
# newton_cg: truncated Newton with conjugate gradients on Hessian-vector products
# --------------------------------------------------------------------------------------


class NewtonCGState(NamedTuple):
    """State of :func:`newton_cg`.

    Attributes:
      count: number of updates so far (int32).
      num_iterations: CG iterations of the last step (Hessian-vector products, not
        counting the one for the residual).
      residual: the true relative residual :math:`\\|(H + \\lambda I) p - g\\| / \\|g\\|`
        of the last step's direction :math:`p` (recomputed, not CG's recursive one).
      negative_curvature: ``True`` when CG met a direction :math:`d` with
        :math:`d^\\top (H + \\lambda I) d \\le 0` in the last step and stopped there.
      fell_back: ``True`` when that happened at the first direction, so the step was
        the gradient step :math:`-\\eta g`.
    """

    count: jax.Array
    num_iterations: jax.Array
    residual: jax.Array
    negative_curvature: jax.Array
    fell_back: jax.Array


class _CGCarry(NamedTuple):
    k: jax.Array
    x: Any
    r: Any
    d: Any
    rr: jax.Array
    negative: jax.Array


def truncated_cg(matvec: Callable, b: Any, tol: ArrayLike, maxiter: int):
    r"""CG for :math:`A x = b` from :math:`x_0 = 0`, stopping at negative curvature.

    Stops when :math:`\|r_k\| \le \text{tol}\,\|b\|`, after ``maxiter`` iterations, or
    when a search direction has :math:`d^\top A d \le 0` (or nan): then the last iterate
    is returned, or :math:`b` itself if it happened at the first direction (Nocedal &
    Wright, Algorithm 7.1). Returns ``(x, iterations, negative, fell_back)``.
    """
    b_norm = optax.tree.norm(b)
    real = jnp.result_type(b_norm)
    threshold = jnp.asarray(tol, real) * b_norm

    def cond(c):
        return (c.k < maxiter) & (jnp.sqrt(c.rr) > threshold) & (~c.negative)

    def body(c):
        Ad = matvec(c.d)
        dAd = optax.tree.vdot(c.d, Ad).astype(real)
        negative = ~(dAd > 0)
        alpha = c.rr / jnp.where(negative, 1, dAd)
        x = optax.tree.add_scale(c.x, alpha, c.d)
        r = optax.tree.add_scale(c.r, -alpha, Ad)
        rr = optax.tree.vdot(r, r).astype(real)
        d = optax.tree.add_scale(r, rr / c.rr, c.d)
        keep = lambda new, old: jax.tree.map(lambda a, o: jnp.where(negative, o, a), new, old)
        return _CGCarry(
            k=c.k + jnp.where(negative, 0, 1),
            x=optax.tree.cast_like(keep(x, c.x), c.x),
            r=optax.tree.cast_like(keep(r, c.r), c.r),
            d=optax.tree.cast_like(keep(d, c.d), c.d),
            rr=jnp.where(negative, c.rr, rr),
            negative=negative,
        )

    zeros = optax.tree.zeros_like(b)
    start = _CGCarry(jnp.zeros([], jnp.int32), zeros, b, b, optax.tree.vdot(b, b).astype(real),
                     jnp.zeros([], bool))
    out = lax.while_loop(cond, body, start)
    fell_back = out.negative & (out.k == 0)
    x = jax.tree.map(lambda b_, x_: jnp.where(fell_back, b_, x_), b, out.x)
    return x, out.k, out.negative, fell_back


def newton_cg(
    learning_rate: optax.ScalarOrSchedule = 1.0,
    damping: ArrayLike = 0.0,
    *,
    maxiter: int = 100,
    tol: ArrayLike = 1e-5,
    loss_fn: Callable | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Truncated Newton: the damped Newton step solved by conjugate gradients, matrix-free.

    The direction :math:`p` approximately solves the Newton system

    .. math::

        (H + \lambda I)\, p = g, \qquad \theta_{t+1} = \theta_t - \eta\, p,

    by conjugate gradients (Nocedal & Wright, Algorithm 7.1) started at :math:`p_0 = 0`,
    using only Hessian-vector products: the gradient is linearized once per step
    (:func:`jnn.curvature.hvp_operator`) and each CG iteration costs one tangent pass,
    about one gradient. CG stops when the relative residual
    :math:`\|(H + \lambda I) p_k - g\| \le \text{tol}\,\|g\|`, after ``maxiter``
    iterations, or at **negative curvature**: when a search direction :math:`d` has
    :math:`d^\top (H + \lambda I) d \le 0` it returns the last iterate (a descent
    direction), or :math:`g` itself (the gradient step) if the very first direction
    does. No Hessian is ever formed, so this scales to any model; an exact solve of an
    SPD system takes at most ``d`` iterations.

    The state reports the CG iteration count, the true relative residual of the
    returned direction (one extra product), and whether CG stopped at negative
    curvature or fell back to the gradient.

    Args:
      learning_rate: :math:`\eta` > 0, or a schedule.
      damping: :math:`\lambda` >= 0; some damping keeps CG short and the step safe on
        indefinite network Hessians.
      maxiter: most CG iterations per step (>= 1).
      tol: relative residual at which CG stops (> 0); loose values (1e-2 .. 1e-1) make
        cheap inexact Newton steps far from a minimum.
      loss_fn: ``loss(params, **kwargs) -> scalar`` given once; otherwise pass
        ``value_fn=`` to ``update``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``;
      ``update(grads, state, params, *, value_fn=None, **kwargs)`` returns
      :math:`-\eta p` and a :class:`NewtonCGState`. Under ``optax.inject_hyperparams``
      pass ``static_args=("loss_fn", "maxiter")``.

    Example:
      >>> import jax, jax.numpy as jnp, optax, jnn.optim
      >>> x = jax.random.normal(jax.random.key(0), (64, 3))
      >>> y = (x @ jnp.array([1.0, -2.0, 0.5]) > 0).astype(jnp.float32)
      >>> def loss(w, batch):
      ...     x, y = batch
      ...     z = x @ w
      ...     return jnp.mean(jax.nn.softplus(z) - y * z) + 0.05 * jnp.sum(w**2)
      >>> opt = jnn.optim.newton_cg(tol=1e-6)
      >>> @jax.jit
      ... def step(w, state, batch):
      ...     grads = jax.grad(loss)(w, batch)
      ...     updates, state = opt.update(grads, state, w, value_fn=loss, batch=batch)
      ...     return optax.apply_updates(w, updates), state
      >>> w = jnp.zeros(3); state = opt.init(w)
      >>> for _ in range(6):
      ...     w, state = step(w, state, (x, y))
      >>> bool(jnp.linalg.norm(jax.grad(loss)(w, (x, y))) < 1e-5)
      True
      >>> int(state.num_iterations) <= 3                # CG: at most d iterations
      True

    .. warning::
        On a non-convex loss (any network) the truncated step can be very long along
        directions of small positive curvature; Newton-CG is meant to be used with a
        line search (Nocedal & Wright's Algorithm 7.1 is *line search* Newton-CG) or
        with enough damping. optax's line searches chain after it and read the loss
        from the same ``value_fn`` (``jnn.train.fit`` passes ``value``, ``grad`` and
        ``value_fn``)::

            opt = optax.chain(
                jnn.optim.newton_cg(damping=1e-3, tol=1e-4),
                optax.scale_by_backtracking_linesearch(max_backtracking_steps=15),
            )

        Plain :func:`newton` is safer on its own: it raises :math:`\lambda` until
        :math:`H + \lambda I` is positive definite, where CG only stops at negative
        curvature.

    References:
      Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.1 (line search
      Newton-CG), 2006.
      Martens, "Deep learning via Hessian-free optimization", ICML 2010.
    """
    where = "jnn.optim.newton_cg"
    _base.check_learning_rate(where, learning_rate)
    _base.check_nonnegative(where, "damping", damping, "1e-3")
    _checks.positive_int(where, "maxiter", maxiter)
    _base.check_positive(where, "tol", tol, "1e-5")
    check_loss_fn(where, loss_fn)

    def init_fn(params):
        real = jnp.promote_types(optax.tree.dtype(params, "highest"), jnp.float32)
        return NewtonCGState(
            count=jnp.zeros([], jnp.int32),
            num_iterations=jnp.zeros([], jnp.int32),
            residual=jnp.zeros([], real),
            negative_curvature=jnp.zeros([], bool),
            fell_back=jnp.zeros([], bool),
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del value, grad
        if params is None:
            raise TypeError(NO_PARAMS_MSG.format(where=where))
        _base.check_trees(where, updates, params)
        f = loss_of_params(where, "newton_cg", loss_fn, value_fn, extra)
        check_scalar_loss(where, f, params)
        H = curvature.hvp_operator(lambda p, _: f(p), params, None)
        lam = damping

        def matvec(v):
            return optax.tree.cast_like(optax.tree.add_scale(H(v), lam, v), v)

        b = optax.tree.cast_like(updates, params)
        p, iterations, negative, fell_back = truncated_cg(matvec, b, tol, maxiter)
        b_norm = optax.tree.norm(b)
        residual = optax.tree.norm(optax.tree.sub(matvec(p), b)) / jnp.where(
            b_norm > 0, b_norm, 1
        )
        step_size = _base.learning_rate_at(learning_rate, state.count)
        new_updates = optax.tree.cast_like(optax.tree.scale(-step_size, p), updates)
        new_state = NewtonCGState(
            count=optax.safe_increment(state.count),
            num_iterations=iterations,
            residual=residual.astype(state.residual.dtype),
            negative_curvature=negative,
            fell_back=fell_back,
        )
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
