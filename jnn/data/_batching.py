"""Minibatches: a shuffled Python iterator, and whole epochs as stacked arrays for ``lax.scan``.

Policy for the last partial batch (``n % batch_size`` examples left over):

- ``drop_remainder=True``: they are skipped for this epoch. Because the order is
  reshuffled every epoch, different examples are skipped each time, and every batch has
  the same shape (one compilation of a jitted step).
- ``drop_remainder=False``: :func:`batches` yields them as a smaller last batch (a jitted
  step compiles once more for that shape); :func:`epoch_batches` fills the last batch up
  with the first examples of the epoch's permutation, so every example is seen at least
  once and ``batch_size - n % batch_size`` of them twice.
- For exact evaluation over every example once, :func:`padded_batches` pads the last
  batch and returns a mask of the real entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import positive_int
from ._validate import check_finite, check_key, leading_length


def _check_batch_size(where: str, batch_size: Any, n: int) -> int:
    batch_size = positive_int(where, "batch_size", batch_size)
    if batch_size > n:
        raise ValueError(
            f"{where}: batch_size={batch_size} is larger than the dataset ({n} examples). "
            f"Use batch_size <= {n}, e.g. batch_size={n} for full-batch training."
        )
    return batch_size


def _check_flag(where: str, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False; got {value!r}.")


def num_batches(n: int, batch_size: int, *, drop_remainder: bool) -> int:
    """Batches per epoch: ``n // batch_size``, plus one for the remainder if it is kept."""
    full, rest = divmod(n, batch_size)
    return full + (0 if drop_remainder or rest == 0 else 1)


