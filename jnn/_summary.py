"""``jnn.summary``: a per-layer table of output shapes and parameter counts."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from jnn.layers._base import Lambda, Layer, _as_struct
from jnn.layers._combinators import Parallel, Sequential


@dataclasses.dataclass(frozen=True)
class SummaryRow:
    """One layer of the table: its position, description, output shape and sizes."""

    path: str
    depth: int
    layer: str
    output_shape: str
    params: int
    state: int


@dataclasses.dataclass(frozen=True)
class Summary:
    """The result of :func:`summary`; prints as a table (Keras' ``model.summary()``)."""

    rows: tuple[SummaryRow, ...]
    total_params: int
    total_state: int

    def __str__(self) -> str:
        header = ("#", "layer", "output shape", "params", "state")
        body = [
            (r.path, "  " * r.depth + r.layer, r.output_shape, f"{r.params:,}", f"{r.state:,}")
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        right = (False, False, False, True, True)

        def fmt(row):
            cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)]
            return "  ".join(cells).rstrip()

        rule = "-" * len(fmt(header))
        lines = [fmt(header), rule, *map(fmt, body), rule]
        lines.append(f"total params: {self.total_params:,}   state (not trained): "
                     f"{self.total_state:,}")
        return "\n".join(lines)

    __repr__ = __str__


def _size(tree: Any) -> int:
    return int(sum(np.prod(leaf.shape, dtype=np.int64) for leaf in jax.tree.leaves(tree)))


def _shape_text(out: Any) -> str:
    shapes = [tuple(leaf.shape) for leaf in jax.tree.leaves(out)]
    if len(shapes) == 1 and not isinstance(out, (tuple, list, dict)):
        return str(shapes[0])
    return ", ".join(map(str, shapes))


def _label(layer: Layer) -> str:
    if isinstance(layer, Lambda):
        return getattr(layer.fn, "__name__", repr(layer))
    if isinstance(layer, (Sequential, Parallel)):
        return type(layer).__name__
    return repr(layer)


def _walk(layer, params, state, x, path, depth, rows):
    out = jax.eval_shape(lambda p, s, x_: layer.apply(p, s, x_)[0], params, state, x)
    rows.append(SummaryRow(path, depth, _label(layer), _shape_text(out),
                           _size(params), _size(state)))
    if isinstance(layer, (Sequential, Parallel)):
        h = x
        for i, (child, p, s) in enumerate(zip(layer.layers, params, state)):
            child_path = f"{path}.{i}" if path else str(i)
            child_out = _walk(child, p, s, h, child_path, depth + 1, rows)
            if isinstance(layer, Sequential):
                h = child_out
    return out


def summary(model: Layer, x: Any, *, params: Any = None, state: Any = None) -> Summary:
    """A per-layer table of output shapes and parameter counts.

    Nothing is computed: shapes come from ``jax.eval_shape``. Containers
    (``Sequential``, ``Parallel``, ``Concat``) are expanded, their children indented.

    Args:
        model: any jnn layer.
        x: an example input (array or ``jax.ShapeDtypeStruct``), batch-first.
        params, state: the model's params and state; by default the shapes ``init`` gives.

    Returns:
        A :class:`Summary`; ``print`` it (it is also its own repr in notebooks).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense, Sequential
        >>> s = summary(Sequential([Dense(3), jax.nn.relu, Dense(1)]), jnp.ones((8, 2)))
        >>> s.total_params
        13
    """
    if not isinstance(model, Layer):
        raise TypeError(f"summary: model must be a jnn Layer; got {type(model).__name__}.")
    x = _as_struct(x)
    if params is None or state is None:
        init_params, init_state = jax.eval_shape(model.init, jax.random.key(0), x)
        params = init_params if params is None else params
        state = init_state if state is None else state
    rows: list[SummaryRow] = []
    _walk(model, params, state, x, "", 0, rows)
    return Summary(tuple(rows), _size(params), _size(state))
