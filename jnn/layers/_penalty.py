r"""Representation (activity) penalties reported through the state, and their collection.

A layer reports a penalty :math:`\alpha\,\Omega(h)` on the activations ``h`` that flow
through it by returning ``{"penalty": value}`` as its state. The objective of the
course (Goodfellow et al., *Deep Learning*, 7.10),

.. math::
    \tilde J(\theta; X, y) = J(\theta; X, y) + \alpha\,\Omega(h),

is then the data loss plus :func:`collect_penalties` of the state ``apply`` returned.
Because the penalty is computed from the params inside ``apply``, gradients flow
through it:

.. code-block:: python

    model = Sequential([Dense(64), jax.nn.relu, ActivityRegularization(l1=1e-3), Dense(1)])
    params, state = model.init(key, x)

    def loss(params, batch):
        x, y = batch
        pred, new_state = model.apply(params, state, x)
        return jnp.mean((pred - y) ** 2) + collect_penalties(new_state)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn.layers._base import Layer, check_param_keys
from jnn.layers._dense import param_dtype_for

PENALTY_KEY = "penalty"


@dataclasses.dataclass(frozen=True, repr=False)
class ActivityRegularization(Layer):
    r"""Passes ``x`` through unchanged and reports an activity penalty in its state.

    .. math::
        \alpha\,\Omega(h) = \frac{1}{B}\sum_{b=1}^{B}\Big(
            \lambda_1 \sum_j |h_{bj}| + \lambda_2 \sum_j h_{bj}^2\Big)
            + \text{penalty}(h)

    The sums run over every non-batch axis and the batch axis is averaged, so the
    penalty has the scale of a mean loss and does not grow with the batch size (as
    in Keras). The state is ``{"penalty": ()}``; it is recomputed in every ``apply``
    (training and evaluation), and the incoming value is ignored, so the state keeps
    its structure and can be threaded through a training loop. Add it to the loss
    with :func:`collect_penalties`.

    Args:
        l1: :math:`\lambda_1 \ge 0`, the weight of the L1 (sparsity) term.
        l2: :math:`\lambda_2 \ge 0`, the weight of the squared-L2 term.
        penalty: an optional callable ``h -> scalar`` added as is (your own
            :math:`\alpha\,\Omega`; give a module-level function so the layer stays
            hashable).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = ActivityRegularization(l1=0.5)
        >>> x = jnp.array([[1.0, -2.0], [0.0, 3.0]])
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> y, state = layer.apply(params, state, x)
        >>> state
        {'penalty': Array(1.5, dtype=float32)}

    References:
        Goodfellow, Bengio, Courville, *Deep Learning*, 2016, section 7.10
        ("Sparse Representations"). https://www.deeplearningbook.org/contents/regularization.html
    """

    l1: float = 0.0
    l2: float = 0.0
    penalty: Callable[[jax.Array], jax.Array] | None = None

    def __post_init__(self):
        for name in ("l1", "l2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not _checks.is_concrete_number(value):
                raise TypeError(
                    f"ActivityRegularization: {name} must be a non-negative number; got "
                    f"{value!r} (type {type(value).__name__})."
                )
            _checks.number_in_range(
                "ActivityRegularization", name, value, 0.0, None,
                fix="It weighs the penalty; 0 switches the term off.",
            )
        if self.penalty is not None and not callable(self.penalty):
            raise TypeError(
                f"ActivityRegularization: penalty must be a callable h -> scalar or None; "
                f"got {self.penalty!r}."
            )

    def init(self, key, x):
        del key
        _checks.rank_at_least("ActivityRegularization.init", "x", x, 1, "(batch, ...)")
        _checks.floating_input("ActivityRegularization.init", "x", x)
        return {}, {PENALTY_KEY: jnp.zeros((), param_dtype_for(x, None))}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        where = "ActivityRegularization.apply"
        check_param_keys(where, state, {PENALTY_KEY}, what="state")
        _checks.rank_at_least(where, "x", x, 1, "(batch, ...)")
        _checks.floating_input(where, "x", x)
        dtype = state[PENALTY_KEY].dtype
        h = x.astype(jnp.promote_types(x.dtype, dtype))
        batch = h.shape[0] if h.ndim else 1
        value = jnp.zeros((), h.dtype)
        if self.l1:
            value = value + self.l1 * jnp.sum(jnp.abs(h)) / batch
        if self.l2:
            value = value + self.l2 * jnp.sum(jnp.square(h)) / batch
        if self.penalty is not None:
            extra = jnp.asarray(self.penalty(x))
            if extra.shape != ():
                raise ValueError(
                    f"{where}: penalty(h) must return a scalar; got shape {extra.shape}. "
                    f"Reduce it, e.g. with jnp.sum or jnp.mean."
                )
            value = value + extra
        return x, {PENALTY_KEY: value.astype(dtype)}


def collect_penalties(state: Any) -> jax.Array:
    """The sum of every ``"penalty"`` entry in a (nested) state tree; 0 if there is none.

    Walks dicts, lists and tuples (the states of ``Sequential``, ``Parallel`` and any
    layer), and adds each value stored under the key ``"penalty"``, as reported by
    :class:`ActivityRegularization`. Add the result to the data loss.

    Args:
        state: the state returned by a model's ``apply``.

    Returns:
        A scalar array.

    Example:
        >>> import jax.numpy as jnp
        >>> collect_penalties([{}, {"penalty": jnp.array(0.5)}, [{"penalty": jnp.array(1.0)}]])
        Array(1.5, dtype=float32)
    """
    total = jnp.zeros(())
    found = []

    def visit(node):
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k == PENALTY_KEY and not isinstance(v, (Mapping, list, tuple)):
                    found.append(jnp.asarray(v))
                else:
                    visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    visit(state)
    for value in found:
        if value.shape != ():
            raise ValueError(
                f"collect_penalties: a 'penalty' entry has shape {value.shape}, but penalties "
                f"must be scalars. Under jax.vmap, reduce them first (e.g. jnp.mean)."
            )
        total = total + value
    return total
