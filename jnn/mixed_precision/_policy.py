"""Precision policies: which dtype params are stored in, computed in, and returned in."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Names a policy string may use for a dtype (jmp's short forms included).
_DTYPE_NAMES = {
    "bfloat16": jnp.bfloat16, "bf16": jnp.bfloat16,
    "float16": jnp.float16, "f16": jnp.float16, "half": jnp.float16,
    "float32": jnp.float32, "f32": jnp.float32, "full": jnp.float32, "single": jnp.float32,
    "float64": jnp.float64, "f64": jnp.float64,
}
# Keys of a policy string and the Policy field each one sets.
_KEYS = {
    "params": "param_dtype", "param": "param_dtype", "p": "param_dtype",
    "compute": "compute_dtype", "c": "compute_dtype",
    "output": "output_dtype", "out": "output_dtype", "o": "output_dtype",
}
_EXAMPLE = '"bfloat16" or "params=float32,compute=bfloat16,output=float32"'


def float_dtype(where: str, name: str, value: Any) -> np.dtype:
    """``value`` (a dtype or a dtype name) as a floating ``np.dtype``; clear errors otherwise."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key not in _DTYPE_NAMES:
            try:  # a real dtype name that is not floating ("int8") gets the TypeError below
                dtype = np.dtype(jnp.dtype(key))
            except TypeError:
                raise ValueError(
                    f"{where}: {name}={value!r} is not a dtype name jnn knows; use one of "
                    f"{sorted(set(_DTYPE_NAMES))}."
                ) from None
        else:
            dtype = np.dtype(_DTYPE_NAMES[key])
    else:
        try:
            dtype = np.dtype(jnp.dtype(value))
        except TypeError:
            raise TypeError(
                f"{where}: {name} must be a floating dtype such as jnp.bfloat16 or a name "
                f"such as 'bfloat16'; got {value!r} (type {type(value).__name__})."
            ) from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{where}: {name} must be a floating dtype (bfloat16, float16, float32); got "
            f"{dtype}. Integer and bool arrays are never cast by a precision policy."
        )
    return dtype


def _is_float_array(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating)


def cast_floating(tree: Any, dtype: Any) -> Any:
    """Cast the floating array leaves of ``tree`` to ``dtype``; other leaves pass unchanged.

    Integer inputs (token ids, lengths), bools and Python scalars are left as they are.
    """
    dtype = jnp.dtype(dtype)

    def cast(leaf):
        if _is_float_array(leaf) and leaf.dtype != dtype:
            return leaf.astype(dtype)
        return leaf

    return jax.tree.map(cast, tree)


@dataclasses.dataclass(frozen=True)
class Policy:
    """Three dtypes: params are stored in ``param_dtype``, the layer computes in
    ``compute_dtype``, and its outputs are returned in ``output_dtype``.

    The usual mixed-precision policy keeps float32 master weights and outputs and
    computes in bfloat16 (TPUs, recent GPUs) or float16 (GPUs; needs loss scaling):
    ``Policy(compute_dtype=jnp.bfloat16)``, or ``policy("bfloat16")``.

    Args:
        param_dtype: dtype of the stored params (and so of their gradients).
        compute_dtype: dtype params and floating inputs are cast to for the forward pass.
        output_dtype: dtype of the outputs.

    Example:
        >>> import jax.numpy as jnp
        >>> from jnn.mixed_precision import Policy
        >>> p = Policy(compute_dtype=jnp.bfloat16)
        >>> str(p)
        'params=float32,compute=bfloat16,output=float32'
        >>> p.cast_to_compute({"w": jnp.ones(2), "ids": jnp.arange(2)})["w"].dtype
        dtype(bfloat16)

    References:
        Micikevicius et al., "Mixed Precision Training", 2018.
        https://arxiv.org/abs/1710.03740
    """

    param_dtype: Any = jnp.float32
    compute_dtype: Any = jnp.float32
    output_dtype: Any = jnp.float32

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(
                self, f.name, float_dtype("Policy", f.name, getattr(self, f.name))
            )

    def __str__(self) -> str:
        return (
            f"params={self.param_dtype.name},compute={self.compute_dtype.name},"
            f"output={self.output_dtype.name}"
        )

    def cast_to_param(self, tree: Any) -> Any:
        """Floating leaves of ``tree`` cast to ``param_dtype``."""
        return cast_floating(tree, self.param_dtype)

    def cast_to_compute(self, tree: Any) -> Any:
        """Floating leaves of ``tree`` cast to ``compute_dtype``."""
        return cast_floating(tree, self.compute_dtype)

    def cast_to_output(self, tree: Any) -> Any:
        """Floating leaves of ``tree`` cast to ``output_dtype``."""
        return cast_floating(tree, self.output_dtype)


def policy(spec: Any = None) -> Policy:
    """A :class:`Policy` from a short description.

    Accepts a ``Policy`` (returned as is); ``None`` (all float32); a dtype or dtype
    name, meaning the compute dtype with float32 params and outputs
    (``"bfloat16"``, ``"float16"``, ``"float32"``, ``jnp.bfloat16``); or a string of
    ``key=dtype`` pairs separated by commas, with keys ``params``/``p``,
    ``compute``/``c`` and ``output``/``o`` (keys left out stay float32), as in
    ``"params=float32,compute=bfloat16,output=float32"`` or ``"p=f32,c=bf16,o=f32"``.

    Args:
        spec: the description.

    Returns:
        The ``Policy``.

    Example:
        >>> from jnn.mixed_precision import policy
        >>> print(policy("bfloat16"))
        params=float32,compute=bfloat16,output=float32
        >>> print(policy("c=f16,o=f16"))
        params=float32,compute=float16,output=float16
    """
    where = "jnn.mixed_precision.policy"
    if isinstance(spec, Policy):
        return spec
    if spec is None:
        return Policy()
    if isinstance(spec, str) and "=" in spec:
        fields: dict[str, np.dtype] = {}
        for part in spec.split(","):
            key, sep, value = (s.strip() for s in part.partition("="))
            if not sep or not key or not value:
                raise ValueError(
                    f"{where}: cannot read {part.strip()!r} in {spec!r}; write comma-separated "
                    f"key=dtype pairs, e.g. {_EXAMPLE}."
                )
            field = _KEYS.get(key.lower())
            if field is None:
                raise ValueError(
                    f"{where}: unknown key {key!r} in {spec!r}; the keys are 'params', "
                    f"'compute' and 'output' (or 'p', 'c', 'o')."
                )
            if field in fields:
                raise ValueError(f"{where}: {spec!r} sets {field} twice; give each key once.")
            fields[field] = float_dtype(where, key, value)
        return Policy(**fields)
    if isinstance(spec, str) and ("," in spec or not spec.strip()):
        raise ValueError(
            f"{where}: cannot read {spec!r}; pass a dtype name or key=dtype pairs, "
            f"e.g. {_EXAMPLE}."
        )
    return Policy(compute_dtype=float_dtype(where, "spec", spec))
