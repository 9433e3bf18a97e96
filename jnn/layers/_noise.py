"""Noise injection in training: on activations (GaussianNoise) and on weights (WeightNoise)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn.layers._base import MISSING_KEY_MSG, Layer, as_layer, check_keywords


def _check_stddev(where: str, stddev: float) -> None:
    if isinstance(stddev, bool) or not _checks.is_concrete_number(stddev):
        raise TypeError(
            f"{where}: stddev must be a non-negative number; got {stddev!r} "
            f"(type {type(stddev).__name__})."
        )
    _checks.number_in_range(
        where, "stddev", stddev, 0.0, None,
        fix="It is the standard deviation of the added Gaussian noise, e.g. 0.1.",
    )


@dataclasses.dataclass(frozen=True, repr=False)
class GaussianNoise(Layer):
    r"""Additive Gaussian noise on inputs or activations in training; identity in evaluation.

    .. math::
        y = x + \sigma\,\varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)
        \ \ \text{(train)}, \qquad y = x\ \ \text{(eval)}

    Injecting noise at the input is a form of data augmentation (Goodfellow et al.,
    *Deep Learning*, 7.5); for a linear model and squared loss it is equivalent in
    expectation to an L2 penalty (Bishop 1995). The noise comes only from ``key``,
    which is required in training.

    Args:
        stddev: :math:`\sigma \ge 0`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = GaussianNoise(0.1)
        >>> x = jnp.zeros((2, 3))
        >>> y, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
        >>> bool((y != 0).all()), bool((layer.apply({}, {}, x)[0] == 0).all())
        (True, True)

    References:
        Bishop, "Training with Noise is Equivalent to Tikhonov Regularization",
        Neural Computation 7(1), 1995. https://doi.org/10.1162/neco.1995.7.1.108
    """

    stddev: float

    def __post_init__(self):
        _check_stddev("GaussianNoise", self.stddev)

    def init(self, key, x):
        del key
        _checks.floating_input("GaussianNoise.init", "x", x)
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params
        where = "GaussianNoise.apply"
        _checks.floating_input(where, "x", x)
        if not train:
            return x, state
        if key is None:
            raise ValueError(MISSING_KEY_MSG.format(where=where))
        noise = jax.random.normal(key, x.shape, x.dtype)
        return x + self.stddev * noise, state


def perturb(key: jax.Array, params, stddev: float):
    """``params + stddev * N(0, I)`` on every floating leaf (one fresh key per leaf)."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, max(len(leaves), 1))
    noisy = [
        leaf + stddev * jax.random.normal(k, jnp.shape(leaf), leaf.dtype)
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)
        else leaf
        for leaf, k in zip(leaves, keys)
    ]
    return jax.tree.unflatten(treedef, noisy)


@dataclasses.dataclass(frozen=True, repr=False)
class WeightNoise(Layer):
    r"""Runs ``layer`` with Gaussian noise added to its weights in training.

    Each training forward pass draws fresh noise for every floating parameter and
    evaluates the wrapped layer at the perturbed point; the loss and its gradient are
    computed there, and the gradient flows to the clean parameters (the perturbation
    is additive, so :math:`\partial \tilde\theta / \partial \theta = I`):

    .. math::
        \tilde\theta = \theta + \sigma\,\varepsilon_W, \quad
        \varepsilon_W \sim \mathcal{N}(0, I), \qquad
        \hat y = f(x; \tilde\theta)\ \ \text{(train)}, \qquad
        \hat y = f(x; \theta)\ \ \text{(eval)}

    Minimizing :math:`\mathbb{E}_\varepsilon L(f(x;\theta+\sigma\varepsilon), y)`
    favours flat minima (to second order it adds
    :math:`\tfrac{\sigma^2}{2}\operatorname{tr}\nabla^2_\theta L`). Params and state
    are exactly the wrapped layer's, so ``WeightNoise(Dense(3))`` has Dense's params.
    The key is required in training; it is split into one key for the noise and one
    passed on to the wrapped layer (for its own dropout, say).

    Args:
        layer: any jnn layer (or a plain callable, which has no weights).
        stddev: :math:`\sigma \ge 0`, the noise standard deviation, the same for
            every parameter (biases included).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense
        >>> layer = WeightNoise(Dense(2), stddev=0.01)
        >>> params, state = layer.init(jax.random.key(0), jnp.ones((1, 3)))
        >>> sorted(params)
        ['bias', 'kernel']
        >>> y, _ = layer.apply(params, state, jnp.ones((1, 3)), key=jax.random.key(1),
        ...                    train=True)

    References:
        Graves, "Practical Variational Inference for Neural Networks", NeurIPS 2011.
        https://papers.nips.cc/paper/4329-practical-variational-inference-for-neural-networks
        An, "The Effects of Adding Noise During Backpropagation Training on a
        Generalization Performance", Neural Computation 8(3), 1996.
    """

    layer: Layer
    stddev: float

    def __post_init__(self):
        object.__setattr__(self, "layer", as_layer(self.layer, where="WeightNoise"))
        _check_stddev("WeightNoise", self.stddev)

    def init(self, key, x):
        return self.layer.init(key, x)

    def accepts_keyword(self, name: str) -> bool:
        return self.layer.accepts_keyword(name)

    def apply(self, params, state, x, *, key=None, train=False, **kwargs):
        check_keywords("WeightNoise.apply", kwargs, [self.layer])
        if not train:
            return self.layer.apply(params, state, x, key=key, train=False, **kwargs)
        if key is None:
            raise ValueError(MISSING_KEY_MSG.format(where="WeightNoise.apply"))
        noise_key, inner_key = jax.random.split(key)
        noisy = perturb(noise_key, params, self.stddev)
        return self.layer.apply(noisy, state, x, key=inner_key, train=True, **kwargs)
