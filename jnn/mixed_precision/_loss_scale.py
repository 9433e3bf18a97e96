"""Loss scaling for float16 training: static, dynamic, and none."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnn import _checks


def all_finite(tree: Any) -> jax.Array:
    """A boolean scalar array: ``True`` when every element of every leaf is finite.

    An empty tree counts as finite. Jit-compatible (returns an array, never a bool).

    Example:
        >>> import jax.numpy as jnp
        >>> from jnn.mixed_precision import all_finite
        >>> all_finite({"a": jnp.ones(2), "b": jnp.array([1.0, jnp.inf])})
        Array(False, dtype=bool)
    """
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]
    if not leaves:
        return jnp.array(True)
    return jnp.stack(leaves).all()


def select_tree(pred: Any, on_true: Any, on_false: Any) -> Any:
    """Leaf by leaf ``on_true if pred else on_false`` for a scalar boolean ``pred``.

    Used to skip an optimizer step whose gradients overflowed:
    ``params = select_tree(finite, new_params, params)``.
    """
    _checks.same_structure("select_tree", "on_true", on_true, "on_false", on_false)
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _scale_tree(tree: Any, factor: jax.Array) -> Any:
    """Multiply every floating leaf by ``factor`` in the leaf's own dtype."""
    return jax.tree.map(lambda x: x * factor.astype(x.dtype), tree)


class NoLossScale:
    """No loss scaling: ``scale`` and ``unscale`` are the identity (float32, bfloat16).

    Example:
        >>> from jnn.mixed_precision import NoLossScale
        >>> NoLossScale().scale(2.0)
        2.0
    """

    @property
    def loss_scale(self) -> jax.Array:
        return jnp.ones((), jnp.float32)

    def scale(self, tree: Any) -> Any:
        """Return ``tree`` unchanged."""
        return tree

    def unscale(self, tree: Any) -> Any:
        """Return ``tree`` unchanged."""
        return tree

    def adjust(self, grads_finite: Any) -> NoLossScale:
        """Return ``self``."""
        del grads_finite
        return self

    def tree_flatten(self):
        return (), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        del aux, children
        return cls()

    def __repr__(self) -> str:
        return "NoLossScale()"


class StaticLossScale:
    r"""Multiply the loss by a fixed factor :math:`S` and divide the gradients by it.

    .. math::
        \tilde L = S\,L, \qquad g = \frac{1}{S}\,\nabla_\theta \tilde L

    so small float16 gradients are shifted into the representable range during the
    backward pass (Micikevicius et al. 2018, section 3.2).

    Args:
        scale: :math:`S`, ``> 0`` (a power of two keeps the rescaling exact).

    Example:
        >>> import jax.numpy as jnp
        >>> from jnn.mixed_precision import StaticLossScale
        >>> ls = StaticLossScale(1024.0)
        >>> ls.unscale(ls.scale(jnp.float32(3.0)))
        Array(3., dtype=float32)

    References:
        Micikevicius et al., "Mixed Precision Training", 2018.
        https://arxiv.org/abs/1710.03740
    """

    def __init__(self, scale: Any = 2.0**15):
        _checks.number_in_range(
            "StaticLossScale", "scale", scale, 0.0, None, low_inclusive=False,
            fix="Use a power of two such as 2.**15.",
        )
        self.loss_scale = jnp.asarray(scale, jnp.float32)

    def scale(self, tree: Any) -> Any:
        """``tree`` (the loss, or any tree of floating arrays) times :math:`S`."""
        return _scale_tree(tree, self.loss_scale)

    def unscale(self, tree: Any) -> Any:
        """``tree`` (the gradients) divided by :math:`S`, each leaf in its own dtype."""
        return _scale_tree(tree, 1.0 / self.loss_scale)

    def adjust(self, grads_finite: Any) -> StaticLossScale:
        """Return ``self``: a static scale never changes."""
        del grads_finite
        return self

    def tree_flatten(self):
        return (self.loss_scale,), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        del aux
        obj = object.__new__(cls)
        (obj.loss_scale,) = children
        return obj

    def __repr__(self) -> str:
        return f"StaticLossScale({self.loss_scale!r})"


