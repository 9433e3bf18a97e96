"""Parameter initializers.

Every initializer is a callable ``init(key, shape, dtype=jnp.float32) -> jax.Array``, the
signature of ``jax.nn.initializers``, so each one plugs into ``Dense(kernel_init=...)``
and into any Flax or JAX code. The factories (``lecun_normal()``, ``normal(0.1)``, ...)
return small frozen dataclasses rather than closures: two equal configurations compare
and hash equal, so a layer holding one stays a valid static argument to ``jax.jit``
without recompiling when the model is rebuilt.

Where ``jax.nn.initializers`` already does exactly the right thing, jnn gives the same
values for the same key (``normal``, ``constant``, ``zeros``, ``ones``, ``orthogonal``,
which it calls, and ``variance_scaling`` with the LeCun/Glorot/He families, which it
reproduces so that one compiled draw serves every scale and mode) and adds argument checks
that name the problem and the fix. Each draw is a single jitted program, so an eager
``init`` compiles a handful of programs rather than dozens of single operations.
jnn writes what JAX lacks:
``uniform_direction`` (weight vectors pointing in uniformly random directions) and
``hinge_bias`` (biases that spread ReLU hinges over the data).

Fan-in and fan-out follow the receptive-field convention of ``jax.nn.initializers``: for a
dense kernel ``(in, out)``, fan_in = in and fan_out = out; for a convolution kernel
``(kh, kw, in, out)``, fan_in = kh * kw * in and fan_out = kh * kw * out.

Initializers are chosen by object (``kernel_init=jnn.initializers.he_normal()``) or by
name (``jnn.initializers.get("he_normal")``).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "Initializer",
    "Constant",
    "Normal",
    "Uniform",
    "VarianceScaling",
    "Orthogonal",
    "UniformDirection",
    "HingeBias",
    "zeros",
    "ones",
    "constant",
    "normal",
    "uniform",
    "variance_scaling",
    "lecun_normal",
    "lecun_uniform",
    "glorot_normal",
    "glorot_uniform",
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "orthogonal",
    "uniform_direction",
    "hinge_bias",
    "get",
]


class Initializer(Protocol):
    """The initializer contract, the same as ``jax.nn.initializers.Initializer``."""

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        """Return a new array of ``shape`` and ``dtype`` drawn with ``key``."""
        ...


_KERNEL_LAYOUT = "(in, out) for a dense kernel or (kh, kw, in, out) for a convolution kernel"


# ----------------------------------------------------------------------------- checks


def _check_shape(where: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(
            f"{where}: shape must be a tuple of non-negative integers; got {shape!r}."
        ) from None
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0
               for d in dims):
        raise ValueError(f"{where}: shape must be a tuple of non-negative integers; got {shape!r}.")
    return tuple(int(d) for d in dims)


def _check_floating(where: str, dtype: Any) -> jnp.dtype:
    dt = jnp.dtype(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"{where}: dtype must be a floating dtype (float32, bfloat16, float64, ...); got "
            f"{dt}. Random initial values need floats; use jnn.initializers.zeros or constant "
            "for integer arrays."
        )
    return dt


def _check_positive(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a positive number; got {value!r}.")
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be a positive finite number; got {value!r}.")
    return float(value)


def _check_axes(where: str, name: str, value: Any) -> int | tuple[int, ...]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, Sequence) and all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in value
    ):
        return tuple(int(a) for a in value)
    raise TypeError(f"{where}: {name} must be an int or a sequence of ints; got {value!r}.")


def _as_tuple(axes: int | tuple[int, ...]) -> tuple[int, ...]:
    return (axes,) if isinstance(axes, int) else axes


def _check_kernel_rank(where: str, shape: tuple[int, ...]) -> None:
    if len(shape) < 2:
        raise ValueError(
            f"{where}: shape {shape} has rank {len(shape)}, but this initializer needs a "
            f"fan-in, i.e. a kernel of rank >= 2 laid out {_KERNEL_LAYOUT}. For a bias or "
            "another rank-0/1 parameter, use jnn.initializers.zeros, constant or normal."
        )


def _normalized_axes(
    where: str, shape: tuple[int, ...], **axes: int | tuple[int, ...]
) -> dict[str, tuple[int, ...]]:
    """Check that the named axes exist in ``shape`` and do not overlap; return them >= 0."""
    rank, seen, out = len(shape), {}, {}
    for name, value in axes.items():
        positive = []
        for a in _as_tuple(value):
            if not -rank <= a < rank:
                raise ValueError(
                    f"{where}: {name}={value!r} is out of range for shape {shape} "
                    f"(rank {rank}). The default axes expect {_KERNEL_LAYOUT}."
                )
            a %= rank
            if a in seen:
                raise ValueError(
                    f"{where}: axis {a} of shape {shape} is given both as {seen[a]} and as "
                    f"{name}; each axis can play only one role."
                )
            seen[a] = name
            positive.append(a)
        out[name] = tuple(positive)
    return out


def _compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """Draw in at least float32 (bfloat16/float16 results are rounded at the end)."""
    return jnp.promote_types(dtype, jnp.float32)


# Random draws are made flat and reshaped: the values are the same as drawing the shape
# directly (threefry counts in row-major order), but XLA compiles the rank-1 program
# several times faster (a (3, 3, 4, 8) kernel on a busy 2-core CPU: 0.4 s instead of 5 s).
# Each draw is one jitted program. Only what fixes the program's structure is static
# (shape, dtype, distribution, axes); numeric hyperparameters are traced, so LeCun and He
# (or two stddevs) share one compilation. Called inside a user's jit, they simply inline.
def _jit(draw):
    """``jax.jit`` with the keyword-only arguments static."""
    params = inspect.signature(draw).parameters.values()
    static = tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)
    return jax.jit(draw, static_argnames=static)


# Standard deviation of N(0, 1) truncated to [-2, 2]; the constant jax.nn.initializers uses.
_TRUNCATED_STD = 0.87962566103423978


@_jit
def _random_draw(key, a, b, *, shape, dtype, distribution):
    """``a * N(0, 1)``, ``a * N(0, 1)`` truncated to [-2, 2], or ``U[a, b)``, in >= float32."""
    work, flat = _compute_dtype(dtype), (math.prod(shape),)
    if distribution == "normal":
        draw = a * jax.random.normal(key, flat, work)
    elif distribution == "truncated_normal":
        draw = a * jax.random.truncated_normal(key, -2.0, 2.0, flat, work)
    else:
        # Rounding to a narrower dtype (bfloat16) may land exactly on ``b``.
        draw = jax.random.uniform(key, flat, work, a, b)
    return draw.reshape(shape).astype(dtype)


@_jit
def _orthogonal_draw(key, scale, *, shape, dtype, column_axis):
    # QR runs in at least float32: bfloat16 QR is not available on every backend.
    init = jax.nn.initializers.orthogonal(scale, column_axis)
    return init(key, shape, _compute_dtype(dtype)).astype(dtype)


@_jit
def _direction_draw(key, scale, *, shape, dtype, out_axis):
    units = shape[out_axis]
    rest = shape[:out_axis] + shape[out_axis + 1 :]
    # A standard normal vector divided by its norm is uniform on the sphere (Muller 1959).
    g = jax.random.normal(key, (math.prod(shape),), _compute_dtype(dtype))
    g = g.reshape(math.prod(rest), units)
    w = g * (jnp.sqrt(scale) / jnp.linalg.norm(g, axis=0, keepdims=True))
    return jnp.moveaxis(w.reshape(rest + (units,)), -1, out_axis).astype(dtype)


# ----------------------------------------------------------------- constant and simple


@dataclasses.dataclass(frozen=True, eq=False)
class Constant:
    """Initializer filling the array with ``value`` (a scalar, or an array broadcast to shape)."""

    value: Any

    def __post_init__(self):
        value = np.asarray(self.value)
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
            raise TypeError(f"constant: value must be a number or array; got {self.value!r}.")
        object.__setattr__(self, "value", value)

    def __call__(self, key, shape, dtype=jnp.float32):
        del key
        shape = _check_shape("constant", shape)
        try:
            np.broadcast_shapes(self.value.shape, shape)
        except ValueError:
            raise ValueError(
                f"constant: value of shape {self.value.shape} cannot be broadcast to the "
                f"requested shape {shape}."
            ) from None
        return jnp.broadcast_to(jnp.asarray(self.value, dtype), shape)

    def _identity(self):
        return (self.value.shape, self.value.dtype.str, self.value.tobytes())

    def __eq__(self, other):
        return isinstance(other, Constant) and self._identity() == other._identity()

    def __hash__(self):
        return hash(("Constant", self._identity()))

    def __repr__(self):
        v = self.value.item() if self.value.ndim == 0 else self.value.tolist()
        return f"Constant(value={v!r})"


def constant(value: Any) -> Constant:
    """Initializer that fills every entry with ``value`` (``jax.nn.initializers.constant``).

    Args:
      value: a scalar, or an array that broadcasts to the requested shape.

    Returns:
      An initializer ``init(key, shape, dtype=jnp.float32)``; the key is ignored.

    Example:
      >>> import jax, jnn
      >>> jnn.initializers.constant(0.1)(jax.random.key(0), (2,))
      Array([0.1, 0.1], dtype=float32)
    """
    return Constant(value)


zeros = Constant(0.0)
"""Initializer returning an array of zeros (``jax.nn.initializers.zeros``)."""

ones = Constant(1.0)
"""Initializer returning an array of ones (``jax.nn.initializers.ones``)."""


@dataclasses.dataclass(frozen=True)
class Normal:
    """Initializer drawing i.i.d. :math:`\\mathcal N(0, \\text{stddev}^2)` entries."""

    stddev: float = 1e-2

    def __post_init__(self):
        object.__setattr__(self, "stddev", _check_positive("normal", "stddev", self.stddev))

    def __call__(self, key, shape, dtype=jnp.float32):
        shape = _check_shape("normal", shape)
        dtype = _check_floating("normal", dtype)
        return _random_draw(key, self.stddev, 0.0, shape=shape, dtype=dtype, distribution="normal")


def normal(stddev: float = 1e-2) -> Normal:
    r"""Initializer drawing each entry from a centred normal distribution.

    .. math::
      w_{ij} \sim \mathcal N(0, \sigma^2), \qquad \sigma = \text{stddev}.

    Same distribution as ``jax.nn.initializers.normal(stddev)``.

    Args:
      stddev: the standard deviation :math:`\sigma > 0`.

    Returns:
      An initializer ``init(key, shape, dtype=jnp.float32)``.

    Example:
      >>> import jax, jnn
      >>> w = jnn.initializers.normal(0.1)(jax.random.key(0), (3, 4))
      >>> w.shape
      (3, 4)
    """
    return Normal(stddev)


@dataclasses.dataclass(frozen=True)
class Uniform:
    """Initializer drawing i.i.d. entries uniformly from ``[low, high)``."""

    low: float
    high: float

    def __post_init__(self):
        for name in ("low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise TypeError(f"uniform: {name} must be a finite real number; got {v!r}.")
            object.__setattr__(self, name, float(v))
        if not self.low < self.high:
            raise ValueError(
                f"uniform: low must be smaller than high; got low={self.low}, high={self.high}."
            )

    def __call__(self, key, shape, dtype=jnp.float32):
        shape = _check_shape("uniform", shape)
        dtype = _check_floating("uniform", dtype)
        return _random_draw(
            key, self.low, self.high, shape=shape, dtype=dtype, distribution="uniform"
        )


def uniform(
    scale: float | None = None, *, low: float | None = None, high: float | None = None
) -> Uniform:
    r"""Initializer drawing each entry uniformly from an interval.

    .. math::
      w_{ij} \sim \mathcal U[\text{low}, \text{high}).

    Give either ``scale`` (the interval is ``[0, scale)``, exactly as
    ``jax.nn.initializers.uniform(scale)``), or both ``low`` and ``high``.

    .. warning::
      ``uniform(scale)`` is *not* symmetric around zero; it matches JAX, not Keras'
      ``RandomUniform(-scale, scale)``. For a symmetric interval write
      ``uniform(low=-a, high=a)``.

    Args:
      scale: upper bound of ``[0, scale)``; default ``0.01`` when nothing is given.
      low: lower bound (keyword only; needs ``high``).
      high: upper bound (keyword only; needs ``low``), ``high > low``.

    Returns:
      An initializer ``init(key, shape, dtype=jnp.float32)``.

    Example:
      >>> import jax, jnn
      >>> w = jnn.initializers.uniform(low=-1.0, high=1.0)(jax.random.key(0), (1000,))
      >>> bool(w.min() >= -1.0) and bool(w.max() <= 1.0)
      True
    """
    if scale is not None and (low is not None or high is not None):
        raise ValueError(
            f"uniform: give either scale or low/high, not both; got scale={scale!r}, "
            f"low={low!r}, high={high!r}. Use uniform(low=0.0, high=scale) to spell both out."
        )
    if (low is None) != (high is None):
        raise ValueError(
            f"uniform: low and high must be given together; got low={low!r}, high={high!r}."
        )
    if low is not None:
        return Uniform(low, high)
    return Uniform(0.0, _check_positive("uniform", "scale", 1e-2 if scale is None else scale))


# -------------------------------------------------------------------- variance scaling

_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


@dataclasses.dataclass(frozen=True)
class VarianceScaling:
    """Initializer with per-entry variance ``scale / n`` (see :func:`variance_scaling`)."""

    scale: float
    mode: str
    distribution: str
    in_axis: int | tuple[int, ...] = -2
    out_axis: int | tuple[int, ...] = -1
    batch_axis: int | tuple[int, ...] = ()
    name: str = dataclasses.field(default="variance_scaling", compare=False)

    def __post_init__(self):
        where = self.name
        object.__setattr__(self, "scale", _check_positive(where, "scale", self.scale))
        if self.mode not in _MODES:
            raise ValueError(f"{where}: mode must be one of {_MODES}; got {self.mode!r}.")
        if self.distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"{where}: distribution must be one of {_DISTRIBUTIONS}; "
                f"got {self.distribution!r}."
            )
        for axis_name in ("in_axis", "out_axis", "batch_axis"):
            value = _check_axes(where, axis_name, getattr(self, axis_name))
            object.__setattr__(self, axis_name, value)

    def __call__(self, key, shape, dtype=jnp.float32):
        where = self.name
        shape = _check_shape(where, shape)
        dtype = _check_floating(where, dtype)
        if self.in_axis == -2 and self.out_axis == -1:
            _check_kernel_rank(where, shape)
        axes = _normalized_axes(
            where, shape, in_axis=self.in_axis, out_axis=self.out_axis, batch_axis=self.batch_axis
        )
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        # Receptive-field fans, as jax.nn.initializers._compute_fans.
        size = {name: math.prod(shape[a] for a in ax) for name, ax in axes.items()}
        receptive = math.prod(shape) // (size["in_axis"] * size["out_axis"] * size["batch_axis"])
        fan_in, fan_out = size["in_axis"] * receptive, size["out_axis"] * receptive
        n = {
            "fan_in": fan_in,
            "fan_out": fan_out,
            "fan_avg": (fan_in + fan_out) / 2,
            "fan_geo_avg": math.sqrt(fan_in * fan_out),
        }[self.mode]
        std = math.sqrt(self.scale / n)
        if self.distribution == "uniform":
            a, b = -math.sqrt(3) * std, math.sqrt(3) * std
        else:
            a, b = (std / _TRUNCATED_STD if self.distribution == "truncated_normal" else std), 0.0
        return _random_draw(key, a, b, shape=shape, dtype=dtype, distribution=self.distribution)


def variance_scaling(
    scale: float,
    mode: str,
    distribution: str,
    in_axis: int | Sequence[int] = -2,
    out_axis: int | Sequence[int] = -1,
    batch_axis: int | Sequence[int] = (),
) -> VarianceScaling:
    r"""Initializer whose per-entry variance adapts to the kernel's fan-in and fan-out.

    .. math::
      \operatorname{Var}[w_{ij}] = \frac{\text{scale}}{n}, \qquad
      n = \begin{cases} \text{fan\_in} & \text{mode = "fan\_in"} \\
      \text{fan\_out} & \text{mode = "fan\_out"} \\
      (\text{fan\_in} + \text{fan\_out}) / 2 & \text{mode = "fan\_avg"} \\
      \sqrt{\text{fan\_in} \cdot \text{fan\_out}} & \text{mode = "fan\_geo\_avg"}
      \end{cases}

    ``"normal"`` draws :math:`\mathcal N(0, \text{scale}/n)`; ``"truncated_normal"`` draws a
    normal truncated at two standard deviations and rescaled so the variance is still
    :math:`\text{scale}/n`; ``"uniform"`` draws :math:`\mathcal U[-a, a)` with
    :math:`a = \sqrt{3\,\text{scale}/n}`. Fans use the receptive-field convention: every
    axis that is not an in, out or batch axis multiplies both fans (for
    ``(kh, kw, in, out)``: fan_in = kh·kw·in). For a given key the values are those of
    ``jax.nn.initializers.variance_scaling`` (up to the last bit); jnn adds argument checks
    and compiles each draw as one program shared by all scales and modes.

    Args:
      scale: the variance scale, > 0 (1 for LeCun, 2 for He).
      mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``.
      distribution: ``"truncated_normal"``, ``"normal"`` or ``"uniform"``.
      in_axis: the input axis (or axes) of the kernel.
      out_axis: the output axis (or axes) of the kernel.
      batch_axis: axes to ignore when counting fans (stacked kernels).

    Returns:
      An initializer ``init(key, shape, dtype=jnp.float32)``; ``shape`` must have rank >= 2.

    Example:
      >>> import jax, jnn
      >>> init = jnn.initializers.variance_scaling(2.0, "fan_in", "normal")
      >>> init(jax.random.key(0), (3, 3, 16, 32)).shape
      (3, 3, 16, 32)

    References:
      Glorot, Bengio, "Understanding the difficulty of training deep feedforward neural
      networks", AISTATS 2010. He, Zhang, Ren, Sun, "Delving Deep into Rectifiers",
      2015, https://arxiv.org/abs/1502.01852.
    """
    return VarianceScaling(scale, mode, distribution, in_axis, out_axis, batch_axis)


def _family(name: str, scale: float, mode: str, distribution: str, doc: str):
    def factory(
        in_axis: int | Sequence[int] = -2,
        out_axis: int | Sequence[int] = -1,
        batch_axis: int | Sequence[int] = (),
    ) -> VarianceScaling:
        return VarianceScaling(scale, mode, distribution, in_axis, out_axis, batch_axis, name)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return factory


_FAMILY_ARGS = """
    Args:
      in_axis: the input axis (or axes) of the kernel, default -2.
      out_axis: the output axis (or axes) of the kernel, default -1.
      batch_axis: axes to ignore when counting fans.

    Returns:
      An initializer ``init(key, shape, dtype=jnp.float32)``; ``shape`` must have rank >= 2,
      laid out ``(in, out)`` or ``(kh, kw, in, out)``.
