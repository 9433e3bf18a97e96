"""Save and load a computed landscape as ``.npz`` (numpy only, never pickled)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from ._grid import Landscape

FORMAT = "jnn.landscape/1"
_META = "__metadata__"
_METRIC = "metric:"


def _json_metadata(where: str, metadata: dict) -> str:
    try:
        return json.dumps(metadata, sort_keys=True, allow_nan=True)
    except TypeError as error:
        raise TypeError(
            f"{where}: metadata must hold only JSON values (str, int, float, bool, None, "
            f"lists and dicts of them); {error}. Convert objects to strings, e.g. "
            "{'model': repr(model), 'seeds': [0, 1]}."
        ) from None


def save_landscape(path: str | os.PathLike, landscape: Landscape, *,
                   metadata: dict | None = None) -> None:
    """Write ``landscape`` to ``path`` as an ``.npz`` archive with its metadata.

    Arrays (``alphas``, ``betas``, ``loss``, ``nonfinite`` and every metric) are stored as
    numpy arrays; the metadata (the landscape's own plus ``metadata``: directions' seeds,
    the model's description, normalization...) as one JSON string. Nothing is pickled, so
    :func:`load_landscape` reads it with ``allow_pickle=False``. The file is written to a
    temporary name and renamed, so an interrupted save never leaves a half-written file.

    Args:
      path: the file to write (conventionally ending in ``.npz``; used as given).
      landscape: a :class:`Landscape` from :func:`line`, :func:`plane`, ...
      metadata: extra JSON-serializable values, merged over ``landscape.metadata``.

    Example:
      >>> import os, tempfile, jax.numpy as jnp
      >>> from jnn.landscape import line, load_landscape
      >>> res = line(lambda p, b: jnp.sum(p**2), jnp.zeros(2), jnp.ones(2),
      ...            jnp.linspace(-1, 1, 5), None)
      >>> path = os.path.join(tempfile.mkdtemp(), "line.npz")
      >>> save_landscape(path, res, metadata={"seed": 0, "model": "quadratic"})
      >>> back = load_landscape(path)
      >>> back.loss, back.metadata["seed"]
      (array([2. , 0.5, 0. , 0.5, 2. ], dtype=float32), 0)
    """
    where = "save_landscape"
    if not isinstance(landscape, Landscape):
        raise TypeError(f"{where}: landscape must be a jnn.landscape.Landscape (from line, "
                        f"plane, interpolate, ...); got {type(landscape).__name__}.")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"{where}: metadata must be a dict; got {type(metadata).__name__}.")
    meta = {**landscape.metadata, **(metadata or {})}
    for name in landscape.metrics:
        if not isinstance(name, str):
            raise TypeError(f"{where}: metric names must be strings; got {name!r}.")
    header = {"format": FORMAT, "metrics": list(landscape.metrics), "metadata": meta}
    arrays: dict[str, Any] = {
        "alphas": np.asarray(landscape.alphas),
        "loss": np.asarray(landscape.loss),
        "nonfinite": np.asarray(landscape.nonfinite),
        _META: np.asarray(_json_metadata(where, header)),
    }
    if landscape.betas is not None:
        arrays["betas"] = np.asarray(landscape.betas)
    for i, values in enumerate(landscape.metrics.values()):
        arrays[f"{_METRIC}{i}"] = np.asarray(values)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".landscape-", suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_landscape(path: str | os.PathLike) -> Landscape:
    """Read a landscape written by :func:`save_landscape` (numpy arrays, ``allow_pickle=False``).

    Returns:
      :class:`Landscape` with numpy arrays and the saved metadata.
    """
    where = "load_landscape"
    with np.load(os.fspath(path), allow_pickle=False) as data:
        if _META not in data.files:
            raise ValueError(f"{where}: {os.fspath(path)!r} is not a landscape written by "
                             f"jnn.landscape.save_landscape (no {_META!r} entry; it has "
                             f"{sorted(data.files)}).")
        header = json.loads(str(data[_META]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{where}: {os.fspath(path)!r} has format "
                             f"{header.get('format')!r}; this jnn reads {FORMAT!r}.")
        metrics = {name: data[f"{_METRIC}{i}"] for i, name in enumerate(header["metrics"])}
        loss = data["loss"]
        nonfinite = data["nonfinite"]
        return Landscape(
            alphas=data["alphas"],
            betas=data["betas"] if "betas" in data.files else None,
            loss=loss,
            metrics=metrics,
            nonfinite=nonfinite,
            num_nonfinite=np.asarray(int(nonfinite.sum())),
            metadata=header["metadata"],
        )
