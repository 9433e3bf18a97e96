"""Recurrent cells: one time step of an Elman RNN, an LSTM and a GRU.

A cell is an immutable hyperparameter object like a layer, with a step function
instead of a layer's ``apply``:

.. code-block:: python

    params = cell.init(key, x_t)                    # x_t: (batch, features), array or struct
    carry = cell.initial_carry((batch,))            # zeros
    carry, y_t = cell.apply(params, carry, x_t)     # one time step

``RNN`` runs a cell over a sequence with ``jax.lax.scan``. Each step is split in
two: ``project`` (the input half, ``x_t W + b``) and ``step`` (the recurrent half);
``apply`` is ``step`` after ``project``.
The output of every cell here is its hidden state: ``y_t == cell.output(carry_t)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn.layers._base import Layer, check_param_keys
from jnn.layers._dense import param_dtype_for

Initializer = Callable[..., jax.Array]

# Module-level instances so that two equal cells compare (and hash) equal.
DEFAULT_KERNEL_INIT = jax.nn.initializers.lecun_normal()
DEFAULT_RECURRENT_INIT = jax.nn.initializers.orthogonal()


def _blocks(init: Initializer, key, n_blocks: int, shape, dtype) -> jax.Array:
    """``n_blocks`` independently initialized ``shape`` matrices side by side (one per gate)."""
    keys = jax.random.split(key, n_blocks)
    return jnp.concatenate([init(k, shape, dtype) for k in keys], axis=-1)


def _trailing(bias: jax.Array, ndim: int) -> jax.Array:
    """``bias`` reshaped to broadcast along the last axis of a rank-``ndim`` array.

    Explicit, so the code also runs with ``jax_numpy_rank_promotion="raise"``.
    """
    return bias.reshape((1,) * (ndim - 1) + (-1,))


def _per_gate_projection(params, x, n_gates):
    """``x W_k + b_k`` for each gate ``k``, from the fused ``(in, n_gates*H)`` kernel.

    One product per gate rather than one fused product and a split: on XLA:CPU the
    fused form made an LSTM training step about 15% slower (the split slices and their
    cotangent concatenation do not fuse with the product). Flax's cells compute per gate
    too. The kernel slices are loop-invariant, so XLA hoists them out of the scan.
    """
    kernels = jnp.split(params["input_kernel"], n_gates, axis=-1)
    biases = jnp.split(params["bias"], n_gates)
    return tuple(x @ w + _trailing(b, x.ndim) for w, b in zip(kernels, biases))


class Cell:
    """Base class of recurrent cells (see the module docstring for the contract).

    Subclasses are frozen dataclasses with a ``features`` field (the hidden size) and a
    class attribute ``n_gates``; they implement ``init``, ``initial_carry``, ``step``
    and ``output``. ``params`` hold ``"input_kernel": (in, n_gates*H)``,
    ``"recurrent_kernel": (H, n_gates*H)`` and ``"bias": (n_gates*H,)``.
    """

    features: int
    n_gates: int = 1

    # ---- shared plumbing

    def _check_features(self) -> None:
        name = type(self).__name__
        _checks.positive_int(
            name, "features", self.features,
            fix=f"Pass the hidden size, e.g. {name}(128).",
        )

    def _input_params(self, key, x_t, param_dtype, kernel_init, recurrent_init, bias):
        where = f"{type(self).__name__}.init"
        _checks.rank_at_least(where, "x_t", x_t, 1, "(..., features)")
        _checks.floating_input(where, "x_t", x_t)
        dtype = param_dtype_for(x_t, param_dtype)
        k_in, k_rec = jax.random.split(key)
        h, g = self.features, self.n_gates
        return {
            "input_kernel": _blocks(kernel_init, k_in, g, (x_t.shape[-1], h), dtype),
            "recurrent_kernel": _blocks(recurrent_init, k_rec, g, (h, h), dtype),
            "bias": jnp.asarray(bias, dtype),
        }

    def param_keys(self) -> set[str]:
        return {"input_kernel", "recurrent_kernel", "bias"}

    def check_params(self, where: str, params: Any, in_features: int | None = None) -> None:
        """Refuse params of another cell or another input size, with the fix."""
        check_param_keys(where, params, self.param_keys())
        h, g = self.features, self.n_gates
        expected = {
            "recurrent_kernel": (h, g * h),
            "bias": (g * h,),
            "input_kernel": (params["input_kernel"].shape[0], g * h),
        }
        for name, shape in expected.items():
            got = tuple(params[name].shape)
            if got != shape:
                raise ValueError(
                    f"{where}: params['{name}'] has shape {got} but {self!r} needs {shape}; "
                    f"these params belong to another cell. Re-run init."
                )
        n_in = params["input_kernel"].shape[0]
        if in_features is not None and in_features != n_in:
            raise ValueError(
                f"{where}: the input has {in_features} features but input_kernel expects "
                f"{n_in}; re-run init with an input like this one."
            )

    def initial_carry(self, batch_shape: int | tuple[int, ...], dtype: Any = jnp.float32):
        """The zero carry for inputs with leading (batch) shape ``batch_shape``."""
        shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        return jnp.zeros(shape + (self.features,), dtype)

    def project(self, params, x: jax.Array) -> jax.Array:
        """The input half of a step, ``x W + b``, for ``x`` with any leading axes."""
        y = x @ params["input_kernel"]
        return y + _trailing(params["bias"], y.ndim)

    def apply(self, params, carry, x_t):
        """One time step: ``(new_carry, y_t)`` for ``x_t`` of shape ``(..., features)``."""
        where = f"{type(self).__name__}.apply"
        _checks.rank_at_least(where, "x_t", x_t, 1, "(..., features)")
        _checks.floating_input(where, "x_t", x_t)
        self.check_params(where, params, x_t.shape[-1])
        return self.step(params, carry, self.project(params, x_t))

    def step(self, params, carry, xp_t):
        """The recurrent half of a step, given the projected input ``xp_t = project(x_t)``."""
        raise NotImplementedError

    def output(self, carry) -> jax.Array:
        """The output ``y_t`` a step returns together with ``carry`` (the hidden state)."""
        return carry

    def __repr__(self) -> str:
        return Layer.__repr__(self)  # the same compact hyperparameter repr as layers


@dataclasses.dataclass(frozen=True, repr=False)
class SimpleRNNCell(Cell):
    r"""The Elman recurrent cell.

    .. math::
        h_t = \phi(x_t W + h_{t-1} U + b), \qquad y_t = h_t

    Params are ``{"input_kernel": (in, H), "recurrent_kernel": (H, H), "bias": (H,)}``;
    the carry is ``h``, ``(batch, H)``.

    Args:
        features: the hidden size ``H``.
        activation: :math:`\phi`, ``jnp.tanh`` by default.
        kernel_init: initializer of ``W`` (LeCun normal).
        recurrent_init: initializer of ``U`` (orthogonal).
        param_dtype: dtype of the params; by default the input's float dtype.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> cell = SimpleRNNCell(4)
        >>> params = cell.init(jax.random.key(0), jnp.ones((2, 3)))
        >>> h, y = cell.apply(params, cell.initial_carry((2,)), jnp.ones((2, 3)))
        >>> y.shape
        (2, 4)

    References:
        Elman, "Finding Structure in Time", Cognitive Science 14(2), 1990.
        https://doi.org/10.1207/s15516709cog1402_1
    """

    features: int
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh
    kernel_init: Initializer = DEFAULT_KERNEL_INIT
    recurrent_init: Initializer = DEFAULT_RECURRENT_INIT
    param_dtype: Any = None

    def __post_init__(self):
        self._check_features()

    def init(self, key, x_t):
        zeros = jnp.zeros((self.features,))
        return self._input_params(
            key, x_t, self.param_dtype, self.kernel_init, self.recurrent_init, zeros
        )

    def step(self, params, carry, xp_t):
        h = self.activation(xp_t + carry @ params["recurrent_kernel"])
        return h, h


@dataclasses.dataclass(frozen=True, repr=False)
class LSTMCell(Cell):
    r"""The long short-term memory cell (with forget gate, no peepholes).

    .. math::
        \begin{aligned}
        i_t &= \sigma(x_t W_i + h_{t-1} U_i + b_i) &
        f_t &= \sigma(x_t W_f + h_{t-1} U_f + b_f) \\
        g_t &= \tanh(x_t W_g + h_{t-1} U_g + b_g) &
        o_t &= \sigma(x_t W_o + h_{t-1} U_o + b_o) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t &
        h_t &= o_t \odot \tanh(c_t), \quad y_t = h_t
        \end{aligned}

    The four gates' params are stored side by side, in the order ``i, f, g, o``
    (PyTorch's):
    ``{"input_kernel": (in, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}``.
    The carry is ``(c, h)``, as in Flax. The forget-gate bias starts at
    ``forget_bias`` (1 by default, so the cell remembers at first; Gers et al. 2000,
    Jozefowicz et al. 2015); the other biases start at 0.

    .. warning::
        Flax's ``LSTMCell`` starts all biases at 0 and keeps one Dense per gate
        (``ii, if, ig, io`` without bias and ``hi, hf, hg, ho`` with bias);
        ``jnn.layers.to_linen_params`` converts.

    Args:
        features: the hidden size ``H``.
        forget_bias: the initial value of :math:`b_f`.
        kernel_init: initializer of each gate's ``W`` (LeCun normal).
        recurrent_init: initializer of each gate's ``U`` (orthogonal).
        param_dtype: dtype of the params; by default the input's float dtype.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> cell = LSTMCell(4)
        >>> params = cell.init(jax.random.key(0), jnp.ones((2, 3)))
        >>> (c, h), y = cell.apply(params, cell.initial_carry((2,)), jnp.ones((2, 3)))
        >>> c.shape, h.shape
        ((2, 4), (2, 4))

    References:
        Hochreiter, Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8), 1997.
        Gers, Schmidhuber, Cummins, "Learning to Forget: Continual Prediction with LSTM",
        Neural Computation 12(10), 2000.
        Jozefowicz, Zaremba, Sutskever, "An Empirical Exploration of Recurrent Network
        Architectures", ICML 2015.
    """

    features: int
    forget_bias: float = 1.0
    kernel_init: Initializer = DEFAULT_KERNEL_INIT
    recurrent_init: Initializer = DEFAULT_RECURRENT_INIT
    param_dtype: Any = None
    n_gates = 4

    def __post_init__(self):
        self._check_features()

    def init(self, key, x_t):
        h = self.features
        bias = jnp.zeros((4 * h,)).at[h:2 * h].set(self.forget_bias)
        return self._input_params(
            key, x_t, self.param_dtype, self.kernel_init, self.recurrent_init, bias
        )

    def initial_carry(self, batch_shape, dtype=jnp.float32):
        """The zero carry ``(c, h)``."""
        zeros = super().initial_carry(batch_shape, dtype)
        return zeros, zeros

    def project(self, params, x):
        """The input half of the four gates, ``(x W_i + b_i, ..., x W_o + b_o)``."""
        return _per_gate_projection(params, x, 4)

    def step(self, params, carry, xp_t):
        c, h = carry
        xi, xf, xg, xo = xp_t
        ui, uf, ug, uo = jnp.split(params["recurrent_kernel"], 4, axis=-1)
        i = jax.nn.sigmoid(xi + h @ ui)
        f = jax.nn.sigmoid(xf + h @ uf)
        g = jnp.tanh(xg + h @ ug)
        o = jax.nn.sigmoid(xo + h @ uo)
        c = f * c + i * g
        h = o * jnp.tanh(c)
        return (c, h), h

    def output(self, carry):
        return carry[1]


@dataclasses.dataclass(frozen=True, repr=False)
class GRUCell(Cell):
    r"""The gated recurrent unit, with the reset gate applied after the recurrent product.

    .. math::
        \begin{aligned}
        r_t &= \sigma(x_t W_r + b_r + h_{t-1} U_r) \\
        z_t &= \sigma(x_t W_z + b_z + h_{t-1} U_z) \\
        n_t &= \tanh\big(x_t W_n + b_n + r_t \odot (h_{t-1} U_n + b_{hn})\big) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}, \qquad y_t = h_t
        \end{aligned}

    This is the variant of PyTorch, Flax and cuDNN (Keras's ``reset_after=True``); the
    paper applies :math:`r_t` to :math:`h_{t-1}` before the product. Params, gates in the
    order ``r, z, n``: ``{"input_kernel": (in, 3H), "recurrent_kernel": (H, 3H),
    "bias": (3H,), "recurrent_bias": (H,)}`` (``recurrent_bias`` is :math:`b_{hn}`);
    the carry is ``h``.

    Args:
        features: the hidden size ``H``.
        kernel_init: initializer of each gate's ``W`` (LeCun normal).
        recurrent_init: initializer of each gate's ``U`` (orthogonal).
        param_dtype: dtype of the params; by default the input's float dtype.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> cell = GRUCell(4)
        >>> params = cell.init(jax.random.key(0), jnp.ones((2, 3)))
        >>> h, y = cell.apply(params, cell.initial_carry((2,)), jnp.ones((2, 3)))
        >>> y.shape
        (2, 4)

    References:
        Cho, van Merrienboer, Gulcehre, Bahdanau, Bougares, Schwenk, Bengio, "Learning
        Phrase Representations using RNN Encoder-Decoder for Statistical Machine
        Translation", 2014. https://arxiv.org/abs/1406.1078
    """

    features: int
    kernel_init: Initializer = DEFAULT_KERNEL_INIT
    recurrent_init: Initializer = DEFAULT_RECURRENT_INIT
    param_dtype: Any = None
    n_gates = 3

    def __post_init__(self):
        self._check_features()

    def init(self, key, x_t):
        params = self._input_params(
            key, x_t, self.param_dtype, self.kernel_init, self.recurrent_init,
            jnp.zeros((3 * self.features,)),
        )
        params["recurrent_bias"] = jnp.zeros((self.features,), params["bias"].dtype)
        return params

    def param_keys(self):
        return super().param_keys() | {"recurrent_bias"}

    def check_params(self, where, params, in_features=None):
        super().check_params(where, params, in_features)
        got = tuple(params["recurrent_bias"].shape)
        if got != (self.features,):
            raise ValueError(
                f"{where}: params['recurrent_bias'] has shape {got} but {self!r} needs "
                f"{(self.features,)}; these params belong to another cell. Re-run init."
            )

    def project(self, params, x):
        """The input half of the three gates, ``(x W_r + b_r, x W_z + b_z, x W_n + b_n)``."""
        return _per_gate_projection(params, x, 3)

    def step(self, params, carry, xp_t):
        h = carry
        xr, xz, xn = xp_t
        ur, uz, un = jnp.split(params["recurrent_kernel"], 3, axis=-1)
        r = jax.nn.sigmoid(xr + h @ ur)
        z = jax.nn.sigmoid(xz + h @ uz)
        hn = h @ un + _trailing(params["recurrent_bias"], h.ndim)
        n = jnp.tanh(xn + r * hn)
        h = (1.0 - z) * n + z * h
        return h, h