def batches(
    key: jax.Array | None,
    x: Any,
    y: Any,
    batch_size: int,
    *,
    shuffle: bool = True,
    drop_remainder: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """Iterate over one epoch of ``(x_batch, y_batch)`` minibatches, shuffled by ``key``.

    The data are permuted once (one gather per array) and then cut into consecutive
    slices. With ``drop_remainder=False`` (the default) the last batch holds the
    ``n % batch_size`` leftover examples; with ``True`` it is skipped (see the module
    docstring). For a compiled training loop use :func:`epoch_batches` instead.

    Args:
      key: a PRNG key for the shuffle (fold in the epoch number for a new order each
        epoch); may be ``None`` when ``shuffle=False``.
      x: inputs with leading axis ``n`` (an array or a pytree of arrays).
      y: targets with the same leading axis (or ``None``).
      batch_size: examples per batch, ``1 <= batch_size <= n``.
      shuffle: visit the examples in random order; otherwise in stored order.
      drop_remainder: skip the last partial batch.

    Returns:
      an iterator of ``(x_batch, y_batch)`` with the array types of the inputs.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.spirals(jax.random.key(0), 100)
      >>> [xb.shape[0] for xb, yb in jnn.data.batches(jax.random.key(1), x, y, 32)]
      [32, 32, 32, 4]
    """
    where = "jnn.data.batches"
    _check_flag(where, "shuffle", shuffle)
    _check_flag(where, "drop_remainder", drop_remainder)
    if shuffle or key is not None:
        check_key(where, key)
    n = leading_length(where, x=x, y=y)
    batch_size = _check_batch_size(where, batch_size, n)
    check_finite(where, "x", x)
    if shuffle:
        perm = jax.random.permutation(key, n)
        host_perm = np.asarray(perm)
        take = lambda a: a[perm] if isinstance(a, jax.Array) else np.asarray(a)[host_perm]
        x, y = jax.tree.map(take, x), jax.tree.map(take, y)
    count = num_batches(n, batch_size, drop_remainder=drop_remainder)

    def generate():
        for i in range(count):
            part = slice(i * batch_size, (i + 1) * batch_size)
            yield jax.tree.map(lambda a: a[part], x), jax.tree.map(lambda a: a[part], y)

    return generate()


def epoch_batches(
    key: jax.Array | None,
    data: Any,
    batch_size: int,
    *,
    shuffle: bool = True,
    drop_remainder: bool = True,
) -> Any:
    r"""One epoch of minibatches as stacked arrays, ready for ``jax.lax.scan``.

    Each leaf of ``data`` with shape ``(n, ...)`` becomes ``(num_batches, batch_size, ...)``
    holding the examples in a random order drawn from ``key``. Pure and jit-compatible:
    ``key`` may be traced (the shapes depend only on ``n`` and ``batch_size``), so a
    whole epoch, shuffle included, can run as one compiled call:

    .. code-block:: python

        def epoch(params, opt_state, key):
            xs, ys = jnn.data.epoch_batches(key, (x, y), 32)
            (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (xs, ys))
            return params, opt_state, losses

    Remainder policy (``n % batch_size`` leftover examples): dropped for this epoch when
    ``drop_remainder=True`` (the default; different examples each epoch); with
    ``False`` the last batch is filled up with the first examples of this epoch's
    permutation, so ``num_batches = ceil(n / batch_size)`` and a few examples count twice.

    No NaN check here (it would cost a pass over the data every epoch, and values cannot
    raise under ``jit``): check once up front, as :func:`batches`,
    :func:`train_val_test_split` and :meth:`Standardizer.fit` do.

    Args:
      key: a PRNG key for the shuffle; may be ``None`` when ``shuffle=False``.
      data: a pytree of arrays sharing the leading axis ``n``, e.g. ``(x, y)``.
      batch_size: examples per batch, ``1 <= batch_size <= n`` (a Python int).
      shuffle: random order; otherwise stored order.
      drop_remainder: the policy above.

    Returns:
      ``data`` with every leaf reshaped to ``(num_batches, batch_size, ...)``, as JAX
      arrays.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.spirals(jax.random.key(0), 100)
      >>> xs, ys = jnn.data.epoch_batches(jax.random.key(1), (x, y), 32)
      >>> xs.shape, ys.shape
      ((3, 32, 2), (3, 32))
    """
    where = "jnn.data.epoch_batches"
    _check_flag(where, "shuffle", shuffle)
    _check_flag(where, "drop_remainder", drop_remainder)
    if shuffle or key is not None:
        check_key(where, key)
    n = leading_length(where, data=data)
    batch_size = _check_batch_size(where, batch_size, n)
    count = num_batches(n, batch_size, drop_remainder=drop_remainder)
    order = jax.random.permutation(key, n) if shuffle else jnp.arange(n)
    # Positions past n wrap around to the start of this epoch's order.
    idx = order[jnp.arange(count * batch_size) % n].reshape(count, batch_size)
    return jax.tree.map(lambda a: jnp.asarray(a)[idx], data)


def padded_batches(data: Any, batch_size: int) -> tuple[Any, jax.Array]:
    """All examples once, in stored order, as stacked batches plus a mask of real entries.

    For exact evaluation inside ``lax.scan``: the last batch is padded (with copies of
    the first examples) up to ``batch_size`` and ``mask`` is ``False`` there, so a
    masked mean over ``mask`` weighs every example exactly once.

    Args:
      data: a pytree of arrays sharing the leading axis ``n``.
      batch_size: examples per batch, ``1 <= batch_size <= n``.

    Returns:
      ``(batched, mask)``: ``batched`` has leaves ``(num_batches, batch_size, ...)`` with
      ``num_batches = ceil(n / batch_size)``; ``mask: (num_batches, batch_size)`` bool.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.spirals(jax.random.key(0), 10)
      >>> (xs, ys), mask = jnn.data.padded_batches((x, y), 4)
      >>> xs.shape, mask.sum(axis=1).tolist()
      ((3, 4, 2), [4, 4, 2])
    """
    where = "jnn.data.padded_batches"
    n = leading_length(where, data=data)
    batch_size = _check_batch_size(where, batch_size, n)
    batched = epoch_batches(None, data, batch_size, shuffle=False, drop_remainder=False)
    count = num_batches(n, batch_size, drop_remainder=False)
    mask = (jnp.arange(count * batch_size) < n).reshape(count, batch_size)
    return batched, mask