"""

lecun_normal = _family(
    "lecun_normal", 1.0, "fan_in", "truncated_normal",
    r"""LeCun normal initializer, jnn's default kernel initializer for ``Dense``.

    .. math::
      w_{ij} \sim \mathcal N_{[-2\sigma, 2\sigma]}(0, \sigma^2), \qquad
      \sigma = 1 / \sqrt{\text{fan\_in}}

    (a normal truncated at two standard deviations, rescaled so the standard deviation is
    exactly :math:`1/\sqrt{\text{fan\_in}}`). With unit-variance inputs each pre-activation
    then has unit variance: "each entry with sdv :math:`1/\sqrt{h_{l-1}}`". Same as
    ``jax.nn.initializers.lecun_normal()`` and Flax's default.
    """
    + _FAMILY_ARGS
    + """
    Example:
      >>> import jax, jnn
      >>> jnn.initializers.lecun_normal()(jax.random.key(0), (784, 512)).shape
      (784, 512)

    References:
      LeCun, Bottou, Orr, Müller, "Efficient BackProp", Neural Networks: Tricks of the
      Trade, 1998.
    """,
)

lecun_uniform = _family(
    "lecun_uniform", 1.0, "fan_in", "uniform",
    r"""LeCun uniform initializer: variance :math:`1/\text{fan\_in}`.

    .. math::
      w_{ij} \sim \mathcal U[-a, a), \qquad a = \sqrt{3 / \text{fan\_in}}.

    Same as ``jax.nn.initializers.lecun_uniform()``.
    """
    + _FAMILY_ARGS
    + """
    Example:
      >>> import jax, jnn
      >>> jnn.initializers.lecun_uniform()(jax.random.key(0), (4, 3)).shape
      (4, 3)

    References:
      LeCun, Bottou, Orr, Müller, "Efficient BackProp", Neural Networks: Tricks of the
      Trade, 1998.
    """,
)

_GLOROT_REF = """
    References:
      Glorot, Bengio, "Understanding the difficulty of training deep feedforward neural
      networks", AISTATS 2010.
    """

glorot_normal = _family(
    "glorot_normal", 1.0, "fan_avg", "truncated_normal",
    r"""Glorot (Xavier) normal initializer: variance :math:`2/(\text{fan\_in}+\text{fan\_out})`.

    .. math::
      w_{ij} \sim \mathcal N_{[-2\sigma, 2\sigma]}(0, \sigma^2), \qquad
      \sigma^2 = \frac{2}{\text{fan\_in} + \text{fan\_out}}

    (truncated at two standard deviations and rescaled to the exact variance). Same as
    ``jax.nn.initializers.glorot_normal()``.
    """
    + _FAMILY_ARGS
    + """
    Example:
      >>> import jax, jnn
      >>> jnn.initializers.glorot_normal()(jax.random.key(0), (4, 3)).shape
      (4, 3)
    """
    + _GLOROT_REF,
)

glorot_uniform = _family(
    "glorot_uniform", 1.0, "fan_avg", "uniform",
    r"""Glorot (Xavier) uniform initializer.

    .. math::
      w_{ij} \sim \mathcal U[-a, a), \qquad a = \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}.

    Same as ``jax.nn.initializers.glorot_uniform()`` and PyTorch's
    ``xavier_uniform_`` (gain 1).
    """
    + _FAMILY_ARGS
    + """
    Example:
      >>> import jax, jnn
      >>> jnn.initializers.glorot_uniform()(jax.random.key(0), (4, 3)).shape
      (4, 3)
    """
    + _GLOROT_REF,
)

_HE_REF = """
    References:
      He, Zhang, Ren, Sun, "Delving Deep into Rectifiers: Surpassing Human-Level
      Performance on ImageNet Classification", 2015, https://arxiv.org/abs/1502.01852.
    """

he_normal = _family(
    "he_normal", 2.0, "fan_in", "truncated_normal",
    r"""He (Kaiming) normal initializer for ReLU networks: variance :math:`2/\text{fan\_in}`.

    .. math::
      w_{ij} \sim \mathcal N_{[-2\sigma, 2\sigma]}(0, \sigma^2), \qquad
      \sigma = \sqrt{2 / \text{fan\_in}}

    (truncated at two standard deviations and rescaled to the exact variance). The factor 2
    compensates for ReLU zeroing half of its inputs. Same as
    ``jax.nn.initializers.he_normal()``.
    """
    + _FAMILY_ARGS
    + """
    Example:
      >>> import jax, jnn
      >>> jnn.initializers.he_normal()(jax.random.key(0), (3, 3, 16, 32)).shape
      (3, 3, 16, 32)
    """
    + _HE_REF,
)

he_uniform = _family(
    "he_uniform", 2.0, "fan_in", "uniform",
    r"""He (Kaiming) uniform initializer for ReLU networks.

    .. math::
      w_{ij} \sim \mathcal U[-a, a), \qquad a = \sqrt{6 / \text{fan\_in}}.

    Same as ``jax.nn.initializers.he_uniform()`` and PyTorch's
    ``kaiming_uniform_(nonlinearity="relu")``.
    """
    + _FAMILY_ARGS
    + """
    Example:
      >>> import jax, jnn
      >>> jnn.initializers.he_uniform()(jax.random.key(0), (4, 3)).shape
      (4, 3)
    """
    + _HE_REF,
)

xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform


# ------------------------------------------------------------------------- orthogonal


@dataclasses.dataclass(frozen=True)
class Orthogonal:
    """Initializer returning ``scale`` times a random orthogonal matrix (see :func:`orthogonal`)."""

    scale: float = 1.0
    column_axis: int = -1

    def __post_init__(self):
        object.__setattr__(self, "scale", _check_positive("orthogonal", "scale", self.scale))
        axis = _check_axes("orthogonal", "column_axis", self.column_axis)
        if not isinstance(axis, int):
            raise TypeError(f"orthogonal: column_axis must be an int; got {self.column_axis!r}.")
        object.__setattr__(self, "column_axis", axis)

    def __call__(self, key, shape, dtype=jnp.float32):
        shape = _check_shape("orthogonal", shape)
        dtype = _check_floating("orthogonal", dtype)
        _check_kernel_rank("orthogonal", shape)
        _normalized_axes("orthogonal", shape, column_axis=self.column_axis)
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        return _orthogonal_draw(
            key, self.scale, shape=shape, dtype=dtype, column_axis=self.column_axis % len(shape)
        )


def orthogonal(scale: float = 1.0, column_axis: int = -1) -> Orthogonal:
    r"""Initializer drawing a (scaled) random orthogonal matrix, uniform over the Haar measure.

    The kernel is viewed as a matrix :math:`W \in \mathbb R^{m \times n}` whose columns run
    along ``column_axis`` (:math:`n` = that axis' size, :math:`m` = the product of the
    others). Then

    .. math::
      W^\top W = \text{scale}^2\, I_n \ \ (m \ge n), \qquad
      W W^\top = \text{scale}^2\, I_m \ \ (m < n).

    Calls ``jax.nn.initializers.orthogonal`` (computing in float32 or wider, then casting).

    Args:
      scale: the multiplier (gain), > 0.
      column_axis: the axis holding the columns that are made orthonormal.

    Returns:
      An initializer ``init(key, shape, dtype=jnp.float32)``; ``shape`` must have rank >= 2.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> q = jnn.initializers.orthogonal()(jax.random.key(0), (5, 3))
      >>> bool(jnp.allclose(q.T @ q, jnp.eye(3), atol=1e-5))
      True

    References:
      Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of learning in
      deep linear neural networks", 2013, https://arxiv.org/abs/1312.6120.
    """
    return Orthogonal(scale, column_axis)


# ------------------------------------------------------------------ uniform direction


@dataclasses.dataclass(frozen=True)
class UniformDirection:
    """Initializer giving each unit a weight vector in a uniformly random direction."""

    scale: float = 1.0
    out_axis: int = -1

    def __post_init__(self):
        where = "uniform_direction"
        object.__setattr__(self, "scale", _check_positive(where, "scale", self.scale))
        axis = _check_axes(where, "out_axis", self.out_axis)
        if not isinstance(axis, int):
            raise TypeError(f"{where}: out_axis must be an int; got {self.out_axis!r}.")
        object.__setattr__(self, "out_axis", axis)

    def __call__(self, key, shape, dtype=jnp.float32):
        where = "uniform_direction"
        shape = _check_shape(where, shape)
        dtype = _check_floating(where, dtype)
        _check_kernel_rank(where, shape)
        _normalized_axes(where, shape, out_axis=self.out_axis)
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        return _direction_draw(
            key, self.scale, shape=shape, dtype=dtype, out_axis=self.out_axis % len(shape)
        )


def uniform_direction(scale: float = 1.0, out_axis: int = -1) -> UniformDirection:
    r"""Initializer that points each unit's incoming weight vector in a uniformly random direction.

    Unit :math:`j`'s weight vector :math:`w_j \in \mathbb R^{n}` (a column of a
    ``(in, out)`` kernel, or one output filter of a ``(kh, kw, in, out)`` kernel, with
    :math:`n` = fan_in) is

    .. math::
      w_j = \sqrt{\text{scale}}\; \frac{g_j}{\lVert g_j \rVert}, \qquad
      g_j \sim \mathcal N(0, I_n),

    so :math:`w_j / \lVert w_j \rVert` is uniform on the unit sphere and
    :math:`\lVert w_j \rVert^2 = \text{scale}`. Each entry then has mean 0 and variance
    :math:`\text{scale}/n`, the LeCun variance for ``scale=1`` (He for ``scale=2``), as the
    course puts it: "choose each weight vector to point in a uniform random direction →
    same as above". Unlike a Gaussian draw, every unit has exactly the same norm.

    Args:
      scale: the squared norm of every weight vector, > 0.
      out_axis: the axis that indexes the units (the output axis), default -1.

    Returns:
      An initializer ``init(key, shape, dtype=jnp.float32)``; ``shape`` must have rank >= 2.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> w = jnn.initializers.uniform_direction()(jax.random.key(0), (100, 8))
      >>> bool(jnp.allclose(jnp.linalg.norm(w, axis=0), 1.0, atol=1e-5))
      True

    References:
      Muller, "A note on a method for generating points uniformly on n-dimensional
      spheres", Communications of the ACM, 1959.
    """
    return UniformDirection(scale, out_axis)


# ------------------------------------------------------------------------ hinge bias


def _box_bound(name: str, value: Any) -> float | tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    arr = np.asarray(value)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            f"hinge_bias: {name} must be a number or a 1-D sequence of numbers (one per input "
            f"feature); got {value!r}."
        )
    return tuple(float(v) for v in arr)


@dataclasses.dataclass(frozen=True)
class HingeBias:
    """Bias initializer that puts each ReLU hinge through a data point (see :func:`hinge_bias`).

    It needs the layer's kernel, so its call takes it keyword-only:
    ``bias_init(key, (features,), dtype, kernel=kernel, x=x)``. Layers detect this
    protocol through the class attribute ``needs_kernel = True``.
    """

    low: float | tuple[float, ...] | None = None
    high: float | tuple[float, ...] | None = None

    needs_kernel = True  # a class attribute, not a field: part of the calling protocol

    def __post_init__(self):
        low, high = _box_bound("low", self.low), _box_bound("high", self.high)
        if (low is None) != (high is None):
            raise ValueError(
                f"hinge_bias: low and high must be given together; got low={self.low!r}, "
                f"high={self.high!r}."
            )
        if low is not None and not np.all(np.less(low, high)):
            raise ValueError(
                f"hinge_bias: low must be smaller than high in every feature; got low={low}, "
                f"high={high}."
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def __call__(self, key, shape, dtype=jnp.float32, *, kernel, x=None):
        where = "hinge_bias"
        shape = _check_shape(where, shape)
        dtype = _check_floating(where, dtype)
        kshape = tuple(np.shape(kernel))
        if len(kshape) < 2:
            raise ValueError(
                f"{where}: kernel must have rank >= 2, laid out {_KERNEL_LAYOUT}; got shape "
                f"{kshape}."
            )
        units, d_in = kshape[-1], kshape[-2]
        if shape != (units,):
            raise ValueError(
                f"{where}: the bias shape must be ({units},), one entry per output unit of the "
                f"kernel of shape {kshape}; got {shape}."
            )
        if x is not None and not isinstance(x, jax.ShapeDtypeStruct):
            _check_data(kshape, np.shape(x))
            return _hinge_data_draw(key, kernel, x, dtype=dtype)
        if self.low is None:
            raise ValueError(
                "hinge_bias: no data to place the hinges on: x is missing or only a "
                "jax.ShapeDtypeStruct. Call init with real example data (the hinges go "
                "through data points), or give a box: hinge_bias(low=..., high=...)."
            )
        if np.size(self.low) not in (1, d_in) or np.size(self.high) not in (1, d_in):
            raise ValueError(
                f"hinge_bias: low/high have {np.size(self.low)}/{np.size(self.high)} entries but "
                f"the kernel expects {d_in} input features; give scalars or {d_in} values each."
            )
        low = np.broadcast_to(np.asarray(self.low, np.float32), (d_in,))
        high = np.broadcast_to(np.asarray(self.high, np.float32), (d_in,))
        return _hinge_box_draw(key, kernel, low, high, dtype=dtype)


def _check_data(kshape: tuple[int, ...], xshape: tuple[int, ...]) -> None:
    window, d_in = kshape[:-2], kshape[-2]
    if len(xshape) < 1 or xshape[-1] != d_in:
        raise ValueError(
            f"hinge_bias: x has shape {xshape} but the kernel of shape {kshape} expects "
            f"{d_in} input features on the last axis."
        )
    k = len(window)
    if k and (len(xshape) != k + 2 or any(s < w for s, w in zip(xshape[1:-1], window))):
        raise ValueError(
            f"hinge_bias: a kernel of shape {kshape} needs x of shape (batch, *spatial, {d_in}) "
            f"with {k} spatial axes at least {window}; got {xshape}."
        )
    points = math.prod(xshape[:-1]) if not k else xshape[0] * math.prod(
        s - w + 1 for s, w in zip(xshape[1:-1], window)
    )
    if points < 2:
        raise ValueError(
            f"hinge_bias: x holds {points} data point(s); at least 2 are needed to place a "
            "hinge with data on both sides. Pass more data, or use hinge_bias(low=..., high=...)."
        )


def _work_dtype(kernel):
    return _compute_dtype(jnp.result_type(kernel))


@_jit
def _hinge_box_draw(key, kernel, low, high, *, dtype):
    kernel = kernel.astype(_work_dtype(kernel))
    units, d_in = kernel.shape[-1], kernel.shape[-2]
    u = jax.random.uniform(key, (kernel.size,), kernel.dtype).reshape((units,) + kernel.shape[:-1])
    per_feature = (1,) * (u.ndim - 1) + (d_in,)
    low = low.astype(kernel.dtype).reshape(per_feature)
    points = low + u * (high.astype(kernel.dtype).reshape(per_feature) - low)
    w = kernel.reshape(-1, units)
    hinge = jnp.einsum("jf,fj->j", points.reshape(units, -1), w, precision=lax.Precision.HIGHEST)
    return (-hinge).astype(dtype)


@_jit
def _hinge_data_draw(key, kernel, x, *, dtype):
    kernel = kernel.astype(_work_dtype(kernel))
    proj = _data_projections(jnp.asarray(x).astype(kernel.dtype), kernel)
    # Per unit, a random data point other than the one furthest along w_j.
    top = jnp.argmax(proj, axis=0)
    pick = jax.random.randint(key, top.shape, 0, proj.shape[0] - 1)
    pick = pick + (pick >= top)
    hinge = jnp.take_along_axis(proj, pick[None, :], axis=0)[0]
    return (-hinge).astype(dtype)


def _data_projections(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``w_j · x_s`` for every data point (dense) or input patch (conv): shape (points, units)."""
    window, d_in, units = kernel.shape[:-2], kernel.shape[-2], kernel.shape[-1]
    if not window:
        return jnp.matmul(x.reshape(-1, d_in), kernel, precision=lax.Precision.HIGHEST)
    k = len(window)
    channels_last = (0, k + 1, *range(1, k + 1))
    numbers_ = lax.ConvDimensionNumbers(
        lhs_spec=channels_last, rhs_spec=(k + 1, k, *range(k)), out_spec=channels_last
    )
    out = lax.conv_general_dilated(
        x, kernel, (1,) * k, "VALID", dimension_numbers=numbers_,
        precision=lax.Precision.HIGHEST,
    )
    return out.reshape(-1, units)


