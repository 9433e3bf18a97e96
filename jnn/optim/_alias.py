"""Gradient descent, momentum, Nesterov, Adagrad, RMSProp, Adadelta and Rprop.

Each optimizer is an ``optax.chain`` of jnn blocks, so it returns an
``optax.GradientTransformationExtraArgs`` usable anywhere optax is.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import optax
from jax.typing import ArrayLike

from jnn.optim import _base
from jnn.optim import _transform as _t
from jnn.optim import _transform_adaptive as _ta

MOMENTUM_FORMS = ("heavy_ball", "separate_lr", "ema")
NESTEROV_FORMS = ("reformulated", "lookahead")


def sgd(learning_rate: optax.ScalarOrSchedule) -> optax.GradientTransformationExtraArgs:
    r"""Gradient descent: :math:`\theta \leftarrow \theta - \eta\, g`.

    .. math::

        \theta_{t+1} = \theta_t - \eta_t\, g_t

    Full-batch gradient descent and minibatch SGD are this same transformation: what
    differs is the gradient passed to ``update``, of the loss on the whole training set
    (deterministic, "batch" training) or on a minibatch (an unbiased, noisier estimate).
    Take the *mean* loss over the batch so that ``η`` does not scale with batch size.

    Args:
        learning_rate: step size ``η`` > 0, or a schedule ``step -> η_t``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.sgd(0.1)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(50):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-8)
        True

    References:
        Robbins & Monro, `A stochastic approximation method
        <https://doi.org/10.1214/aoms/1177729586>`_, 1951.
    """
    _base.check_learning_rate("jnn.optim.sgd", learning_rate)
    return optax.chain(_t.scale_by_learning_rate(learning_rate))


def momentum(
    learning_rate: optax.ScalarOrSchedule,
    momentum: ArrayLike = 0.9,
    form: str = "heavy_ball",
    accumulator_dtype=None,
) -> optax.GradientTransformationExtraArgs:
    r"""Gradient descent with (heavy-ball) momentum, in one of three parametrizations.

    ``form="heavy_ball"`` (Polyak 1964; the course's form, step size inside the velocity):

    .. math::

        v_{t+1} = \mu v_t - \eta_t g_t, \qquad \theta_{t+1} = \theta_t + v_{t+1}

    ``form="separate_lr"`` (optax's ``sgd(momentum=...)`` and PyTorch's ``SGD``):

    .. math::

        v_{t+1} = \mu v_t + g_t, \qquad \theta_{t+1} = \theta_t - \eta_t v_{t+1}

    ``form="ema"`` (exponential moving average of the gradients; ``μ`` plays ``β``):

    .. math::

        v_{t+1} = \beta v_t + (1 - \beta) g_t, \qquad \theta_{t+1} = \theta_t - \eta_t v_{t+1}

    How they relate. With a constant step size, ``heavy_ball(η, μ)`` and
    ``separate_lr(η, μ)`` give identical iterates (their velocities differ by the factor
    ``-η``), and ``ema(η, β)`` equals ``separate_lr(η (1-β), β)``: the EMA form's step
    is ``1/(1-β)`` times smaller at the same ``η`` (for a constant gradient the step
    tends to ``η g`` instead of ``η g / (1-β)``), so multiply ``η`` by ``1/(1-β)``
    when switching from it. With a schedule ``η_t`` the heavy-ball form differs from
    the other two: its velocity keeps each past gradient at the step size it was taken
    with, while the others rescale the whole history by today's ``η_t``.

    Args:
        learning_rate: step size ``η`` > 0, or a schedule ``step -> η_t``.
        momentum: ``μ`` (or ``β``) in [0, 1); common values 0.5, 0.9, 0.99.
        form: ``"heavy_ball"``, ``"separate_lr"`` or ``"ema"``.
        accumulator_dtype: dtype of ``v``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: 0.5 * (10 * p[0] ** 2 + p[1] ** 2)
        >>> opt = jnn.optim.momentum(0.05, momentum=0.9)
        >>> params = jnp.array([1.0, 1.0]); state = opt.init(params)
        >>> for _ in range(200):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-6)
        True

    References:
        Polyak, `Some methods of speeding up the convergence of iteration methods
        <https://doi.org/10.1016/0041-5553(64)90137-5>`_, 1964.

        Goh, `Why momentum really works <https://distill.pub/2017/momentum>`_, 2017.
    """
    where = "jnn.optim.momentum"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "momentum", momentum, "0.9")
    _base.check_choice(where, "form", form, MOMENTUM_FORMS)
    if form == "heavy_ball":
        return optax.chain(_t.scale_by_heavy_ball(learning_rate, momentum, accumulator_dtype))
    return optax.chain(
        _t.scale_by_momentum(momentum, ema=form == "ema", accumulator_dtype=accumulator_dtype),
        _t.scale_by_learning_rate(learning_rate),
    )


def nesterov(
    learning_rate: optax.ScalarOrSchedule,
    momentum: ArrayLike = 0.9,
    form: str = "reformulated",
    loss_fn: Callable[..., jax.Array] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Nesterov accelerated gradient, in its look-ahead or its reformulated form.

    ``form="lookahead"`` (Nesterov 1983, as taught; the gradient at the look-ahead point):

    .. math::

        v_{t+1} = \mu v_t - \eta_t \nabla f(\theta_t + \mu v_t), \qquad
        \theta_{t+1} = \theta_t + v_{t+1}

    ``form="reformulated"`` (Bengio et al. 2012; Sutskever et al. 2013): with the change
    of variables :math:`\Theta_t = \theta_t + \mu v_t` the same iteration reads

    .. math::

        v_{t+1} = \mu v_t - \eta_t \nabla f(\Theta_t), \qquad
        \Theta_{t+1} = \Theta_t + \mu v_{t+1} - \eta_t \nabla f(\Theta_t)

    so it needs only the gradient at the current parameters, like any optimizer. Both
    start from :math:`\Theta_0 = \theta_0` (:math:`v_0 = 0`): the reformulated form's
    parameters are the look-ahead points of the first, and both converge to the same
    point. For a constant ``η`` it equals ``optax.sgd(η, μ, nesterov=True)``.

    The look-ahead form differentiates the loss itself, so it needs the loss: give it
    once, ``nesterov(η, form="lookahead", loss_fn=loss)``, or at each step,
    ``opt.update(None, state, params, value_fn=loss, batch=batch)``; further keyword
    arguments go to the loss, and the gradient argument is not used (pass ``None``).

    Args:
        learning_rate: step size ``η`` > 0, or a schedule ``step -> η_t``.
        momentum: ``μ`` in [0, 1).
        form: ``"reformulated"`` (default) or ``"lookahead"``.
        loss_fn: ``loss(params, **kwargs) -> scalar``, for ``form="lookahead"``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: 0.5 * (10 * p[0] ** 2 + p[1] ** 2)
        >>> opt = jnn.optim.nesterov(0.05, form="lookahead", loss_fn=loss)
        >>> params = jnp.array([1.0, 1.0]); state = opt.init(params)
        >>> for _ in range(200):
        ...     updates, state = opt.update(None, state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-6)
        True

    References:
        Nesterov, A method of solving a convex programming problem with convergence
        rate O(1/k²), Soviet Mathematics Doklady, 1983.

        Bengio et al., `Advances in optimizing recurrent networks
        <https://arxiv.org/abs/1212.0901>`_, 2012.

        Sutskever et al., `On the importance of initialization and momentum in deep
        learning <https://proceedings.mlr.press/v28/sutskever13.html>`_, 2013.
    """
    where = "jnn.optim.nesterov"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "momentum", momentum, "0.9")
    _base.check_choice(where, "form", form, NESTEROV_FORMS)
    if form == "lookahead":
        return optax.chain(_t.scale_by_nesterov_lookahead(learning_rate, momentum, loss_fn))
    return optax.chain(_t.scale_by_nesterov(learning_rate, momentum))


