r"""Activation functions: plain functions of arrays, usable as parameter-free layers.

Each function maps an array to an array of the same shape and floating dtype, so it can
sit directly in :class:`jnn.layers.Sequential` (``Sequential([Dense(64), relu, Dense(10)])``)
or be looked up by name with :func:`get` (``MLP(sizes, activation="relu")``).

Where ``jax.nn`` already computes exactly the function the course teaches, jnn calls it
(it has the right custom gradients and numerics) and adds only the input check; the rest
(``step``, ``identity``, ``softmax_jacobian``, ``swish`` with a ``beta``) is written here.

Input dtypes: ``identity``, ``step``, ``relu`` and ``hard_tanh`` accept integer inputs
(``step`` returns the default float dtype for them); every other function needs a floating
input and raises ``TypeError`` otherwise. The checks look at the dtype only, so every
function works unchanged under ``jax.jit``, ``jax.grad`` and ``jax.vmap``.

The parametric ReLU (learned slope) is a layer with a parameter: see ``jnn.layers.PReLU``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jnn import _checks

__all__ = [
    "elu",
    "gelu",
    "get",
    "hard_tanh",
    "identity",
    "leaky_relu",
    "log_softmax",
    "names",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmax_jacobian",
    "softplus",
    "step",
    "swish",
    "tanh",
]

# SELU constants (Klambauer et al. 2017, eq. 14), the values jax.nn.selu uses.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _floating(name: str, x: ArrayLike) -> None:
    _checks.floating_input(f"activations.{name}", "x", x)


def _real(name: str, x: ArrayLike) -> None:
    """Integers are fine (the function is exact on them); bool and complex are not."""
    dtype = jnp.result_type(x)
    if dtype == jnp.bool_ or jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(
            f"activations.{name}: x has dtype {dtype} but a real number dtype is needed. "
            "Cast it first, e.g. x.astype(jnp.float32)."
        )


def _check_axis(name: str, x: ArrayLike, axis: int) -> None:
    ndim = jnp.ndim(x)
    if ndim == 0:
        raise ValueError(
            f"activations.{name}: x must have at least 1 dimension (the classes); got a "
            "scalar. Pass a vector of logits, e.g. jnp.atleast_1d(x)."
        )
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"activations.{name}: axis must be an int; got {axis!r}.")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"activations.{name}: axis={axis} is out of range for x with shape "
            f"{tuple(jnp.shape(x))}; use an axis in [{-ndim}, {ndim - 1}] (usually -1)."
        )


def identity(x: ArrayLike) -> jax.Array:
    r"""The identity :math:`f(x) = x` (a linear output unit, as for regression heads).

    Example:
        >>> float(identity(jnp.float32(-2.5)))
        -2.5
    """
    return jnp.asarray(x)


def step(x: ArrayLike, threshold: ArrayLike = 0.0) -> jax.Array:
    r"""The Heaviside step of a threshold logic unit (McCulloch & Pitts; Rosenblatt).

    .. math::
        H_\theta(x) = \begin{cases} 1 & x \ge \theta \\ 0 & x < \theta \end{cases}

    The output keeps a floating input's dtype; an integer input gives the default float
    dtype. Its derivative is zero almost everywhere (and undefined at the threshold, where
    JAX returns zero too), so ``jax.grad`` through ``step`` is identically zero: it is for
    perceptron/TLU examples with given weights, not for gradient training.

    Args:
        x: pre-activations, any shape.
        threshold: :math:`\theta`; the unit fires (outputs 1) where ``x >= threshold``.

    Returns:
        An array of 0.0 and 1.0 with the shape of ``x``.

    Example (an AND neuron, :math:`H(x_1 + x_2 - 1.5)`):
        >>> x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        >>> step(x.sum(-1) - 1.5).tolist()
        [0.0, 0.0, 0.0, 1.0]

    References:
        McCulloch, Pitts, "A logical calculus of the ideas immanent in nervous activity",
        1943. Rosenblatt, "The perceptron: a probabilistic model for information storage
        and organization in the brain", 1958.
    """
    _real("step", x)
    x = jnp.asarray(x)
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.result_type(float)
    return jnp.where(x >= threshold, 1.0, 0.0).astype(dtype)


def sigmoid(x: ArrayLike) -> jax.Array:
    r"""The logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, range (0, 1).

    Re-exports ``jax.nn.sigmoid`` (``lax.logistic``: accurate for large :math:`|x|`).

    Example:
        >>> float(sigmoid(jnp.float32(0.0)))
        0.5
    """
    _floating("sigmoid", x)
    return jax.nn.sigmoid(x)


def tanh(x: ArrayLike) -> jax.Array:
    r"""The hyperbolic tangent :math:`(e^x - e^{-x}) / (e^x + e^{-x})`, range (-1, 1).

    Re-exports ``jnp.tanh``. It equals :math:`2\sigma(2x) - 1`.

    Example:
        >>> float(tanh(jnp.float32(0.0)))
        0.0
    """
    _floating("tanh", x)
    return jnp.tanh(x)


def hard_tanh(x: ArrayLike) -> jax.Array:
    r"""The hard tanh :math:`\max(-1, \min(1, x))`: the identity clipped to [-1, 1].

    Re-exports ``jax.nn.hard_tanh``; its gradient is 1 inside (-1, 1) and 0 outside.

    Example:
        >>> hard_tanh(jnp.array([-3.0, 0.5, 3.0])).tolist()
        [-1.0, 0.5, 1.0]

    References:
        Collobert, "Large Scale Machine Learning", PhD thesis, 2004.
    """
    _real("hard_tanh", x)
    return jax.nn.hard_tanh(x)


def relu(x: ArrayLike) -> jax.Array:
    r"""The rectified linear unit :math:`\max(0, x)`.

    Re-exports ``jax.nn.relu``; its gradient at exactly 0 is taken to be 0.

    Example:
        >>> relu(jnp.array([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 2.0]

    References:
        Nair, Hinton, "Rectified Linear Units Improve Restricted Boltzmann Machines",
        ICML 2010. Glorot, Bordes, Bengio, "Deep Sparse Rectifier Neural Networks",
        AISTATS 2011.
    """
    _real("relu", x)
    return jax.nn.relu(x)


def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> jax.Array:
    r"""The leaky ReLU: :math:`x` for :math:`x \ge 0`, :math:`\alpha x` for :math:`x < 0`.

    Re-exports ``jax.nn.leaky_relu``. The default :math:`\alpha = 0.01` is the course's
    (and PyTorch's); Keras's ``LeakyReLU`` defaults to 0.3. For another slope in a
    ``Sequential``, use ``functools.partial(leaky_relu, negative_slope=0.2)``.

    Args:
        x: any shape.
        negative_slope: :math:`\alpha`, the slope for negative inputs.

    Example:
        >>> leaky_relu(jnp.array([-2.0, 3.0])).tolist()
        [-0.019999999552965164, 3.0]

    References:
        Maas, Hannun, Ng, "Rectifier Nonlinearities Improve Neural Network Acoustic
        Models", ICML 2013.
    """
    _floating("leaky_relu", x)
    return jax.nn.leaky_relu(x, negative_slope)


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""The exponential linear unit.

    .. math::
        \operatorname{ELU}(x) = \begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0
        \end{cases}

    Re-exports ``jax.nn.elu`` (which computes ``expm1`` only on the negative side, so
    large positive inputs do not overflow).

    Example:
        >>> round(float(elu(jnp.float32(-1.0))), 6)
        -0.632121

    References:
        Clevert, Unterthiner, Hochreiter, "Fast and Accurate Deep Network Learning by
        Exponential Linear Units (ELUs)", 2015. https://arxiv.org/abs/1511.07289
    """
    _floating("elu", x)
    return jax.nn.elu(x, alpha)


def selu(x: ArrayLike) -> jax.Array:
    r"""The scaled exponential linear unit of self-normalizing networks.

    .. math::
        \operatorname{SELU}(x) = \lambda \begin{cases} x & x > 0 \\ \alpha (e^x - 1) &
        x \le 0 \end{cases}, \quad \alpha \approx 1.6733,\ \lambda \approx 1.0507

    with the constants of Klambauer et al. (2017, eq. 14), kept here as ``SELU_ALPHA`` and
    ``SELU_SCALE``. Re-exports ``jax.nn.selu``, which uses the same constants. Pair it with
    LeCun-normal initialization, as the paper does.

    Example:
        >>> round(float(selu(jnp.float32(1.0))), 6)
        1.050701

    References:
        Klambauer, Unterthiner, Mayr, Hochreiter, "Self-Normalizing Neural Networks",
        2017. https://arxiv.org/abs/1706.02515
    """
    _floating("selu", x)
    return jax.nn.selu(x)


def gelu(x: ArrayLike, approximate: bool = True) -> jax.Array:
    r"""The Gaussian error linear unit :math:`x \Phi(x)`.

    .. math::
        \operatorname{GELU}(x) = x \Phi(x) \approx \tfrac12 x \left(1 + \tanh\left(
        \sqrt{2/\pi}\,(x + 0.044715 x^3)\right)\right)

    Re-exports ``jax.nn.gelu``. ``approximate=True`` (the default, as in ``jax.nn`` and
    Flax) uses the tanh form; ``approximate=False`` the exact erf form.

    .. warning::
        PyTorch's ``nn.GELU`` and Keras's ``gelu`` default to the exact form; pass
        ``approximate=False`` to match them (the two differ by up to about 5e-4).

    Example:
        >>> round(float(gelu(jnp.float32(1.0), approximate=False)), 6)
        0.841345

    References:
        Hendrycks, Gimpel, "Gaussian Error Linear Units (GELUs)", 2016.
        https://arxiv.org/abs/1606.08415
    """
    _floating("gelu", x)
    if not isinstance(approximate, bool):
        raise TypeError(
            f"activations.gelu: approximate must be True or False; got {approximate!r}."
        )
    return jax.nn.gelu(x, approximate=approximate)


def silu(x: ArrayLike) -> jax.Array:
    r"""The sigmoid linear unit :math:`x \sigma(x)` (swish with :math:`\beta = 1`).

    Re-exports ``jax.nn.silu``.

    Example:
        >>> round(float(silu(jnp.float32(1.0))), 6)
        0.731059

    References:
        Elfwing, Uchibe, Doya, "Sigmoid-Weighted Linear Units for Neural Network Function
        Approximation in Reinforcement Learning", 2017. https://arxiv.org/abs/1702.03118
    """
    _floating("silu", x)
    return jax.nn.silu(x)


def swish(x: ArrayLike, beta: ArrayLike = 1.0) -> jax.Array:
    r"""Swish :math:`x \sigma(\beta x)`; with the default :math:`\beta = 1` it is :func:`silu`.

    ``jax.nn.swish`` is SiLU with no :math:`\beta`; this adds the paper's :math:`\beta`.

    Example:
        >>> bool(swish(jnp.float32(1.0)) == silu(jnp.float32(1.0)))
        True

    References:
        Ramachandran, Zoph, Le, "Searching for Activation Functions", 2017.
        https://arxiv.org/abs/1710.05941
    """
    _floating("swish", x)
    x = jnp.asarray(x)
    return x * jax.nn.sigmoid(beta * x)


def softplus(x: ArrayLike) -> jax.Array:
    r"""Softplus :math:`\log(1 + e^x)`, a smooth ReLU.

    Re-exports ``jax.nn.softplus`` (computed as ``logaddexp(x, 0)``: no overflow at large
    :math:`x`).

    Example:
        >>> round(float(softplus(jnp.float32(0.0))), 6)
        0.693147

    References:
        Dugas, Bengio, Belisle, Nadeau, Garcia, "Incorporating Second-Order Functional
        Knowledge for Better Option Pricing", NeurIPS 2000.
    """
    _floating("softplus", x)
    return jax.nn.softplus(x)


def softmax(x: ArrayLike, axis: int = -1) -> jax.Array:
    r"""The softmax :math:`s(x)_i = e^{x_i} / \sum_k e^{x_k}` along ``axis``.

    Computed as :math:`e^{x_i - m} / \sum_k e^{x_k - m}` with :math:`m = \max_k x_k`
    (the same value; no overflow at large logits). Re-exports ``jax.nn.softmax``.

    Args:
        x: logits, ``(..., classes)`` for the default ``axis=-1``.
        axis: the class axis.

    Returns:
        Probabilities of the shape of ``x``, summing to 1 along ``axis``.

    Example (a smooth argmax):
        >>> [round(p, 4) for p in softmax(jnp.array([1.0, 1000.0, 2.0])).tolist()]
        [0.0, 1.0, 0.0]

    References:
        Bridle, "Probabilistic Interpretation of Feedforward Classification Network
        Outputs, with Relationships to Statistical Pattern Recognition", 1990.
    """
    _floating("softmax", x)
    _check_axis("softmax", x, axis)
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> jax.Array:
    r"""The log of the softmax, :math:`x_i - \log \sum_k e^{x_k}`, along ``axis``.

    Computed as :math:`(x_i - m) - \log \sum_k e^{x_k - m}` with :math:`m = \max_k x_k`,
    which stays finite and exact where ``log(softmax(x))`` would give ``-inf``.
    Re-exports ``jax.nn.log_softmax``.

    Args:
        x: logits, ``(..., classes)`` for the default ``axis=-1``.
        axis: the class axis.

    Example:
        >>> log_softmax(jnp.array([0.0, 1e4])).tolist()
        [-10000.0, 0.0]
    """
    _floating("log_softmax", x)
    _check_axis("log_softmax", x, axis)
    return jax.nn.log_softmax(x, axis=axis)


def softmax_jacobian(x: ArrayLike) -> jax.Array:
    r"""The Jacobian of the softmax over the last axis, :math:`\operatorname{diag}(s) - s s^T`.

    .. math::
        \frac{\partial s_i}{\partial x_j} = s_i (\delta_{ij} - s_j), \qquad
        J = \operatorname{diag}(s) - s s^{\mathsf T}, \quad s = \operatorname{softmax}(x)

    The rows (and columns) of :math:`J` sum to zero: adding a constant to every logit
    leaves the softmax unchanged.

    Args:
        x: logits, ``(classes,)`` or batched ``(..., classes)``.

    Returns:
        ``(classes, classes)``, or ``(..., classes, classes)`` for batched logits.

    Example:
        >>> softmax_jacobian(jnp.zeros(2)).tolist()
        [[0.25, -0.25], [-0.25, 0.25]]
    """
    _floating("softmax_jacobian", x)
    _check_axis("softmax_jacobian", x, -1)
    s = jax.nn.softmax(jnp.asarray(x), axis=-1)
    k = s.shape[-1]
    eye = jnp.broadcast_to(jnp.eye(k, dtype=s.dtype), s.shape[:-1] + (k, k))
    return eye * s[..., None, :] - s[..., :, None] * s[..., None, :]


_REGISTRY: dict[str, Callable[..., jax.Array]] = {
    "identity": identity,
    "linear": identity,
    "step": step,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "hard_tanh": hard_tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "silu": silu,
    "swish": swish,
    "softplus": softplus,
    "softmax": softmax,
    "log_softmax": log_softmax,
}


def names() -> list[str]:
    """The names :func:`get` accepts, sorted."""
    return sorted(_REGISTRY)


def get(name: str | Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """The activation function called ``name`` (a callable is returned unchanged).

    Names are the function names of this module (``"relu"``, ``"tanh"``, ...), plus
    ``"linear"`` for :func:`identity` as in Keras. Matching ignores case and treats ``-``
    as ``_`` (``"Leaky-ReLU"`` works).

    Example:
        >>> get("relu") is relu
        True
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"activations.get: name must be a string such as 'relu' or a callable; got "
            f"{name!r} (type {type(name).__name__})."
        )
    fn = _REGISTRY.get(name.strip().lower().replace("-", "_"))
    if fn is None:
        raise ValueError(
            f"activations.get: unknown activation {name!r}; valid names are "
            f"{', '.join(names())}. Or pass a function, e.g. activation=jax.nn.relu."
        )
    return fn
