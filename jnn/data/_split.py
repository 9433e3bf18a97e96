"""Hold-out splits and k-fold cross-validation, seeded by a key.

Splits run once, on the host, before training: they take concrete arrays (any pytree
whose leaves share the leading axis ``n``), draw one permutation from a NumPy generator
seeded by the key's bits (no XLA compilation per dataset size) and index every leaf with
it. The same key always gives the same split.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import jax
import numpy as np

from .._checks import number_in_range, positive_int
from ._random import host_rng
from ._validate import check_finite, check_key, leading_length


def _hamilton(n: int, fractions: np.ndarray) -> np.ndarray:
    """Integer sizes summing to ``n``, each the floor or ceiling of ``fractions * n``.

    Largest remainders get the leftover units (Hamilton's apportionment); ties go to
    the earlier part.
    """
    exact = fractions * n
    sizes = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[: n - sizes.sum()]] += 1
    return sizes


def _controlled_rounding(
    counts: np.ndarray, fractions: np.ndarray, totals: np.ndarray, row_order: np.ndarray
) -> np.ndarray:
    """Round ``outer(counts, fractions)`` to integers with exact row and column sums.

    Every entry becomes the floor or the ceiling of its exact value, rows sum to
    ``counts`` and columns to ``totals`` (each itself a floor or ceiling of the exact
    column sum). Which entries round up is a bipartite b-matching between classes (each
    needs ``counts - sum(floors)`` extra units) and parts (each needs
    ``totals - sum(floors)``), solved with augmenting paths; a solution always exists
    (controlled rounding of a two-way table, Bacharach 1966). ``row_order`` (a random
    permutation) decides who gets the extra units when there is a choice.
    """
    exact = counts[:, None] * fractions[None, :]
    table = np.floor(exact).astype(np.int64)
    can_round_up = exact - table > 0
    row_need = counts - table.sum(1)
    col_need = totals - table.sum(0)
    extra = np.zeros_like(table)
    n_parts = len(fractions)

    def augment(start: int) -> bool:
        reached_col: dict[int, int] = {}  # part -> the class it was reached from
        reached_row: dict[int, int] = {start: -1}  # class -> the part it would give up
        queue = deque([start])
        while queue:
            row = queue.popleft()
            for col in range(n_parts):
                if col in reached_col or not can_round_up[row, col] or extra[row, col]:
                    continue
                reached_col[col] = row
                if extra[:, col].sum() < col_need[col]:
                    while True:  # shift units back along the path
                        row = reached_col[col]
                        extra[row, col] = 1
                        if row == start:
                            return True
                        col = reached_row[row]  # the part this class gives up
                        extra[row, col] = 0
                for other in np.flatnonzero(extra[:, col]):
                    if other not in reached_row:
                        reached_row[int(other)] = col
                        queue.append(int(other))
        return False

    for row in row_order:
        for _ in range(row_need[row]):
            if not augment(int(row)):  # pragma: no cover - impossible by the theorem
                raise RuntimeError("jnn.data: stratified rounding failed; please report this.")
    return table + extra


def _check_fraction(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{where}: {name} must be a number in (0, 1); got {value!r}.")
    return float(
        number_in_range(
            where,
            name,
            value,
            0.0,
            1.0,
            low_inclusive=False,
            high_inclusive=False,
            fix=f"E.g. {name}=0.2 holds out 20% of the data.",
        )
    )


def _class_labels(where: str, y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y) if not isinstance(y, (list, tuple, dict)) else None
    if labels is None or labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        got = "a pytree" if labels is None else f"shape {labels.shape}, dtype {labels.dtype}"
        raise ValueError(
            f"{where}: stratify=True needs integer class labels y of shape ({n},); got {got}. "
            "For one-hot targets pass y.argmax(-1) as labels."
        )
    return labels


def _split_indices(
    key: jax.Array, n: int, fractions: np.ndarray, labels: np.ndarray | None, where: str
) -> list[np.ndarray]:
    sizes = _hamilton(n, fractions)
    if np.any(sizes == 0):
        raise ValueError(
            f"{where}: with {n} examples the split sizes would be {sizes.tolist()} "
            f"(fractions {fractions.round(4).tolist()}); every part needs at least one "
            "example. Use more data or larger fractions."
        )
    rng = host_rng(key)
    perm = rng.permutation(n)
    if labels is None:
        bounds = np.cumsum(sizes)[:-1]
        return np.split(perm, bounds)
    classes, inverse = np.unique(labels[perm], return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    row_order = rng.permutation(len(classes))
    table = _controlled_rounding(counts, fractions, sizes, row_order)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in range(len(classes)):
        members = perm[inverse == c]  # in random order
        for part, chunk in zip(parts, np.split(members, np.cumsum(table[c])[:-1])):
            part.append(chunk)
    # Interleave classes again: each part in the order of the original permutation.
    rank = np.empty(n, np.int64)
    rank[perm] = np.arange(n)
    out = []
    for part in parts:
        idx = np.concatenate(part)
        out.append(idx[np.argsort(rank[idx], kind="stable")])
    return out


def _take(tree: Any, idx: np.ndarray) -> Any:
    return jax.tree.map(lambda a: a[idx], tree)


def train_val_test_split(
    key: jax.Array,
    x: Any,
    y: Any,
    *,
    val_fraction: float,
    test_fraction: float,
    stratify: bool = False,
) -> tuple[tuple[Any, Any], tuple[Any, Any], tuple[Any, Any]]:
    r"""Split ``(x, y)`` at random into disjoint training, validation and test sets.

    The sizes are :math:`n_\mathrm{test} \approx f_\mathrm{test}\, n`,
    :math:`n_\mathrm{val} \approx f_\mathrm{val}\, n` and the rest for training, each the
    floor or ceiling of its exact value and together exactly :math:`n` (largest
    remainders round up). With ``stratify=True`` every class is split in the same
    proportions: class :math:`c` with :math:`n_c` examples puts the floor or ceiling of
    :math:`f\, n_c` into each part (so class proportions agree within one example), while
    the part sizes stay as above.

    Fit the model on the training set, choose hyperparameters on the validation set and
    report the test set once at the end: a test score used for choices is optimistic.

    Args:
      key: a PRNG key; the same key gives the same split.
      x: inputs, an array (or pytree of arrays) with leading axis ``n``.
      y: targets with the same leading axis (integer class labels ``(n,)`` when
        ``stratify=True``).
      val_fraction: fraction for validation, in (0, 1).
      test_fraction: fraction for testing, in (0, 1); the two sum to less than 1.
      stratify: keep the class proportions of ``y`` in every part.

    Returns:
      ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``, each in random order,
      with the array types of the inputs.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.load_digits()
      >>> train, val, test = jnn.data.train_val_test_split(
      ...     jax.random.key(0), x, y, val_fraction=0.15, test_fraction=0.15, stratify=True)
      >>> [len(part[1]) for part in (train, val, test)]
      [1258, 270, 269]
    """
    where = "jnn.data.train_val_test_split"
    check_key(where, key)
    fv = _check_fraction(where, "val_fraction", val_fraction)
    ft = _check_fraction(where, "test_fraction", test_fraction)
    if fv + ft >= 1:
        raise ValueError(
            f"{where}: val_fraction + test_fraction must be < 1 to leave training data; got "
            f"{fv} + {ft} = {fv + ft}. E.g. val_fraction=0.15, test_fraction=0.15."
        )
    return _split(where, key, x, y, np.array([1 - fv - ft, fv, ft]), stratify)


def train_test_split(
    key: jax.Array, x: Any, y: Any, *, test_fraction: float, stratify: bool = False
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Split ``(x, y)`` at random into disjoint training and test sets.

    The two-part version of :func:`train_val_test_split`, with the same size rule and
    stratification.

    Args:
      key: a PRNG key; the same key gives the same split.
      x: inputs with leading axis ``n`` (array or pytree).
      y: targets with the same leading axis.
      test_fraction: fraction for testing, in (0, 1).
      stratify: keep the class proportions of ``y`` (integer labels) in both parts.

    Returns:
      ``((x_train, y_train), (x_test, y_test))``.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.spirals(jax.random.key(0), 200)
      >>> (xtr, ytr), (xte, yte) = jnn.data.train_test_split(
      ...     jax.random.key(1), x, y, test_fraction=0.25)
      >>> xtr.shape, xte.shape
      ((150, 2), (50, 2))
    """
    where = "jnn.data.train_test_split"
    check_key(where, key)
    ft = _check_fraction(where, "test_fraction", test_fraction)
    return _split(where, key, x, y, np.array([1 - ft, ft]), stratify)


def _split(where, key, x, y, fractions, stratify):
    if not isinstance(stratify, bool):
        raise TypeError(f"{where}: stratify must be True or False; got {stratify!r}.")
    n = leading_length(where, x=x, y=y)
    check_finite(where, "x", x)
    labels = _class_labels(where, y, n) if stratify else None
    parts = _split_indices(key, n, fractions, labels, where)
    return tuple((_take(x, idx), _take(y, idx)) for idx in parts)


def kfold(
    key: jax.Array, n: int, k: int, *, labels: Any = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Indices for k-fold cross-validation: every example is validated exactly once.

    The examples are shuffled by ``key`` and dealt into ``k`` folds whose sizes differ by
    at most one. Fold :math:`i` is the validation set of round :math:`i` and the other
    :math:`k - 1` folds form its training set; the cross-validation score is the mean of
    the :math:`k` validation scores. With ``labels`` the folds are stratified: each class
    is dealt round-robin, so its count in any two folds differs by at most one.

    Args:
      key: a PRNG key; the same key gives the same folds.
      n: number of examples.
      k: number of folds, ``2 <= k <= n``.
      labels: optional integer class labels of shape ``(n,)`` for stratified folds.

    Returns:
      a list of ``k`` pairs ``(train_idx, val_idx)`` of int64 NumPy index arrays (in random
      order); index your data with them, ``x[train_idx]``.

    Example:
      >>> import jax, jnn
      >>> folds = jnn.data.kfold(jax.random.key(0), 10, 3)
      >>> [len(val) for _, val in folds]
      [4, 3, 3]
    """
    where = "jnn.data.kfold"
    check_key(where, key)
    n = positive_int(where, "n", n)
    k = positive_int(where, "k", k)
    if k < 2 or k > n:
        raise ValueError(
            f"{where}: k must satisfy 2 <= k <= n = {n}; got k={k}. Use e.g. k=5 (or k=n "
            "for leave-one-out)."
        )
    rng = host_rng(key)
    order = rng.permutation(n)
    if labels is not None:
        y = _class_labels(where.replace("kfold", "kfold (labels)"), labels, n)
        classes, inverse = np.unique(y, return_inverse=True)
        class_rank = rng.permutation(len(classes))
        order = order[np.argsort(class_rank[inverse[order]], kind="stable")]
    fold_of = np.empty(n, np.int64)
    fold_of[order] = np.arange(n) % k
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    folds = []
    for i in range(k):
        val = np.flatnonzero(fold_of == i)
        train = np.flatnonzero(fold_of != i)
        # Random order within each set, from the same permutation.
        folds.append((train[np.argsort(position[train])], val[np.argsort(position[val])]))
    return folds


def repeated_kfold(
    key: jax.Array, n: int, k: int, n_repeats: int, *, labels: Any = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k-fold cross-validation repeated with ``n_repeats`` different shuffles.

    Repeat :math:`r` uses ``jax.random.fold_in(key, r)``, so its folds are those of
    :func:`kfold` with that key. Averaging over repeats lowers the variance that comes
    from one particular partition (the course's 5x10 and 10x10 repeated CV).

    Args:
      key: a PRNG key.
      n: number of examples.
      k: folds per repeat, ``2 <= k <= n``.
      n_repeats: number of repeats, >= 1.
      labels: optional integer labels ``(n,)`` for stratified folds.

    Returns:
      a list of ``n_repeats * k`` pairs ``(train_idx, val_idx)``, repeat by repeat.

    Example:
      >>> import jax, jnn
      >>> len(jnn.data.repeated_kfold(jax.random.key(0), 50, 5, n_repeats=10))
      50
    """
    where = "jnn.data.repeated_kfold"
    check_key(where, key)
    n_repeats = positive_int(where, "n_repeats", n_repeats)
    folds = []
    for r in range(n_repeats):
        folds.extend(kfold(jax.random.fold_in(key, r), n, k, labels=labels))
    return folds