def adagrad(
    learning_rate: optax.ScalarOrSchedule,
    eps: ArrayLike = 1e-7,
    initial_accumulator_value: ArrayLike = 0.0,
    eps_in_sqrt: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Adagrad: per-parameter step sizes from the sum of all squared gradients.

    .. math::

        r_t = r_{t-1} + g_t \odot g_t, \qquad
        \theta_{t+1} = \theta_t - \frac{\eta_t}{\delta + \sqrt{r_t}} \odot g_t

    with :math:`r_0` = ``initial_accumulator_value`` and ``δ`` = ``eps`` (10⁻⁷).
    Large past gradients shrink a parameter's step quickly; the steps only ever shrink.

    .. warning::
        optax's ``adagrad`` starts from :math:`r_0 = 0.1` and puts ``δ`` inside the
        root, :math:`g / \sqrt{r + δ}`; ``adagrad(η, initial_accumulator_value=0.1,
        eps_in_sqrt=True)`` reproduces it. PyTorch uses ``δ`` outside with
        :math:`r_0 = 0` and ``δ = 1e-10``.

    Args:
        learning_rate: global step size ``η`` > 0, or a schedule.
        eps: ``δ`` > 0.
        initial_accumulator_value: :math:`r_0` >= 0.
        eps_in_sqrt: use :math:`\sqrt{r + δ}` instead of :math:`δ + \sqrt{r}`.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.adagrad(0.5)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(100):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-6)
        True

    References:
        Duchi et al., `Adaptive subgradient methods for online learning and stochastic
        optimization <https://jmlr.org/papers/v12/duchi11a.html>`_, 2011.
    """
    where = "jnn.optim.adagrad"
    _base.check_learning_rate(where, learning_rate)
    _base.check_positive(where, "eps", eps, "1e-7")
    _base.check_nonnegative(where, "initial_accumulator_value", initial_accumulator_value, "0.0")
    return optax.chain(
        _ta.scale_by_adagrad(eps, initial_accumulator_value, eps_in_sqrt),
        _t.scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    learning_rate: optax.ScalarOrSchedule,
    decay: ArrayLike = 0.9,
    eps: ArrayLike = 1e-8,
    momentum: ArrayLike | None = None,
    centered: bool = False,
    eps_in_sqrt: bool = False,
    initial_scale: ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""RMSProp: Adagrad with an exponential moving average instead of a sum.

    .. math::

        r_t = \rho r_{t-1} + (1 - \rho)\, g_t \odot g_t, \qquad
        \theta_{t+1} = \theta_t - \frac{\eta_t}{\delta + \sqrt{r_t}} \odot g_t

    ``centered=True`` (Graves 2013) divides by the standard deviation instead:
    :math:`\bar g_t = \rho \bar g_{t-1} + (1-\rho) g_t` and the denominator is
    :math:`\delta + \sqrt{r_t - \bar g_t^2}`. With ``momentum=μ`` the scaled steps
    are accumulated, :math:`b_t = \mu b_{t-1} - \eta_t\, g_t / (\delta + \sqrt{r_t})`,
    :math:`\theta_{t+1} = \theta_t + b_t` (optax's order; PyTorch's for constant ``η``).

    .. warning::
        optax's ``rmsprop`` defaults to ``δ`` inside the root,
        :math:`g/\sqrt{r + δ}`; pass ``eps_in_sqrt=True`` to reproduce it. jnn's default
        (``δ`` outside) is the course's and PyTorch's.

    Args:
        learning_rate: global step size ``η`` > 0, or a schedule.
        decay: ``ρ`` in [0, 1).
        eps: ``δ`` > 0.
        momentum: ``μ`` in [0, 1), or ``None`` for no momentum.
        centered: normalize by the centered second moment.
        eps_in_sqrt: use :math:`\sqrt{r + δ}` instead of :math:`δ + \sqrt{r}`.
        initial_scale: :math:`r_0` >= 0 (PyTorch uses 0, TensorFlow 1 used 1).

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.rmsprop(0.01)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(300):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-2)
        True

    References:
        Hinton, `Neural networks for machine learning, lecture 6e
        <https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf>`_, 2012.

        Graves, `Generating sequences with recurrent neural networks
        <https://arxiv.org/abs/1308.0850>`_, 2013.
    """
    where = "jnn.optim.rmsprop"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "decay", decay, "0.9")
    _base.check_positive(where, "eps", eps, "1e-8")
    if momentum is not None:
        _base.check_decay(where, "momentum", momentum, "0.9")
    _base.check_nonnegative(where, "initial_scale", initial_scale, "0.0")
    blocks = [
        _ta.scale_by_rms(decay, eps, eps_in_sqrt, centered, initial_scale),
        _t.scale_by_learning_rate(learning_rate),
    ]
    if momentum is not None:
        blocks.append(_t.scale_by_momentum(momentum))
    return optax.chain(*blocks)


