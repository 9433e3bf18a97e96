r"""Adversarial examples: FGSM and PGD (L∞ and L2) as pure functions of a key.

An attack maps ``(params, state, x, y, key) -> x_adv``; ``fit(..., attack=...)`` trains on
the attacked batches (adversarial training) and ``evaluate(..., attack=...)`` reports
robust loss and accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn.layers import Layer

Attack = Callable[[Any, Any, jax.Array, jax.Array, jax.Array | None], jax.Array]


def _input_gradient(model: Layer, loss: Callable, params, state, x, y):
    def loss_of_input(x_):
        return loss(model.apply(params, state, x_)[0], y)

    return jax.grad(loss_of_input)(x)


def _clip(x, bounds):
    return x if bounds is None else jnp.clip(x, bounds[0], bounds[1])


def _check_common(where: str, epsilon, bounds) -> None:
    _checks.number_in_range(where, "epsilon", epsilon, 0, low_inclusive=False,
                            fix="It is the radius of the perturbation ball.")
    if bounds is not None and (len(bounds) != 2 or not bounds[0] < bounds[1]):
        raise ValueError(f"{where}: bounds must be (low, high) with low < high, e.g. (0.0, 1.0) "
                         f"for images; got {bounds!r}.")


def fgsm(model: Layer, loss: Callable, *, epsilon: float,
         bounds: tuple[float, float] | None = None) -> Attack:
    r"""Fast gradient sign method (Goodfellow, Shlens, Szegedy 2015).

    .. math:: x_\text{adv} = \operatorname{clip}\big(x + \epsilon\,
              \operatorname{sign}(\nabla_x L(f_\theta(x), y))\big)

    Args:
        model: the attacked model (evaluated in eval mode).
        loss: ``loss(predictions, targets) -> scalar``.
        epsilon: the L∞ radius.
        bounds: the valid input range, e.g. ``(0.0, 1.0)``; ``None`` for no clipping.

    Returns:
        ``attack(params, state, x, y, key=None) -> x_adv``.

    References:
        Goodfellow, Shlens, Szegedy, "Explaining and Harnessing Adversarial Examples",
        2015. https://arxiv.org/abs/1412.6572
    """
    _check_common("fgsm", epsilon, bounds)

    def attack(params, state, x, y, key=None):
        del key
        g = _input_gradient(model, loss, params, state, x, y)
        return jax.lax.stop_gradient(_clip(x + epsilon * jnp.sign(g), bounds))

    return attack


def _l2_normalize(g):
    axes = tuple(range(1, g.ndim))
    norm = jnp.sqrt(jnp.sum(g * g, axis=axes, keepdims=True))
    return g / jnp.maximum(norm, 1e-12)


def _project_l2(delta, epsilon):
    axes = tuple(range(1, delta.ndim))
    norm = jnp.sqrt(jnp.sum(delta * delta, axis=axes, keepdims=True))
    return delta * jnp.minimum(1.0, epsilon / jnp.maximum(norm, 1e-12))


def pgd(model: Layer, loss: Callable, *, epsilon: float, step_size: float | None = None,
        num_steps: int = 10, norm: str = "linf", random_start: bool = True,
        bounds: tuple[float, float] | None = None) -> Attack:
    r"""Projected gradient descent on the input (Madry et al. 2018), in L∞ or L2.

    .. math::
        x^{k+1} = \Pi_{B_\epsilon(x)}\big(x^k + \alpha\, s(\nabla_x L(f_\theta(x^k), y))\big)

    with :math:`s = \operatorname{sign}` for L∞ and :math:`s(g) = g/\lVert g\rVert_2` per
    example for L2, projected back onto the ε-ball around ``x`` (and into ``bounds``).
    The steps run in a ``lax.fori_loop``; a random start inside the ball needs ``key``.

    Args:
        epsilon: the radius. step_size: α, by default ``2.5 ε / num_steps``.
        num_steps: iterations. norm: ``"linf"`` or ``"l2"``.
        random_start: start from a uniform point in the L∞ ball (or a random direction
            scaled into the L2 ball).

    References:
        Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards Deep Learning Models Resistant
        to Adversarial Attacks", 2018. https://arxiv.org/abs/1706.06083
    """
    where = "pgd"
    _check_common(where, epsilon, bounds)
    num_steps = _checks.positive_int(where, "num_steps", num_steps)
    if norm not in ("linf", "l2"):
        raise ValueError(f"{where}: norm must be 'linf' or 'l2'; got {norm!r}.")
    alpha = 2.5 * epsilon / num_steps if step_size is None else step_size
    _checks.number_in_range(where, "step_size", alpha, 0, low_inclusive=False)

    def project(x_adv, x):
        delta = x_adv - x
        delta = jnp.clip(delta, -epsilon, epsilon) if norm == "linf" else _project_l2(
            delta, epsilon)
        return _clip(x + delta, bounds)

    def attack(params, state, x, y, key=None):
        if random_start:
            if key is None:
                raise ValueError(f"{where}: random_start=True needs a key; call "
                                 f"attack(params, state, x, y, key) or use random_start=False.")
            noise = jax.random.uniform(key, x.shape, x.dtype, -epsilon, epsilon)
            x_adv = project(x + (noise if norm == "linf" else _project_l2(noise, epsilon)), x)
        else:
            x_adv = x

        def body(_, x_adv):
            g = _input_gradient(model, loss, params, state, x_adv, y)
            direction = jnp.sign(g) if norm == "linf" else _l2_normalize(g)
            return project(x_adv + alpha * direction, x)

        return jax.lax.stop_gradient(jax.lax.fori_loop(0, num_steps, body, x_adv))

    return attack
