"""Hyperparameters of layers that slide a window over the spatial axes of NWC/NHWC/NDHWC input.

Convolutions, transposed convolutions and pooling share these conventions:

- a size (kernel, window, stride, dilation) is an ``int`` (the same on every spatial axis)
  or a tuple with one entry per spatial axis; lists become tuples so the layer stays
  hashable;
- padding is ``"SAME"`` or ``"VALID"``, an ``int`` (the same on both sides of every
  axis), or a sequence with one entry per spatial axis, each an ``int`` or a
  ``(low, high)`` pair;
- the number of spatial axes is the length of any tuple-valued hyperparameter, or else
  ``x.ndim - 2`` (one batch axis in front, one channel axis at the end).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import jax

Padding = Any  # "SAME" | "VALID" | int | tuple[int | tuple[int, int], ...]

_LAYOUTS = {
    1: "(batch, width, channels)",
    2: "(batch, height, width, channels)",
    3: "(batch, depth, height, width, channels)",
}


def layout(rank: int) -> str:
    """The expected input layout for ``rank`` spatial axes, for error messages."""
    return _LAYOUTS.get(rank, f"(batch, {rank} spatial axes, channels)")


def is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def sizes(where: str, name: str, value: Any, *, example: str) -> int | tuple[int, ...]:
    """An int >= 1, or a non-empty tuple of them (a list is turned into a tuple)."""
    if is_int(value):
        if value < 1:
            raise ValueError(
                f"{where}: {name} must be a positive integer or a tuple of them; got "
                f"{value!r}. Example: {example}."
            )
        return int(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0:
        if all(is_int(v) for v in value):
            if any(v < 1 for v in value):
                raise ValueError(
                    f"{where}: every entry of {name} must be a positive integer; got "
                    f"{tuple(value)!r}. Example: {example}."
                )
            return tuple(int(v) for v in value)
    raise TypeError(
        f"{where}: {name} must be a positive integer or a tuple of them, one per spatial "
        f"axis; got {value!r} (type {type(value).__name__}). Example: {example}."
    )


def padding(where: str, value: Any) -> Padding:
    """Normalize padding: 'SAME'/'VALID' (any case), an int >= 0, or per-axis ints/pairs."""
    fix = (
        'Use "SAME", "VALID", an int such as 1, or one entry per spatial axis, each an '
        "int or a (low, high) pair, e.g. ((1, 1), (2, 2))."
    )
    if isinstance(value, str):
        upper = value.upper()
        if upper not in ("SAME", "VALID"):
            raise ValueError(f"{where}: padding must be 'SAME' or 'VALID'; got {value!r}. {fix}")
        return upper
    if is_int(value):
        if value < 0:
            raise ValueError(f"{where}: padding must be >= 0; got {value!r}. {fix}")
        return int(value)
    if isinstance(value, Sequence) and len(value) > 0:
        entries = []
        for entry in value:
            if is_int(entry) and entry >= 0:
                entries.append(int(entry))
            elif (
                isinstance(entry, Sequence)
                and len(entry) == 2
                and all(is_int(v) and v >= 0 for v in entry)
            ):
                entries.append((int(entry[0]), int(entry[1])))
            else:
                raise ValueError(
                    f"{where}: padding entries must be non-negative ints or (low, high) "
                    f"pairs of them; got {value!r}. {fix}"
                )
        return tuple(entries)
    raise TypeError(f"{where}: padding {value!r} (type {type(value).__name__}) is invalid. {fix}")


def fixed_rank(where: str, **named: Any) -> int | None:
    """The spatial rank implied by the tuple-valued hyperparameters, or None if all are ints."""
    lengths = {name: len(v) for name, v in named.items() if isinstance(v, tuple)}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"{where}: {', '.join(f'{n} has {k} entries' for n, k in lengths.items())}; "
            f"every tuple-valued size must have one entry per spatial axis. Give them the "
            f"same length, or pass a single int to use it on every axis."
        )
    return next(iter(lengths.values()), None)


def per_axis(value: Any, rank: int) -> tuple:
    """An int (or a padding string) repeated on every axis; a tuple as it is."""
    return value if isinstance(value, tuple) else (value,) * rank


def pad_pairs(
    pad: Padding, in_sizes: Sequence[int], window: Sequence[int], strides: Sequence[int]
) -> tuple[tuple[int, int], ...]:
    """Explicit (low, high) pads per spatial axis; ``window`` is the effective (dilated) size."""
    if pad in ("SAME", "VALID"):
        return tuple(tuple(p) for p in jax.lax.padtype_to_pads(in_sizes, window, strides, pad))
    return tuple(p if isinstance(p, tuple) else (p, p) for p in per_axis(pad, len(in_sizes)))


def effective(k: int, d: int) -> int:
    """The extent of a size-``k`` window with dilation ``d``: ``d (k - 1) + 1``."""
    return d * (k - 1) + 1


def input_rank(where: str, x: Any, rank: int, *, example_rank_from: str) -> None:
    """Refuse an input whose number of axes is not ``rank + 2``, saying how to fix it."""
    want = rank + 2
    if x.ndim == want:
        return
    shape = tuple(x.shape)
    if x.ndim == want - 1:
        fix = (
            "If this is a single example, add a batch axis (x[None]); if it is a batch of "
            "single-channel inputs, add a channel axis (x[..., None])."
        )
    else:
        fix = f"Reshape it to {layout(rank)}."
    raise ValueError(
        f"{where}: x must have {want} axes {layout(rank)} for a {rank}-D window "
        f"({example_rank_from}); got shape {shape}. {fix}"
    )


def check_fits(
    where: str, spatial: Sequence[int], window: Sequence[int], pads: Sequence[tuple[int, int]],
    strides: Sequence[int], what: str,
) -> tuple[int, ...]:
    """Output sizes ``floor((i + lo + hi - k) / s) + 1``; refuse any that would be < 1."""
    out = []
    for axis, (i, k, (lo, hi), s) in enumerate(zip(spatial, window, pads, strides)):
        if i + lo + hi < k:
            raise ValueError(
                f"{where}: on spatial axis {axis} the {what} (extent {k}) is larger than the "
                f"padded input ({i} + {lo} + {hi} = {i + lo + hi}); the spatial sizes are "
                f"{tuple(spatial)}. Use a smaller {what}, padding='SAME', or a larger input."
            )
        out.append((i + lo + hi - k) // s + 1)
    return tuple(out)