def adadelta(
    learning_rate: optax.ScalarOrSchedule = 1.0, rho: ArrayLike = 0.9, eps: ArrayLike = 1e-6
) -> optax.GradientTransformationExtraArgs:
    r"""Adadelta: step sizes from the ratio of past step and gradient magnitudes.

    Zeiler's Algorithm 1, with :math:`\mathrm{RMS}[y]_t = \sqrt{E[y^2]_t + \epsilon}`:

    .. math::

        E[g^2]_t &= \rho E[g^2]_{t-1} + (1-\rho)\, g_t^2 \\
        \Delta x_t &= -\frac{\mathrm{RMS}[\Delta x]_{t-1}}{\mathrm{RMS}[g]_t}\, g_t \\
        E[\Delta x^2]_t &= \rho E[\Delta x^2]_{t-1} + (1-\rho)\, \Delta x_t^2 \\
        x_{t+1} &= x_t + \eta_t \Delta x_t

    The paper has no learning rate (``η = 1``, the default). As in PyTorch and optax,
    :math:`E[\Delta x^2]` accumulates the step before ``η`` multiplies it.

    .. warning::
        ``optax.adadelta()`` called without a learning rate (optax 0.2.8) returns
        :math:`-\Delta x`, a step *up* the gradient; pass ``learning_rate=1.0`` to it.

    Args:
        learning_rate: multiplier ``η`` > 0 of the step, or a schedule.
        rho: decay ``ρ`` in [0, 1).
        eps: ``ε`` > 0.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.adadelta(rho=0.9, eps=1e-3)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(300):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-3)
        True

    References:
        Zeiler, `ADADELTA: an adaptive learning rate method
        <https://arxiv.org/abs/1212.5701>`_, 2012.
    """
    where = "jnn.optim.adadelta"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "rho", rho, "0.9")
    _base.check_positive(where, "eps", eps, "1e-6")
    return optax.chain(
        _ta.scale_by_adadelta(rho, eps), _t.scale_by_learning_rate(learning_rate)
    )


