"""Adam and its family: Adam, NAdam, AMSGrad, AdamW, Lion and Adam-mini.

Each optimizer is an ``optax.chain`` of jnn blocks (decoupled weight decay is optax's
``add_decayed_weights``), so it returns an ``optax.GradientTransformationExtraArgs``.
"""

from __future__ import annotations

from typing import Any

import optax
from jax.typing import ArrayLike

from jnn.optim import _base
from jnn.optim import _transform as _t
from jnn.optim import _transform_adam as _tadam

_check_adam = _tadam._check_adam_hyperparameters


def adam(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    mu_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adam: momentum on the gradient, scaled by a running root-mean-square.

    Kingma & Ba, Algorithm 1 (defaults :math:`\alpha = 10^{-3}, \beta_1 = 0.9,
    \beta_2 = 0.999, \epsilon = 10^{-8}`):

    .. math::

        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \hat m_t &= m_t / (1 - \beta_1^t), \qquad \hat v_t = v_t / (1 - \beta_2^t) \\
        \theta_t &= \theta_{t-1} - \alpha_t\, \hat m_t / (\sqrt{\hat v_t + \bar\epsilon}
            + \epsilon)

    (``eps_root`` = :math:`\bar\epsilon`, 0 in the paper). At :math:`t = 1`,
    :math:`\hat m_1 = g_1`: the first step has length about ``α`` in every coordinate.

    Args:
        learning_rate: step size ``α`` > 0, or a schedule.
        b1: :math:`\beta_1` in [0, 1).
        b2: :math:`\beta_2` in [0, 1).
        eps: :math:`\epsilon` > 0 (outside the root).
        eps_root: :math:`\bar\epsilon` >= 0 (inside the root).
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.adam(0.1)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(200):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-3)
        True

    References:
        Kingma & Ba, `Adam: a method for stochastic optimization
        <https://arxiv.org/abs/1412.6980>`_, 2015.
    """
    where = "jnn.optim.adam"
    _base.check_learning_rate(where, learning_rate)
    _check_adam(where, b1, b2, eps, eps_root)
    return optax.chain(
        _tadam.scale_by_adam(b1, b2, eps, eps_root, mu_dtype),
        _t.scale_by_learning_rate(learning_rate),
    )


def nadam(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    momentum_decay: ArrayLike | None = None,
    mu_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    r"""NAdam: Adam with Nesterov momentum (Dozat 2016).

    With a momentum schedule :math:`\mu_t`:

    .. math::

        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \bar m_t &= \frac{\mu_{t+1}\, m_t}{1 - \prod_{i=1}^{t+1} \mu_i}
            + \frac{(1-\mu_t)\, g_t}{1 - \prod_{i=1}^{t} \mu_i}, \qquad
        \hat v_t = \frac{v_t}{1 - \beta_2^t} \\
        \theta_t &= \theta_{t-1} - \alpha_t\, \bar m_t / (\sqrt{\hat v_t + \bar\epsilon}
            + \epsilon)

    ``momentum_decay=ψ`` uses the paper's warming schedule
    :math:`\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi})` (the paper and PyTorch use
    ψ = 0.004). ``momentum_decay=None`` (default) keeps :math:`\mu_t = \beta_1`, the
    simplification optax uses, where the products become :math:`\beta_1^{t}` and
    :math:`\beta_1^{t+1}`.

    .. warning::
        Where jnn differs. (1) ``torch.optim.NAdam`` always uses the schedule
        (``momentum_decay=4e-3``): pass ``momentum_decay=0.004`` to reproduce it; the
        default reproduces ``optax.nadam``. (2) Algorithm 2 of the paper as printed also
        multiplies :math:`\hat v_t` by :math:`\beta_2`; like the author's Keras code,
        optax and PyTorch, jnn leaves that factor out (it only rescales ``α`` by
        :math:`1/\sqrt{\beta_2}`).

    Args:
        learning_rate: step size ``α`` > 0, or a schedule.
        b1: :math:`\beta_1` in [0, 1).
        b2: :math:`\beta_2` in [0, 1).
        eps: :math:`\epsilon` > 0 (outside the root).
        eps_root: :math:`\bar\epsilon` >= 0 (inside the root).
        momentum_decay: ψ >= 0 of the momentum schedule, or ``None`` for constant
            :math:`\mu_t = \beta_1`.
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.nadam(0.1, momentum_decay=0.004)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(200):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-3)
        True

    References:
        Dozat, `Incorporating Nesterov momentum into Adam
        <https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ>`_, ICLR workshop 2016.
    """
    where = "jnn.optim.nadam"
    _base.check_learning_rate(where, learning_rate)
    _check_adam(where, b1, b2, eps, eps_root)
    if momentum_decay is not None:
        _base.check_nonnegative(where, "momentum_decay", momentum_decay, "0.004")
    return optax.chain(
        _tadam.scale_by_nadam(b1, b2, eps, eps_root, momentum_decay, mu_dtype),
        _t.scale_by_learning_rate(learning_rate),
    )


def amsgrad(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    mu_dtype: Any = None,
    bias_correction: bool = True,
) -> optax.GradientTransformationExtraArgs:
    r"""AMSGrad: Adam whose second-moment estimate never decreases.

    .. math::

        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \hat v^{\max}_t &= \max(\hat v^{\max}_{t-1}, \hat v_t) \\
        \theta_t &= \theta_{t-1} - \alpha_t\, \hat m_t /
            (\sqrt{\hat v^{\max}_t + \bar\epsilon} + \epsilon)

    With ``bias_correction=True`` (default, as optax) :math:`\hat m, \hat v` are Adam's
    bias-corrected moments; ``False`` uses :math:`m_t, v_t` themselves, as in
    Algorithm 2 of the paper (there with constant :math:`\beta_1`). The running maximum
    keeps the effective step size from growing, which fixes Adam's divergence on the
    paper's counterexample.

    .. warning::
        PyTorch's ``Adam(amsgrad=True)`` is a third variant: it takes the maximum of
        the *uncorrected* :math:`v_t` and divides it by :math:`1-\beta_2^t` afterwards.

    Args:
        learning_rate: step size ``α`` > 0, or a schedule.
        b1: :math:`\beta_1` in [0, 1).
        b2: :math:`\beta_2` in [0, 1).
        eps: :math:`\epsilon` > 0 (outside the root).
        eps_root: :math:`\bar\epsilon` >= 0 (inside the root).
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.
        bias_correction: bias-correct the moments before the maximum.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.amsgrad(0.1)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(200):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-2)
        True

    References:
        Reddi, Kale & Kumar, `On the convergence of Adam and beyond
        <https://openreview.net/forum?id=ryQu7f-RZ>`_, ICLR 2018.
    """
    where = "jnn.optim.amsgrad"
    _base.check_learning_rate(where, learning_rate)
    _check_adam(where, b1, b2, eps, eps_root)
    return optax.chain(
        _tadam.scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype, bias_correction),
        _t.scale_by_learning_rate(learning_rate),
    )


def adamw(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    mu_dtype: Any = None,
    weight_decay: ArrayLike = 1e-4,
    mask: Any = _base.AUTO_MASK,
) -> optax.GradientTransformationExtraArgs:
    r"""AdamW: Adam with decoupled weight decay.

    .. math::

        \theta_t = \theta_{t-1} - \alpha_t \left( \hat m_t /
            (\sqrt{\hat v_t + \bar\epsilon} + \epsilon) + \lambda\, \theta_{t-1} \right)

    with :math:`\hat m_t, \hat v_t` as in :func:`adam` and :math:`\lambda` =
    ``weight_decay``. Adding :math:`\tfrac{\lambda}{2}\|\theta\|^2` to the loss is not
    the same for Adam: that term's gradient would be divided by :math:`\sqrt{\hat v}`
    too, so weights with large gradients would be decayed less. Decoupling applies the
    same relative decay to every weight (Loshchilov & Hutter, Proposition 2).

    By default (``mask="auto"``) only leaves with ``ndim >= 2`` (kernels, weight
    matrices) decay; biases and normalization scales (``ndim <= 1``) do not.

    .. warning::
        optax's and PyTorch's ``adamw`` decay every parameter unless told otherwise;
        pass ``mask=None`` for that. As in both, :math:`\lambda` is multiplied by the
        learning rate (the paper multiplies it only by the schedule's multiplier).
        Under ``optax.inject_hyperparams`` pass a callable mask through ``static_args``.

    Args:
        learning_rate: step size ``α`` > 0, or a schedule.
        b1: :math:`\beta_1` in [0, 1).
        b2: :math:`\beta_2` in [0, 1).
        eps: :math:`\epsilon` > 0 (outside the root).
        eps_root: :math:`\bar\epsilon` >= 0 (inside the root).
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.
        weight_decay: :math:`\lambda` >= 0.
        mask: ``"auto"`` (decay leaves with ``ndim >= 2``), ``None`` (decay all), a
            tree of bools like the params, or a function ``params -> tree of bools``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> params = {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}
        >>> opt = jnn.optim.adamw(0.1, weight_decay=0.5)
        >>> state = opt.init(params)
        >>> zero = jax.tree.map(jnp.zeros_like, params)  # no gradient: only decay acts
        >>> updates, state = opt.update(zero, state, params)
        >>> print(updates["kernel"][0, 0], abs(updates["bias"][0]))  # -α λ θ and 0
        -0.05 0.0

    References:
        Loshchilov & Hutter, `Decoupled weight decay regularization
        <https://arxiv.org/abs/1711.05101>`_, ICLR 2019.
    """
    where = "jnn.optim.adamw"
    _base.check_learning_rate(where, learning_rate)
    _check_adam(where, b1, b2, eps, eps_root)
    return optax.chain(
        _tadam.scale_by_adam(b1, b2, eps, eps_root, mu_dtype),
        _base.decoupled_weight_decay(where, weight_decay, mask),
        _t.scale_by_learning_rate(learning_rate),
    )


def lion(
    learning_rate: optax.ScalarOrSchedule = 1e-4,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.99,
    mu_dtype: Any = None,
    weight_decay: ArrayLike = 1e-3,
    mask: Any = _base.AUTO_MASK,
) -> optax.GradientTransformationExtraArgs:
    r"""Lion: the sign of an interpolated momentum, with decoupled weight decay.

    .. math::

        c_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        \theta_t &= \theta_{t-1} - \eta_t \left( \operatorname{sign}(c_t)
            + \lambda\, \theta_{t-1} \right) \\
        m_t &= \beta_2 m_{t-1} + (1-\beta_2)\, g_t

    Every coordinate moves by exactly ``η`` (plus decay), so Lion wants a learning rate
    3-10x smaller than AdamW's and a weight decay 3-10x larger. ``mask`` as in
    :func:`adamw` (default: decay only leaves with ``ndim >= 2``).

    .. warning::
        optax's ``lion`` decays every parameter by default; pass ``mask=None`` for that.

    Args:
        learning_rate: step size ``η`` > 0, or a schedule.
        b1: :math:`\beta_1` in [0, 1).
        b2: :math:`\beta_2` in [0, 1).
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.
        weight_decay: :math:`\lambda` >= 0.
        mask: ``"auto"``, ``None``, a tree of bools or a function (see :func:`adamw`).

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p ** 2)
        >>> opt = jnn.optim.lion(0.01)
        >>> params = jnp.array([1.0, 2.0]); state = opt.init(params)
        >>> for _ in range(500):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-2)
        True

    References:
        Chen et al., `Symbolic discovery of optimization algorithms
        <https://arxiv.org/abs/2302.06675>`_, 2023.
    """
    where = "jnn.optim.lion"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "b1", b1, "0.9")
    _base.check_decay(where, "b2", b2, "0.99")
    return optax.chain(
        _tadam.scale_by_lion(b1, b2, mu_dtype),
        _base.decoupled_weight_decay(where, weight_decay, mask),
        _t.scale_by_learning_rate(learning_rate),
    )


def adam_mini(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    mu_dtype: Any = None,
    weight_decay: ArrayLike = 0.0,
    mask: Any = _base.AUTO_MASK,
) -> optax.GradientTransformationExtraArgs:
    r"""Adam-mini: Adam with one second-moment scalar per parameter block.

    Zhang et al., Algorithm 1, for each block :math:`b` of :math:`|b|` parameters:

    .. math::

        m &= \beta_1 m + (1-\beta_1)\, g \\
        v_b &= \beta_2 v_b + (1-\beta_2)\, \tfrac{1}{|b|} \textstyle\sum_{i \in b} g_i^2 \\
        \theta &= \theta - \eta_t \left( \frac{m / (1-\beta_1^t)}
            {\sqrt{v_b / (1-\beta_2^t)} + \epsilon} + \lambda\, \theta \right)

    So a block shares one step size, and the second moment costs one number per block
    instead of one per parameter (about half of Adam's optimizer memory).

    Blocks. The paper partitions by the Hessian's block-diagonal structure: for
    Transformers, queries and keys by head, and value, projection and MLP weights by
    output neuron. jnn applies the output-neuron rule to every leaf with ``ndim >= 2``:
    a Dense kernel ``(in, out)`` has ``out`` blocks (its columns: each unit's incoming
    weights), a convolution kernel ``(kh, kw, in, out)`` one block per output channel.
    A leaf with ``ndim <= 1`` (bias, normalization scale) is one block. An embedding
    table stored as ``(vocab, dim)`` therefore gets one block per feature, not per
    token as in the paper; transpose it if that matters.

    Args:
        learning_rate: step size ``η`` > 0, or a schedule.
        b1: :math:`\beta_1` in [0, 1).
        b2: :math:`\beta_2` in [0, 1).
        eps: :math:`\epsilon` > 0 (outside the root).
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.
        weight_decay: decoupled :math:`\lambda` >= 0 (AdamW-style, as in the paper).
        mask: ``"auto"``, ``None``, a tree of bools or a function (see :func:`adamw`).

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim
        >>> loss = lambda p: jnp.sum(p["kernel"] ** 2) + jnp.sum(p["bias"] ** 2)
        >>> params = {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}
        >>> opt = jnn.optim.adam_mini(0.1)
        >>> state = opt.init(params)
        >>> jax.tree.map(jnp.shape, state[0].nu)  # one v per column, one for the bias
        {'bias': (1,), 'kernel': (1, 2)}
        >>> for _ in range(200):
        ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-3)
        True

    References:
        Zhang et al., `Adam-mini: use fewer learning rates to gain more
        <https://arxiv.org/abs/2406.16793>`_, ICLR 2025.
    """
    where = "jnn.optim.adam_mini"
    _base.check_learning_rate(where, learning_rate)
    _check_adam(where, b1, b2, eps, 0.0)
    return optax.chain(
        _tadam.scale_by_adam_mini(b1, b2, eps, mu_dtype),
        _base.decoupled_weight_decay(where, weight_decay, mask),
        _t.scale_by_learning_rate(learning_rate),
    )