def hinge_bias(
    low: float | Sequence[float] | None = None, high: float | Sequence[float] | None = None
) -> HingeBias:
    r"""Bias initializer that spreads the hinges of ReLU units over the input data.

    Unit :math:`j` computes :math:`\operatorname{relu}(w_j \cdot x + b_j)`; its hinge (kink)
    is the hyperplane :math:`w_j \cdot x + b_j = 0`. Given the already initialized kernel,

    .. math::
      b_j = -\,w_j \cdot x_{s_j},

    so unit :math:`j`'s hinge passes through the point :math:`x_{s_j}`. With data,
    :math:`x_{s_j}` is a data point drawn uniformly at random among all but the one that
    lies furthest along :math:`w_j` (for a convolution kernel: a random input patch), so the
    hinges follow the data's density and every unit is active on part of the data and
    inactive on another part. Without data (``x`` missing or a ``jax.ShapeDtypeStruct``),
    :math:`x_{s_j}` is drawn uniformly from the box :math:`[\text{low}, \text{high}]^d`.
    This realizes the course's "choose biases randomly so that the ReLU hinges cover the
    input well" (the knots of a continuous piecewise-linear regression), in the spirit of
    Steinwart (2019).

    The protocol differs from the other initializers, since the bias depends on the kernel:
    ``init(key, shape, dtype=jnp.float32, *, kernel, x=None)``, and the object carries
    ``needs_kernel = True`` so that ``Dense``/``Conv`` pass ``kernel`` and the example input.
    Data with ties at the top of a projection (duplicate points) can still leave a unit
    inactive everywhere.

    Args:
      low: lower corner of the box used when no data is given: a number, or one value per
        input feature.
      high: upper corner of the box (with ``low``), ``high > low``.

    Returns:
      A :class:`HingeBias` initializer; called with ``kernel`` (``(in, out)`` or
      ``(*window, in, out)``) and ``x`` (``(..., in)``, or ``(batch, *spatial, in)`` for a
      convolution kernel) it returns a bias of shape ``(out,)``.

    Example:
      >>> import jax, jnn
      >>> k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
      >>> x = jax.random.normal(k1, (256, 2))
      >>> w = jnn.initializers.lecun_normal()(k2, (2, 16))
      >>> b = jnn.initializers.hinge_bias()(k3, (16,), kernel=w, x=x)
      >>> active = (x @ w + b > 0).mean(axis=0)
      >>> bool((active > 0).all() and (active < 1).all())
      True

    References:
      Steinwart, "A Sober Look at Neural Network Initializations", 2019,
      https://arxiv.org/abs/1903.11482.
    """
    return HingeBias(low, high)


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[..., Any]] = {
    "zeros": lambda: zeros,
    "ones": lambda: ones,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "variance_scaling": variance_scaling,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming_normal": kaiming_normal,
    "kaiming_uniform": kaiming_uniform,
    "orthogonal": orthogonal,
    "uniform_direction": uniform_direction,
    "hinge_bias": hinge_bias,
}


def get(name: str | Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
    """Look up an initializer by name, configured with ``kwargs``.

    Args:
      name: an initializer name such as ``"he_normal"`` (see the list in the error message),
        or an initializer object, which is returned unchanged.
      **kwargs: arguments of the named factory, e.g. ``get("normal", stddev=0.1)``.

    Returns:
      The initializer.

    Example:
      >>> import jnn
      >>> jnn.initializers.get("he_normal") == jnn.initializers.he_normal()
      True
    """
    if callable(name):
        if kwargs:
            raise TypeError(
                f"get: keyword arguments {sorted(kwargs)} only apply to a name, but an "
                f"initializer object arrived ({name!r}); configure it directly instead."
            )
        return name
    if not isinstance(name, str):
        raise TypeError(f"get: name must be a string or an initializer; got {name!r}.")
    factory = _REGISTRY.get(name.lower())
    if factory is None:
        close = difflib.get_close_matches(name.lower(), _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"get: unknown initializer {name!r}.{hint} Valid names: {', '.join(sorted(_REGISTRY))}."
        )
    try:
        return factory(**kwargs)
    except TypeError as e:
        raise TypeError(f"get: bad arguments {kwargs} for initializer {name!r}: {e}") from None