def rprop(
    learning_rate: ArrayLike,
    eta_minus: ArrayLike = 0.5,
    eta_plus: ArrayLike = 1.2,
    min_step_size: ArrayLike = 1e-6,
    max_step_size: ArrayLike = 50.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Rprop (iRprop−): per-parameter step sizes driven by the sign of the gradient only.

    .. math::

        \Delta_t =
        \begin{cases}
          \min(\eta^+ \Delta_{t-1}, \Delta_{\max}) & g_t g_{t-1} > 0 \\
          \max(\eta^- \Delta_{t-1}, \Delta_{\min}) & g_t g_{t-1} < 0
             \ (\text{then } g_t \leftarrow 0) \\
          \Delta_{t-1} & \text{otherwise}
        \end{cases}
        \qquad
        \theta_{t+1} = \theta_t - \operatorname{sign}(g_t)\, \Delta_t

    with :math:`\Delta_0` = ``learning_rate``. Setting :math:`g_t \leftarrow 0` after a
    sign change (so that the next step neither grows nor shrinks the step size) is the
    iRprop− variant of Igel & Hüsken, which PyTorch's ``Rprop`` implements. Rprop is
    meant for full-batch training: minibatch noise flips gradient signs at random.

    .. warning::
        optax 0.2.8's ``rprop`` returns the *previous* step's update (its first update
        is zero; optax pull request #1725). jnn matches ``torch.optim.Rprop``.

    Args:
        learning_rate: initial step size :math:`\Delta_0` > 0.
        eta_minus: :math:`\eta^-` > 0 (below 1), applied after a sign change.
        eta_plus: :math:`\eta^+` > 0 (above 1), applied while the sign stays.
        min_step_size: :math:`\Delta_{\min}` > 0.
        max_step_size: :math:`\Delta_{\max}` > 0.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.rprop(0.1)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(100):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-6)
        True

    References:
        Riedmiller & Braun, `A direct adaptive method for faster backpropagation
        learning: the RPROP algorithm <https://doi.org/10.1109/ICNN.1993.298623>`_, 1993.

        Igel & Hüsken, `Improving the Rprop learning algorithm
        <https://citeseerx.ist.psu.edu/document?doi=10.1.1.17.1332>`_, 2000.
    """
    where = "jnn.optim.rprop"
    _base.check_learning_rate(where, learning_rate)
    _base.check_positive(where, "eta_minus", eta_minus, "0.5")
    _base.check_positive(where, "eta_plus", eta_plus, "1.2")
    _base.check_positive(where, "min_step_size", min_step_size, "1e-6")
    _base.check_positive(where, "max_step_size", max_step_size, "50.0")
    return optax.chain(
        _ta.scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
        _t.scale_by_learning_rate(1.0),
    )
