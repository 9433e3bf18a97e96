"""Dropout: random unit (or whole-channel) masking in training, identity in evaluation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn.layers._base import MISSING_KEY_MSG, Layer


def check_rate(where: str, rate: float) -> None:
    """``rate`` is the probability of dropping a unit: a number in ``[0, 1)``."""
    if isinstance(rate, bool) or not _checks.is_concrete_number(rate):
        raise TypeError(
            f"{where}: rate must be a number in [0, 1) (the probability of dropping a unit); "
            f"got {rate!r} (type {type(rate).__name__})."
        )
    _checks.number_in_range(
        where, "rate", rate, 0.0, 1.0, high_inclusive=False,
        fix="rate is the probability of DROPPING a unit, e.g. 0.5 for hidden units, "
        "0.2 for inputs; rate=1 would drop everything.",
    )


def dropout(key: jax.Array, x: jax.Array, rate: float, mask_shape: tuple[int, ...]):
    """Inverted dropout of ``x`` with a Bernoulli keep-mask of ``mask_shape`` (broadcast)."""
    if rate == 0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, mask_shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype))


@dataclasses.dataclass(frozen=True, repr=False)
class Dropout(Layer):
    r"""Inverted dropout (Srivastava et al. 2014): drop each unit with probability ``rate``.

    In training every unit is kept independently with probability :math:`q = 1 - p`
    (``p = rate``), and survivors are scaled by :math:`1/q` so the expected output
    equals the input; in evaluation the layer is the identity (the weight-scaling
    inference rule, folded into training):

    .. math::
        m_j \sim \operatorname{Bernoulli}(1 - p), \qquad
        y_j = \frac{m_j\, x_j}{1 - p}\ \ \text{(train)}, \qquad y = x\ \ \text{(eval)}

    The mask comes only from ``key``: the same key gives the same mask. In training a
    key is required; calling ``apply(..., train=True)`` without one raises rather than
    silently skipping dropout.

    .. warning::
        ``rate`` is the probability of *dropping* a unit (PyTorch's ``p``, Keras's
        ``rate``), not of keeping it as in Hinton et al. 2012 and the original paper.

    Args:
        rate: :math:`p \in [0, 1)`; typical values are 0.5 for hidden units and 0.2
            for inputs.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Dropout(0.5)
        >>> params, state = layer.init(jax.random.key(0), jnp.ones((2, 4)))
        >>> y, _ = layer.apply(params, state, jnp.ones((2, 4)), key=jax.random.key(1),
        ...                    train=True)
        >>> sorted(set(y.ravel().tolist()))  # dropped units are 0, survivors 1/(1-p)
        [0.0, 2.0]

    References:
        Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov, "Dropout: A Simple
        Way to Prevent Neural Networks from Overfitting", JMLR 2014.
        https://jmlr.org/papers/v15/srivastava14a.html
    """

    rate: float

    def __post_init__(self):
        check_rate(type(self).__name__, self.rate)

    def _mask_shape(self, where: str, x) -> tuple[int, ...]:
        return tuple(x.shape)

    def init(self, key, x):
        del key
        where = f"{type(self).__name__}.init"
        _checks.floating_input(where, "x", x)
        self._mask_shape(where, x)
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params
        where = f"{type(self).__name__}.apply"
        _checks.floating_input(where, "x", x)
        mask_shape = self._mask_shape(where, x)
        if not train:
            return x, state
        if key is None:
            raise ValueError(MISSING_KEY_MSG.format(where=where))
        return dropout(key, x, self.rate, mask_shape), state


@dataclasses.dataclass(frozen=True, repr=False)
class SpatialDropout(Dropout):
    r"""Dropout of whole channels (Tompson et al. 2015), for convolutional feature maps.

    For a channels-last input ``(batch, *spatial, C)`` one Bernoulli variable per
    example and channel (mask shape ``(batch, 1, ..., 1, C)``) drops an entire
    feature map, because neighbouring pixels are too correlated for unit-wise
    dropout to regularize. Survivors are scaled by :math:`1/(1-p)`; identity in
    evaluation; a key is required in training.

    Args:
        rate: the probability of dropping a channel, in ``[0, 1)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = SpatialDropout(0.5)
        >>> x = jnp.ones((2, 3, 3, 4))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> y, _ = layer.apply(params, state, x, key=jax.random.key(1), train=True)
        >>> bool((y == y[:, :1, :1, :]).all())  # constant over the spatial axes
        True

    References:
        Tompson, Goroshin, Jain, LeCun, Bregler, "Efficient Object Localization Using
        Convolutional Networks", CVPR 2015. https://arxiv.org/abs/1411.4280
    """

    def _mask_shape(self, where, x):
        if x.ndim < 3:
            raise ValueError(
                f"{where}: x must have at least 3 dimensions (batch, *spatial, channels); got "
                f"shape {tuple(x.shape)}. For (batch, features) inputs use Dropout(rate)."
            )
        return (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