class DynamicLossScale:
    r"""A loss scale that backs off on overflow and grows after a run of finite steps.

    After each step, with gradients finite or not (see :func:`all_finite`):

    .. math::
        (S, n) \leftarrow
        \begin{cases}
            (\max(\beta S,\ S_{\min}),\ 0) & \text{gradients not finite} \\
            (\gamma S,\ 0) & \text{finite and } n + 1 = N \\
            (S,\ n + 1) & \text{finite otherwise}
        \end{cases}

    with backoff factor :math:`\beta`, growth factor :math:`\gamma` and growth
    interval :math:`N`; a grown scale that would overflow float32 is not taken. The
    step whose gradients were not finite should be skipped (:func:`select_tree`).
    This is the scheme of Micikevicius et al. (2018, section 3.2): start large, halve
    on every overflow, and try a larger scale after :math:`N` clean steps.

    A ``DynamicLossScale`` is a pytree (``loss_scale`` :math:`S` and ``counter``
    :math:`n` are arrays; the hyperparameters are static), so it can be carried
    through ``jax.jit`` and ``lax.scan``.

    Args:
        scale: the initial :math:`S`, ``> 0``.
        growth_interval: :math:`N`, finite steps before growing, ``>= 1``.
        growth_factor: :math:`\gamma`, ``>= 1``.
        backoff_factor: :math:`\beta`, in ``(0, 1]``.
        min_scale: :math:`S_{\min}`, the floor of the scale, ``> 0``.
        counter: :math:`n`, the current run of finite steps (normally 0).

    Example:
        >>> import jax.numpy as jnp
        >>> from jnn.mixed_precision import DynamicLossScale
        >>> ls = DynamicLossScale(scale=8.0, growth_interval=2)
        >>> ls.adjust(jnp.array(False)).loss_scale
        Array(4., dtype=float32)
        >>> ls.adjust(jnp.array(True)).adjust(jnp.array(True)).loss_scale
        Array(16., dtype=float32)

    References:
        Micikevicius et al., "Mixed Precision Training", 2018.
        https://arxiv.org/abs/1710.03740
    """

    def __init__(
        self,
        scale: Any = 2.0**15,
        growth_interval: int = 2000,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        min_scale: float = 1.0,
        counter: Any = 0,
    ):
        where = "DynamicLossScale"
        _checks.number_in_range(where, "scale", scale, 0.0, None, low_inclusive=False,
                                fix="Use a power of two such as 2.**15.")
        _checks.positive_int(where, "growth_interval", growth_interval,
                             fix="Pass the number of finite steps before growing, e.g. 2000.")
        _checks.number_in_range(where, "growth_factor", growth_factor, 1.0, None,
                                fix="Use e.g. 2.0.")
        _checks.number_in_range(where, "backoff_factor", backoff_factor, 0.0, 1.0,
                                low_inclusive=False, fix="Use e.g. 0.5.")
        _checks.number_in_range(where, "min_scale", min_scale, 0.0, None,
                                low_inclusive=False, fix="Use e.g. 1.0.")
        self.loss_scale = jnp.asarray(scale, jnp.float32)
        self.counter = jnp.asarray(counter, jnp.int32)
        self.growth_interval = int(growth_interval)
        self.growth_factor = float(growth_factor)
        self.backoff_factor = float(backoff_factor)
        self.min_scale = float(min_scale)

    def _hyper(self) -> tuple:
        return (self.growth_interval, self.growth_factor, self.backoff_factor, self.min_scale)

    def scale(self, tree: Any) -> Any:
        """``tree`` (the loss) times :math:`S`."""
        return _scale_tree(tree, self.loss_scale)

    def unscale(self, tree: Any) -> Any:
        """``tree`` (the gradients) divided by :math:`S`, each leaf in its own dtype."""
        return _scale_tree(tree, 1.0 / self.loss_scale)

    def adjust(self, grads_finite: Any) -> DynamicLossScale:
        """The loss scale for the next step (the rule above); jit-compatible."""
        finite = jnp.asarray(grads_finite, bool)
        s, n = self.loss_scale, self.counter
        grown = s * self.growth_factor
        grow = finite & (n + 1 >= self.growth_interval) & jnp.isfinite(grown)
        backed_off = jnp.maximum(s * self.backoff_factor, self.min_scale)
        new_s = jnp.where(finite, jnp.where(grow, grown, s), backed_off)
        new_n = jnp.where(finite & (n + 1 < self.growth_interval), n + 1, 0)
        return self.tree_unflatten(self._hyper(), (new_s, new_n.astype(jnp.int32)))

    def tree_flatten(self):
        return (self.loss_scale, self.counter), self._hyper()

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        obj.loss_scale, obj.counter = children
        obj.growth_interval, obj.growth_factor, obj.backoff_factor, obj.min_scale = aux
        return obj

    def __repr__(self) -> str:
        return (
            f"DynamicLossScale(scale={self.loss_scale!r}, counter={self.counter!r}, "
            f"growth_interval={self.growth_interval}, growth_factor={self.growth_factor}, "
            f"backoff_factor={self.backoff_factor}, min_scale={self.min_scale})"
        )


for _cls in (NoLossScale, StaticLossScale, DynamicLossScale):
    jax.tree_util.register_pytree_node_class(_cls)
