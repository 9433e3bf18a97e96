"""Recurrent layers: a cell run over a sequence with ``jax.lax.scan``; bidirectional RNNs.

Sequences are batch-first, ``(batch, time, features)``. Padded batches pass
``lengths`` (one per sequence, shape ``(batch,)``) as a keyword of ``apply``:
sequences are taken to be right-padded, steps at ``t >= lengths[b]`` leave the carry
unchanged and output zeros, so the outputs equal those of the unpadded sequences.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jnn import _checks
from jnn.layers._base import Layer, check_param_keys
from jnn.layers._cells import Cell


def _check_sequence(where: str, x: Any) -> None:
    if getattr(x, "ndim", np.ndim(x)) != 3:
        shape = tuple(np.shape(x))
        hint = (
            " It looks like a sequence without a time axis: for one time step use "
            "x[:, None, :] (or call the cell directly); for a single sequence use x[None]."
            if len(shape) == 2
            else ""
        )
        raise ValueError(
            f"{where}: x must have 3 dimensions (batch, time, features); got shape "
            f"{shape}.{hint}"
        )
    _checks.floating_input(
        where, "x", x,
        fix="Integer token ids go through an Embedding layer first, e.g. "
        "Sequential([Embedding(vocab, 32), RNN(LSTMCell(64))]).",
    )


def _check_lengths(where: str, lengths: Any, batch: int, time: int) -> jax.Array:
    shape = tuple(np.shape(lengths))
    if shape != (batch,):
        raise ValueError(
            f"{where}: lengths must have shape (batch,) = ({batch},), one length per "
            f"sequence; got shape {shape}. For a mask of shape (batch, time), pass "
            f"lengths=mask.sum(axis=1)."
        )
    if not jnp.issubdtype(jnp.result_type(lengths), jnp.integer):
        raise TypeError(
            f"{where}: lengths must be integers; got dtype {jnp.result_type(lengths)}. "
            f"Cast them, e.g. lengths.astype(jnp.int32)."
        )
    if not isinstance(lengths, jax.core.Tracer):
        values = np.asarray(lengths)
        if values.min() < 0 or values.max() > time:
            raise ValueError(
                f"{where}: lengths must lie in [0, {time}] (the time axis of x); got values "
                f"from {values.min()} to {values.max()}."
            )
    return jnp.asarray(lengths)


def _check_carry(where: str, carry: Any, expected: Any) -> None:
    shapes = jax.tree.map(lambda a: tuple(np.shape(a)), carry)
    want = jax.tree.map(lambda a: tuple(a.shape), expected)
    if jax.tree.structure(carry) != jax.tree.structure(expected) or shapes != want:
        raise ValueError(
            f"{where}: initial_carry must look like cell.initial_carry((batch,)).\n"
            f"  expected shapes: {want}\n  got shapes:      {shapes}"
        )


@functools.partial(jax.jit, static_argnames=("cell", "reverse", "unroll", "return_sequences"))
def scan_cell(cell, params, x, carry, *, lengths=None, reverse=False, unroll=1,
              return_sequences=True):
    """Run ``cell`` over time-major inputs ``x`` ``(time, batch, features)``.

    Returns ``(final_carry, ys)`` with ``ys`` ``(time, batch, H)`` (``None`` unless
    ``return_sequences``). With ``lengths``, steps past each sequence's end keep the
    carry and output zeros; with ``reverse``, time runs backwards and ``ys`` keeps the
    original order.
    """
    # Jitted with the cell static so that eager calls reuse one compilation (an eager
    # lax.scan with a fresh closure recompiles on every call); under an outer jit it
    # is inlined.
    # The input projection stays inside the loop, as in Flax. Hoisting it out (one big
    # product over the whole sequence, the cuDNN trick) made the backward pass 3-4x
    # slower on XLA:CPU, where the stacked input cotangent is rebuilt every step.
    if lengths is None:
        def body(c, x_t):
            c, y = cell.step(params, c, cell.project(params, x_t))
            return c, (y if return_sequences else None)

        return lax.scan(body, carry, x, reverse=reverse, unroll=unroll)

    def masked_body(c, inputs):
        x_t, t = inputs
        new, y = cell.step(params, c, cell.project(params, x_t))
        valid = (t < lengths)[:, None]
        c = jax.tree.map(lambda n, o: jnp.where(valid, n, o), new, c)
        return c, (jnp.where(valid, y, jnp.zeros((), y.dtype)) if return_sequences else None)

    steps = jnp.arange(x.shape[0])
    # Right padding: in reverse, the padded steps come first and leave the initial
    # carry untouched, so each sequence is read from its own last element.
    return lax.scan(masked_body, carry, (x, steps), reverse=reverse, unroll=unroll)


@dataclasses.dataclass(frozen=True, repr=False)
class RNN(Layer):
    r"""Runs a recurrent cell over ``(batch, time, features)`` with ``jax.lax.scan``.

    .. math::
        (\text{carry}_t, y_t) = \text{cell}(\text{carry}_{t-1}, x_t), \qquad t = 1..T

    Output of ``apply``:

    - ``return_sequences=False`` (many-to-one): the last output ``y_T``, ``(batch, H)``;
      with ``lengths``, each sequence's own last output.
    - ``return_sequences=True`` (many-to-many): all outputs ``(batch, time, H)``.
    - ``return_state=True``: the pair ``(output, final_carry)``.

    Params are the cell's params; the state is ``{}``.

    Args:
        cell: a :class:`Cell` (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``).
        return_sequences: return every step's output instead of the last one.
        return_state: also return the final carry.
        reverse: run from the last step to the first; outputs keep the input's time
            order (so they line up with a forward RNN's in ``Bidirectional``), and
            the "last" output is the one at ``t = 0``.
        unroll: steps per scan iteration (``jax.lax.scan``'s ``unroll``).

    ``apply`` also takes the keywords ``lengths`` (``(batch,)`` integers; sequences are
    right-padded, steps at ``t >= lengths[b]`` are skipped, padded outputs are zero)
    and ``initial_carry`` (by default ``cell.initial_carry((batch,))``, zeros).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import LSTMCell
        >>> rnn = RNN(LSTMCell(8))
        >>> x = jnp.ones((2, 5, 3))
        >>> params, state = rnn.init(jax.random.key(0), x)
        >>> rnn.apply(params, state, x)[0].shape
        (2, 8)
        >>> y, _ = rnn.apply(params, state, x, lengths=jnp.array([5, 2]))
    """

    cell: Cell
    return_sequences: bool = False
    return_state: bool = False
    reverse: bool = False
    unroll: int = 1

    def __post_init__(self):
        if not isinstance(self.cell, Cell):
            hint = (
                f" Instantiate it, e.g. RNN({self.cell.__name__}(64))."
                if isinstance(self.cell, type)
                else ""
            )
            raise TypeError(
                f"RNN: cell must be a recurrent cell such as LSTMCell(64), GRUCell(64) or "
                f"SimpleRNNCell(64); got {self.cell!r}.{hint}"
            )
        _checks.positive_int("RNN", "unroll", self.unroll, fix="1 (no unrolling) is the default.")

    def init(self, key, x):
        _check_sequence("RNN.init", x)
        x_t = jax.ShapeDtypeStruct((x.shape[0], x.shape[2]), x.dtype)
        return self.cell.init(key, x_t), {}

    def apply(self, params, state, x, *, key=None, train=False, lengths=None,
              initial_carry=None):
        del key, train
        where = "RNN.apply"
        _check_sequence(where, x)
        batch, time, features = x.shape
        self.cell.check_params(where, params, features)
        if lengths is not None:
            lengths = _check_lengths(where, lengths, batch, time)
        x_tm = jnp.swapaxes(x, 0, 1)  # (time, batch, features): scan runs over axis 0
        dtype = jnp.result_type(x.dtype, params["recurrent_kernel"].dtype)
        expected = self.cell.initial_carry((batch,), dtype)
        if initial_carry is None:
            initial_carry = expected
        else:
            _check_carry(where, initial_carry, expected)
        carry, ys = scan_cell(
            self.cell, params, x_tm, initial_carry, lengths=lengths, reverse=self.reverse,
            unroll=self.unroll, return_sequences=self.return_sequences,
        )
        y = jnp.swapaxes(ys, 0, 1) if self.return_sequences else self.cell.output(carry)
        return ((y, carry) if self.return_state else y), state


_MERGES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "concat": lambda a, b: jnp.concatenate([a, b], axis=-1),
    "sum": jnp.add,
    "mean": lambda a, b: (a + b) / 2,
    "mul": jnp.multiply,
}


@dataclasses.dataclass(frozen=True, repr=False)
class Bidirectional(Layer):
    r"""A forward and a backward RNN over the same sequence, outputs merged.

    .. math::
        y_t = \operatorname{merge}(\overrightarrow{y}_t, \overleftarrow{y}_t)

    Both outputs are in the input's time order, so at each step they describe the
    same position (the past through the forward RNN, the future through the
    backward one). For many-to-one (``return_sequences=False``) the merged output is
    the forward RNN's last output with the backward RNN's output at ``t = 0`` (each has
    then read the whole sequence). Params are ``{"forward": ..., "backward": ...}``;
    with ``return_state`` the output is ``(y, (forward_carry, backward_carry))``.
    ``apply`` takes ``lengths`` as :class:`RNN` does.

    Args:
        forward_rnn: an :class:`RNN`.
        backward_rnn: an :class:`RNN` run with the opposite ``reverse``; by default a
            copy of ``forward_rnn`` with ``reverse`` flipped (separate params).
        merge: ``"concat"`` (features ``2H``), ``"sum"``, ``"mean"`` or ``"mul"``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import GRUCell, RNN
        >>> bi = Bidirectional(RNN(GRUCell(4), return_sequences=True))
        >>> x = jnp.ones((2, 5, 3))
        >>> params, state = bi.init(jax.random.key(0), x)
        >>> bi.apply(params, state, x)[0].shape
        (2, 5, 8)

    References:
        Schuster, Paliwal, "Bidirectional Recurrent Neural Networks", IEEE Transactions
        on Signal Processing 45(11), 1997.
    """

    forward_rnn: RNN
    backward_rnn: RNN | None = None
    merge: str = "concat"

    def __post_init__(self):
        for name in ("forward_rnn", "backward_rnn"):
            value = getattr(self, name)
            if not (isinstance(value, RNN) or (name == "backward_rnn" and value is None)):
                raise TypeError(
                    f"Bidirectional: {name} must be an RNN layer, e.g. RNN(LSTMCell(64)); "
                    f"got {value!r}."
                )
        if self.backward_rnn is None:
            backward = dataclasses.replace(self.forward_rnn, reverse=not self.forward_rnn.reverse)
            object.__setattr__(self, "backward_rnn", backward)
        f, b = self.forward_rnn, self.backward_rnn
        if f.reverse == b.reverse:
            raise ValueError(
                f"Bidirectional: forward_rnn and backward_rnn must run in opposite "
                f"directions; both have reverse={f.reverse}. Give backward_rnn reverse=True."
            )
        for flag in ("return_sequences", "return_state"):
            if getattr(f, flag) != getattr(b, flag):
                raise ValueError(
                    f"Bidirectional: forward_rnn and backward_rnn must agree on {flag}; got "
                    f"{getattr(f, flag)} and {getattr(b, flag)}."
                )
        if self.merge not in _MERGES:
            raise ValueError(
                f"Bidirectional: merge must be one of {sorted(_MERGES)}; got {self.merge!r}."
            )

    def __repr__(self) -> str:
        default = dataclasses.replace(self.forward_rnn, reverse=not self.forward_rnn.reverse)
        parts = [repr(self.forward_rnn)]
        if self.backward_rnn != default:
            parts.append(f"backward_rnn={self.backward_rnn!r}")
        if self.merge != "concat":
            parts.append(f"merge={self.merge!r}")
        return f"Bidirectional({', '.join(parts)})"

    def init(self, key, x):
        k_f, k_b = jax.random.split(key)
        p_f, _ = self.forward_rnn.init(k_f, x)
        p_b, _ = self.backward_rnn.init(k_b, x)
        return {"forward": p_f, "backward": p_b}, {}

    def apply(self, params, state, x, *, key=None, train=False, lengths=None):
        del key, train
        check_param_keys("Bidirectional.apply", params, {"forward", "backward"})
        out_f, _ = self.forward_rnn.apply(params["forward"], {}, x, lengths=lengths)
        out_b, _ = self.backward_rnn.apply(params["backward"], {}, x, lengths=lengths)
        merge = _MERGES[self.merge]
        if self.forward_rnn.return_state:
            return (merge(out_f[0], out_b[0]), (out_f[1], out_b[1])), state
        return merge(out_f, out_b), state


def generate(step: Callable, carry: Any, x0: Any, length: int) -> tuple[Any, Any]:
    r"""One-to-many: unroll ``step`` for ``length`` steps, feeding each output back in.

    .. math::
        (\text{carry}_t, y_t) = \text{step}(\text{carry}_{t-1}, x_t), \qquad
        x_{t+1} = y_t, \qquad x_1 = x_0

    Runs as one ``jax.lax.scan``. ``step`` is any ``(carry, x_t) -> (carry, y_t)`` whose
    output has the input's shape and dtype: a cell's ``apply`` with its params bound,
    usually followed by a readout (a ``Dense`` back to the input size, or a sampler).

    Args:
        step: ``(carry, x_t) -> (carry, y_t)``.
        carry: the initial carry (e.g. ``cell.initial_carry((batch,))``).
        x0: the first input, ``(batch, features)``.
        length: the number of steps to generate.

    Returns:
        ``(final_carry, ys)`` with ``ys`` batch-first, ``(batch, length, features)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jnn.layers import Dense, LSTMCell
        >>> cell, readout = LSTMCell(8), Dense(3)
        >>> x0 = jnp.ones((2, 3))
        >>> p_cell = cell.init(jax.random.key(0), x0)
        >>> p_out, _ = readout.init(jax.random.key(1), jnp.ones((2, 8)))
        >>> def step(carry, x):
        ...     carry, h = cell.apply(p_cell, carry, x)
        ...     return carry, readout.apply(p_out, {}, h)[0]
        >>> carry, ys = generate(step, cell.initial_carry((2,)), x0, length=10)
        >>> ys.shape
        (2, 10, 3)
    """
    length = _checks.positive_int(
        "generate", "length", length, fix="Pass how many steps to generate, e.g. length=20."
    )
    if not callable(step):
        raise TypeError(f"generate: step must be a callable (carry, x_t) -> (carry, y_t); "
                        f"got {step!r}.")
    out = jax.eval_shape(step, carry, x0)
    x_struct = jax.tree.map(lambda a: (tuple(np.shape(a)), jnp.result_type(a)), x0)
    y_struct = jax.tree.map(lambda a: (tuple(a.shape), a.dtype), out[1])
    if x_struct != y_struct:
        raise ValueError(
            f"generate: step's output y_t is fed back as the next input, so it must match "
            f"x0; got y_t {y_struct} for x0 {x_struct}. Add a readout to step that maps "
            f"y_t back to the input's shape (e.g. a Dense layer)."
        )

    def body(c_x, _):
        c, x = c_x
        c, y = step(c, x)
        return (c, y), y

    (carry, _), ys = lax.scan(body, (carry, x0), None, length=length)
    return carry, jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), ys)
