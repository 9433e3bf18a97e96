"""``fit``, ``evaluate`` and ``predict``: whole epochs compiled as one ``lax.scan``."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import _checks
from jnn import mixed_precision as mp
from jnn.data import epoch_batches
from jnn.layers import Layer
from jnn.layers._penalty import PENALTY_KEY, collect_penalties
from jnn.parallel._mesh import check_divisible
from jnn.train import _metrics
from jnn.train._callbacks import Callback, TrainingContext
from jnn.train._history import History


class NonFiniteLossWarning(RuntimeWarning):
    """Training stopped because the loss became NaN or infinite."""


@jax.jit
def _data_summary(x, y):
    """Whether ``x`` is finite and the range of integer labels ``y``: one call, one sync."""
    out = {}
    if jnp.issubdtype(x.dtype, jnp.inexact):
        out["finite"] = jnp.all(jnp.isfinite(x))
    if jnp.issubdtype(y.dtype, jnp.integer) and y.size:
        out["low"], out["high"] = jnp.min(y), jnp.max(y)
    return out


def _check_pair(where: str, name: str, data: Any) -> tuple[Any, Any, dict]:
    """``(x, y, summary)`` after checking shapes and finiteness; ``summary`` feeds
    :func:`_check_labels`."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{where}: {name} must be a pair (x, y) of arrays; got "
                        f"{type(data).__name__}.")
    x, y = (jnp.asarray(a) for a in data)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{where}: {name} has x with shape {tuple(x.shape)} and y with shape "
            f"{tuple(y.shape)}; they must share the leading (example) axis."
        )
    summary = jax.device_get(_data_summary(x, y))
    if not summary.get("finite", True):
        rows = np.flatnonzero(~np.all(np.isfinite(np.asarray(x).reshape(x.shape[0], -1)), 1))
        raise ValueError(
            f"{where}: {name} x contains NaN or infinite values in {rows.size} rows "
            f"(first: {rows[:5].tolist()}); clean or drop them before training."
        )
    return x, y, summary


def _output_shape(model: Layer, params: Any, state: Any, x: Any) -> tuple[int, ...]:
    apply = _cached(_make_apply, model)
    return tuple(apply.eval_shape(params, state, x).shape)


def _make_apply(model):
    return jax.jit(lambda p, s, x: model.apply(p, s, x)[0])


def _check_labels(where: str, model: Layer, params: Any, state: Any, x: Any, y: Any,
                  summary: dict) -> None:
    """Integer labels must index the model's output classes (checked once, on the host)."""
    if "low" not in summary:
        return
    out = _output_shape(model, params, state, x)
    if len(out) == y.ndim + 1 and out[-1] > 1:
        low, high = int(summary["low"]), int(summary["high"])
        if low < 0 or high >= out[-1]:
            raise ValueError(
                f"{where}: labels must lie in [0, {out[-1]}) for a model with "
                f"{out[-1]} outputs; got labels from {low} to {high}."
            )


def _batch_sharding(where: str, mesh: Any, data_axis: str, batch_size: int):
    """``NamedSharding(mesh, P(data_axis))`` for the minibatches, after the shared checks
    (:func:`jnn.parallel.check_divisible`): ``mesh`` is a Mesh with that axis and
    ``batch_size`` splits evenly over it."""
    if mesh is None:
        return None
    check_divisible(where, "batch_size", batch_size, mesh, data_axis, arg="data_axis")
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(data_axis))


def _replicate(mesh: Any, tree: Any) -> Any:
    """``tree`` with every array replicated over ``mesh`` (unchanged without a mesh)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))


def _make_prepare(optimizer):
    """One compiled call that gives ``fit`` fresh, distinct buffers to donate (an
    optimizer state may share arrays with params or between its own leaves), building
    the optimizer state when none is given."""

    @jax.jit
    def prepare(params, state, opt_state):
        if opt_state is None:
            opt_state = optimizer.init(params)
        return jax.tree.map(jnp.copy, (params, state, opt_state))

    return prepare


_COMPILED: dict = {}  # compiled epoch/evaluate functions, reused across fit calls


def _cached(builder, *args):
    """``builder(*args)``, memoized when the arguments are hashable (layers, optax
    transformations and plain functions are), so repeated ``fit`` calls with the same
    model, optimizer and loss reuse one compiled program."""
    try:
        key = (builder.__name__, *args)
        hash(key)
    except TypeError:
        return builder(*args)
    if key not in _COMPILED:
        if len(_COMPILED) >= 64:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = builder(*args)
    return _COMPILED[key]


def _shard_batch(batch_sharding, xb, yb):
    """Split the minibatch's leading axis over the mesh's data axis (data parallelism:
    XLA then all-reduces the gradients and any batch statistics)."""
    if batch_sharding is None:
        return xb, yb
    mesh = batch_sharding.mesh
    axis_type = dict(zip(mesh.axis_names, mesh.axis_types))[batch_sharding.spec[0]]
    # Explicit mesh axes (jax.make_mesh's default) carry shardings in the types and take
    # ``reshard``; Auto axes take a constraint that XLA propagates.
    place = (jax.sharding.reshard if axis_type == jax.sharding.AxisType.Explicit
             else jax.lax.with_sharding_constraint)
    return place(xb, batch_sharding), place(yb, batch_sharding)


def _apply_precision(where, model, params, precision, loss_scale, history=None):
    """``(model, params, loss_scale)`` under a mixed-precision policy (unchanged without).

    A resumed run (``history`` with a logged ``loss_scale``) continues from its last
    dynamic scale when no ``loss_scale`` is given."""
    if precision is None:
        if loss_scale is not None:
            raise ValueError(f"{where}: loss_scale={loss_scale!r} needs a low-precision "
                             "policy; pass precision='float16' (or 'bfloat16') as well.")
        return model, params, mp.NoLossScale()
    policy = mp.policy(precision)
    if loss_scale is None and policy.compute_dtype == jnp.float16:
        logged = [] if history is None else history.metrics.get("loss_scale", [])
        loss_scale = mp.DynamicLossScale(*logged[-1:])
    elif loss_scale is None:
        loss_scale = mp.NoLossScale()
    elif not isinstance(loss_scale, (mp.NoLossScale, mp.StaticLossScale, mp.DynamicLossScale)):
        raise TypeError(f"{where}: loss_scale must be a jnn.mixed_precision loss scale such "
                        f"as DynamicLossScale(); got {type(loss_scale).__name__}.")
    return mp.MixedPrecision(model, policy), policy.cast_to_param(params), loss_scale


def _varying_axes(x: Any) -> frozenset:
    """The mesh axes along which ``x`` differs between devices inside ``shard_map``."""
    aval = jax.typeof(x)
    manual = getattr(aval, "manual_axis_type", None)  # JAX >= 0.9; ``vma`` before
    return manual.varying if manual is not None else frozenset(getattr(aval, "vma", ()))


def _settle_state(new_state: Any, data_axis: str) -> Any:
    """Under ``shard_map``: the state every device returns must be the same on all of them.

    A state leaf computed from the local shard alone (BatchNorm statistics without
    ``axis_name``) would silently differ from single-device training, so it is refused at
    trace time; activity penalties (a mean over examples) are averaged over the devices."""

    def settle(path, leaf):
        if data_axis not in _varying_axes(leaf):
            return leaf
        if any(getattr(k, "key", None) == PENALTY_KEY for k in path):
            return jax.lax.pmean(leaf, data_axis)
        raise ValueError(
            f"fit: parallel='shard_map' computes each device's step on its own shard, and "
            f"the model's state entry {jax.tree_util.keystr(path)} depends on that shard "
            f"alone, so it would differ from single-device training. Give the layer the "
            f"mesh axis (e.g. BatchNorm(axis_name={data_axis!r}), which averages its "
            f"statistics over the devices), or use the default parallel='sharding'.")

    return jax.tree_util.tree_map_with_path(settle, new_state)


def _make_step(model, optimizer, loss, metric_items, attack, batch_sharding=None,
               scaling=False, local=False):
    """fit's step ``step(carry, ((xb, yb), key)) -> (carry, (loss, metrics))``, the body of
    the scanned epoch; ``carry = (params, state, opt_state, ok, loss_scale)``."""
    metric_fns = dict(metric_items)
    extra_args = isinstance(optimizer, optax.GradientTransformationExtraArgs)
    data_axis = None if batch_sharding is None else batch_sharding.spec[0]
    if local:  # shard_map: each device sees its shard; gradients and logs are averaged
        mean = lambda tree: jax.lax.pmean(tree, data_axis)  # noqa: E731
        vary = lambda tree: jax.lax.pcast(tree, data_axis, to="varying")  # noqa: E731
        settle = lambda tree: _settle_state(tree, data_axis)  # noqa: E731
    else:
        mean = vary = settle = lambda tree: tree  # noqa: E731

    def device_step(carry, xb, yb, key):
        params, state, opt_state, ok, loss_scale = carry
        if local:  # distinct dropout masks on each device's shard
            key = jax.random.fold_in(key, jax.lax.axis_index(data_axis))
        if attack is not None:  # adversarial training: fit the attacked batch
            key, attack_key = jax.random.split(key)
            xb = attack(params, state, xb, yb, attack_key)

        def objective(p):
            predictions, new_state = model.apply(p, state, xb, key=key, train=True)
            return loss(predictions, yb) + collect_penalties(new_state), (predictions, new_state)

        # Under shard_map the params are cast to device-varying so that each device keeps
        # the gradient of its own shard's mean loss; one pmean then averages them. (With
        # the default GSPMD step XLA places the all-reduce itself.)
        if scaling:  # mixed precision: differentiate the scaled loss, unscale the grads
            def scaled(p):
                value, aux = objective(p)
                return loss_scale.scale(value), (value, aux)

            (_, (value, (predictions, new_state))), grads = jax.value_and_grad(
                scaled, has_aux=True)(vary(params))
            value, grads = mean((value, grads))
            grads = loss_scale.unscale(grads)
            grads_finite = mp.all_finite(grads)
            loss_scale = loss_scale.adjust(grads_finite)
        else:
            (value, (predictions, new_state)), grads = jax.value_and_grad(
                objective, has_aux=True)(vary(params))
            value, grads = mean((value, grads))
            grads_finite = True
        new_state = settle(new_state)
        ok = ok & jnp.isfinite(value)

        def update(_):
            if extra_args:
                updates, new_opt_state = optimizer.update(
                    grads, opt_state, params, value=value, grad=grads,
                    value_fn=lambda p: mean(objective(p)[0]))
            else:
                updates, new_opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), new_state, new_opt_state

        # Once a loss is non-finite, hold the last finite params for the rest of the epoch.
        # A cond rather than a select per leaf: selecting between old and new values keeps
        # both alive, and XLA then copies the whole carry every step (~10% of a step).
        # With loss scaling, a step whose scaled gradients overflowed is skipped (the scale
        # was lowered above) and training goes on.
        carry = (*jax.lax.cond(ok & grads_finite, update, lambda _: (params, state, opt_state),
                               None), ok, loss_scale)
        logged = mean({name: fn(predictions, yb) for name, fn in metric_fns.items()})
        return carry, (value, logged)

    if local:
        P = jax.sharding.PartitionSpec
        device_step = jax.shard_map(device_step, mesh=batch_sharding.mesh,
                                    in_specs=(P(), P(data_axis), P(data_axis), P()),
                                    out_specs=P())

    def step(carry, inputs):
        (xb, yb), key = inputs
        xb, yb = _shard_batch(batch_sharding, xb, yb)
        return device_step(carry, xb, yb, key)

    return step


def _make_epoch(model, optimizer, loss, metric_items, batch_size, drop_remainder, attack,
                batch_sharding=None, scaling=False, local=False):
    step = _make_step(model, optimizer, loss, metric_items, attack, batch_sharding, scaling,
                      local)

    def epoch(params, state, opt_state, loss_scale, x, y, key):
        shuffle_key, steps_key = jax.random.split(key)
        xs, ys = epoch_batches(shuffle_key, (x, y), batch_size, drop_remainder=drop_remainder)
        keys = jax.random.split(steps_key, xs.shape[0])
        (params, state, opt_state, _, loss_scale), (losses, logged) = jax.lax.scan(
            step, (params, state, opt_state, jnp.array(True), loss_scale), ((xs, ys), keys))
        logs = {"loss": jnp.mean(losses)} | {k: jnp.mean(v) for k, v in logged.items()}
        return params, state, opt_state, loss_scale, logs, losses

    return jax.jit(epoch, donate_argnums=(0, 1, 2))


def _make_evaluate(model, loss, metric_items, attack=None, batch_sharding=None):
    metric_fns = dict(metric_items)

    def batch_sums(params, state, xb, yb, key):
        if batch_sharding is not None and xb.shape[0] % batch_sharding.mesh.shape[
                batch_sharding.spec[0]] == 0:
            xb, yb = _shard_batch(batch_sharding, xb, yb)
        if attack is not None:
            xb = attack(params, state, xb, yb, key)
        predictions, _ = model.apply(params, state, xb)
        n = xb.shape[0]
        sums = {"loss": loss(predictions, yb) * n}
        return sums | {k: fn(predictions, yb) * n for k, fn in metric_fns.items()}

    @jax.jit
    def full_batches(params, state, xs, ys, keys):
        def body(total, batch):
            sums = batch_sums(params, state, *batch)
            return jax.tree.map(jnp.add, total, sums), None

        zero = jax.tree.map(jnp.zeros_like, jax.eval_shape(batch_sums, params, state,
                                                          xs[0], ys[0], keys[0]))
        return jax.lax.scan(body, zero, (xs, ys, keys))[0]

    remainder = jax.jit(batch_sums)

    def evaluate_fn(params, state, x, y, batch_size, key=None):
        n = x.shape[0]
        count = n // batch_size
        keys = jax.random.split(jax.random.key(0) if key is None else key, count + 1)
        total = None
        if count:
            cut = count * batch_size
            total = full_batches(params, state, x[:cut].reshape(count, batch_size, *x.shape[1:]),
                                 y[:cut].reshape(count, batch_size, *y.shape[1:]), keys[:-1])
        if n % batch_size:
            rest = remainder(params, state, x[count * batch_size:],
                                       y[count * batch_size:], keys[-1])
            total = rest if total is None else jax.tree.map(jnp.add, total, rest)
        total = jax.device_get(total)
        return {"loss": float(total.pop("loss")) / n} | {k: float(v) / n for k, v in total.items()}

    return evaluate_fn


def _progress_bar(progress: bool | None, epochs: int):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, unit="epoch", leave=True)


def fit(
    model: Layer,
    params: Any,
    state: Any,
    optimizer: optax.GradientTransformation,
    loss: Callable[[Any, Any], jax.Array],
    train_data: tuple[Any, Any],
    *,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    val_data: tuple[Any, Any] | None = None,
    metrics: Sequence[str | Callable] | dict | None = None,
    callbacks: Sequence[Callback] = (),
    opt_state: Any = None,
    initial_epoch: int = 0,
    history: History | None = None,
    accumulate_steps: int = 1,
    attack: Callable | None = None,
    drop_remainder: bool = True,
    verbose: int = 1,
    progress: bool | None = None,
    print_fn: Callable[[str], None] = print,
    mesh: jax.sharding.Mesh | None = None,
    data_axis: str = "data",
    parallel: str = "sharding",
    precision: Any = None,
    loss_scale: Any = None,
) -> tuple[Any, Any, Any, History]:
    """Train ``model`` with ``optimizer`` on ``loss``; each epoch is one compiled call.

    Every epoch shuffles the data (by ``key``), splits it into minibatches and runs all
    steps as one ``jax.lax.scan`` inside one ``jax.jit`` call, with params, state and
    optimizer state donated. Losses and metrics come back to the host once per epoch.
    The model runs in training mode (dropout on, batch statistics) with a fresh key per
    step; penalties that layers report in their state (``jnn.layers.collect_penalties``)
    are added to the loss.

    Optimizers that need the loss itself (``GradientTransformationExtraArgs``, such as
    L-BFGS or Newton) receive ``value=``, ``grad=`` and ``value_fn=`` (the minibatch
    loss as a function of params).

    If the loss becomes NaN or infinite, training stops: the params are the last finite
    ones, ``history.stop_reason`` names the epoch and step, and a
    :class:`NonFiniteLossWarning` is issued.

    Args:
        model: a jnn layer.
        params, state: from ``model.init``; they are copied, never donated.
        optimizer: an optax gradient transformation.
        loss: ``loss(predictions, targets) -> scalar`` such as
            ``jnn.losses.softmax_cross_entropy``.
        train_data: ``(x, y)`` with a shared leading axis.
        epochs: the number of passes over the data.
        batch_size: examples per step; the remainder is dropped each epoch by default
            (different examples each epoch); ``drop_remainder=False`` fills the last
            batch with examples from the start of the epoch's order.
        key: shuffles and per-step keys come from it; the same key gives the same run.
        val_data: ``(x, y)`` evaluated after every epoch, logged as ``val_...``.
        metrics: names (``"accuracy"``, ``"binary_accuracy"``, ``"top5_accuracy"``,
            ``"mse"``, ``"mae"``) or functions ``metric(predictions, targets)``.
        callbacks: e.g. ``[EarlyStopping(patience=5)]``.
        opt_state: resume from this optimizer state instead of ``optimizer.init``.
        initial_epoch: resume at this epoch (0-based): epochs ``initial_epoch..epochs-1``
            run with the same shuffles and keys as an uninterrupted run would use.
        history: a History to continue (from a restored checkpoint).
        accumulate_steps: average gradients over this many minibatches per update
            (``optax.MultiSteps``).
        attack: adversarial training: each step fits ``attack(params, state, x, y, key)``
            (e.g. ``jnn.train.fgsm(model, loss, epsilon=0.1)``) instead of the clean batch.
        verbose: 1 prints a line per epoch (unless a progress bar shows), 0 is silent.
        progress: a tqdm bar per epoch; by default only when stderr is a terminal.
        mesh: data parallelism over a ``jax.sharding.Mesh``: params, state and optimizer
            state are replicated over the mesh, each minibatch's leading axis is split
            over ``data_axis`` and XLA all-reduces the gradients (and BatchNorm's batch
            statistics, which stay global). The result equals single-device training on
            the same global batches up to float rounding. ``batch_size`` must be a
            multiple of the number of devices along ``data_axis``.
        data_axis: the mesh axis the batch is split over; other axes see replicas.
        parallel: how a step runs on the mesh. ``"sharding"`` (default): one global
            program; XLA (GSPMD) splits it and places the gradient all-reduce.
            ``"shard_map"``: each step runs under ``jax.shard_map``; every device
            differentiates the mean loss of its own shard and one ``lax.pmean`` over
            ``data_axis`` averages gradients, loss and metrics (the explicit SPMD form).
            XLA then sees each device's whole backward pass before the all-reduce and
            reduces the kernel gradients already in their (in, out) layout; under GSPMD
            the all-reduce sits between the gradient's dot and its transpose, and the
            optimizer reads the reduced gradient transposed (an MLP epoch on 8 forced
            CPU devices: 0.91-0.94x the ``"sharding"`` time,
            ``benchmarks/bench_parallel.py``; other backends may lay it out freely).
            It assumes the loss is a mean over examples. Layers that mix examples must
            average over ``data_axis`` themselves: ``BatchNorm(axis_name="data")``
            keeps global statistics, and a state entry that depends on the local shard
            alone is refused with an error. Dropout masks differ from single-device
            training (each device folds its index into the step key); deterministic
            models give the same result up to float rounding.
        precision: mixed precision, e.g. ``"bfloat16"`` or a
            :class:`jnn.mixed_precision.Policy`: the model runs as
            ``MixedPrecision(model, precision)`` (float32 params and BatchNorm statistics,
            compute in the policy's dtype) for training and validation; the returned model
            params keep the policy's param dtype.
        loss_scale: a ``jnn.mixed_precision`` loss scale carried through training. By
            default ``DynamicLossScale()`` when the compute dtype is float16 (whose
            small gradients underflow), none otherwise. Steps whose scaled gradients
            overflow are skipped and the scale is lowered. A dynamic scale is logged per
            epoch as ``history["loss_scale"]`` (its value after the epoch); when
            ``history`` is passed back to resume and ``loss_scale`` is not,
            training continues from that scale (with a fresh growth counter) instead of
            restarting at :math:`2^{15}`.

    Returns:
        ``(params, state, opt_state, history)``.

    Example:
        >>> import jax, optax, jnn
        >>> from jnn.layers import Dense, Sequential
        >>> x, y = jnn.data.spirals(jax.random.key(0), 256)
        >>> model = Sequential([Dense(32), jax.nn.relu, Dense(2)])
        >>> params, state = model.init(jax.random.key(1), x)
        >>> params, state, opt_state, history = fit(
        ...     model, params, state, optax.adam(1e-2), jnn.losses.softmax_cross_entropy,
        ...     (x, y), epochs=2, batch_size=32, key=jax.random.key(2), verbose=0)
        >>> history.epochs
        2
    """
    where = "fit"
    if not isinstance(model, Layer):
        raise TypeError(f"{where}: model must be a jnn Layer; got {type(model).__name__}.")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"{where}: optimizer must be an optax GradientTransformation such as "
                        f"optax.adam(1e-3); got {type(optimizer).__name__}.")
    epochs = _checks.positive_int(where, "epochs", epochs)
    _checks.number_in_range(where, "initial_epoch", initial_epoch, 0, epochs - 1,
                            fix="It counts completed epochs, e.g. restored.step.")
    accumulate_steps = _checks.positive_int(where, "accumulate_steps", accumulate_steps)
    x, y, summary = _check_pair(where, "train_data", train_data)
    batch_size = _checks.positive_int(where, "batch_size", batch_size)
    batch_sharding = _batch_sharding(where, mesh, data_axis, batch_size)
    if parallel not in ("sharding", "shard_map"):
        raise ValueError(f"{where}: parallel must be 'sharding' or 'shard_map'; got "
                         f"{parallel!r}.")
    if parallel == "shard_map" and mesh is None:
        raise ValueError(f"{where}: parallel='shard_map' runs the step on a mesh; pass "
                         "mesh=jnn.parallel.data_mesh() as well, or leave parallel out.")
    if batch_size > x.shape[0]:
        raise ValueError(f"{where}: batch_size={batch_size} is larger than the "
                         f"{x.shape[0]} training examples; use batch_size <= {x.shape[0]}.")
    _check_labels(where, model, params, state, x, y, summary)
    if val_data is not None:
        val_x, val_y, val_summary = _check_pair(where, "val_data", val_data)
        _check_labels(where, model, params, state, val_x, val_y, val_summary)
    metric_fns = _metrics.resolve(metrics)
    model, params, loss_scale = _apply_precision(where, model, params, precision, loss_scale,
                                                 history)
    if accumulate_steps > 1:
        optimizer = optax.MultiSteps(optimizer, accumulate_steps).gradient_transformation()

    params, state, opt_state = _cached(_make_prepare, optimizer)(
        *_replicate(mesh, (params, state, opt_state)))
    x, y = _replicate(mesh, (x, y))
    if val_data is not None:
        val_x, val_y = _replicate(mesh, (val_x, val_y))
    ctx = TrainingContext(params=params, state=state, opt_state=opt_state,
                          history=History() if history is None else history)
    metric_items = tuple(metric_fns.items())
    epoch_fn = _cached(_make_epoch, model, optimizer, loss, metric_items, batch_size,
                       drop_remainder, attack, batch_sharding,
                       not isinstance(loss_scale, mp.NoLossScale), parallel == "shard_map")
    evaluate_fn = (_cached(_make_evaluate, model, loss, metric_items, None, batch_sharding)
                   if val_data is not None else None)
    for callback in callbacks:
        callback.on_train_begin(ctx)
    bar = _progress_bar(progress, epochs)
    try:
        for epoch in range(initial_epoch, epochs):
            ctx.epoch = epoch
            ctx.params, ctx.state, ctx.opt_state, loss_scale, logs, step_losses = epoch_fn(
                ctx.params, ctx.state, ctx.opt_state, loss_scale, x, y,
                jax.random.fold_in(key, epoch))
            logs, step_losses = jax.device_get((logs, step_losses))
            bad = np.flatnonzero(~np.isfinite(step_losses))
            if bad.size:
                ctx.history.stop_reason = (
                    f"non-finite loss at epoch {epoch + 1}, step {int(bad[0]) + 1} of "
                    f"{step_losses.size}; returning the last finite params")
                warnings.warn(f"fit: {ctx.history.stop_reason}. Lower the learning rate or "
                              f"check the data.", NonFiniteLossWarning, stacklevel=2)
                break
            logs = {"loss": float(logs.pop("loss"))} | {k: float(v) for k, v in logs.items()}
            if isinstance(loss_scale, mp.DynamicLossScale):
                logs["loss_scale"] = float(loss_scale.loss_scale)
            if evaluate_fn is not None:
                val = evaluate_fn(ctx.params, ctx.state, val_x, val_y, batch_size)
                logs |= {f"val_{k}": v for k, v in val.items()}
            ctx.history.append(logs)
            text = "  ".join(f"{k} {v:.4f}" for k, v in logs.items())
            if bar is not None:
                bar.set_postfix_str(text)
                bar.update(1)
            elif verbose:
                print_fn(f"epoch {epoch + 1:3d}/{epochs}  {text}")
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs, ctx)
            if ctx.stop_training:
                break
    finally:
        if bar is not None:
            bar.close()
    for callback in callbacks:
        callback.on_train_end(ctx)
    return ctx.params, ctx.state, ctx.opt_state, ctx.history


def evaluate(
    model: Layer,
    params: Any,
    state: Any,
    loss: Callable[[Any, Any], jax.Array],
    data: tuple[Any, Any],
    *,
    batch_size: int | None = None,
    metrics: Sequence[str | Callable] | dict | None = None,
    attack: Callable | None = None,
    key: jax.Array | None = None,
    mesh: jax.sharding.Mesh | None = None,
    data_axis: str = "data",
) -> dict[str, float]:
    """Loss and metrics over all of ``data`` (each example counted once), in eval mode.

    With ``attack`` (e.g. ``jnn.train.pgd(model, loss, epsilon=0.1)``) every batch is
    attacked first, so the result is the robust loss and accuracy; ``key`` seeds the
    attack's random start. With ``mesh``, every batch is split over the mesh's
    ``data_axis`` as in :func:`fit` (``batch_size`` must divide evenly; a final partial
    batch runs replicated).

    Example:
        >>> import jax, jnn
        >>> from jnn.layers import Dense
        >>> x, y = jnn.data.spirals(jax.random.key(0), 64)
        >>> params, state = Dense(2).init(jax.random.key(1), x)
        >>> sorted(evaluate(Dense(2), params, state, jnn.losses.softmax_cross_entropy,
        ...                 (x, y), metrics=["accuracy"]))
        ['accuracy', 'loss']
    """
    x, y, summary = _check_pair("evaluate", "data", data)
    batch_size = x.shape[0] if batch_size is None else _checks.positive_int(
        "evaluate", "batch_size", batch_size)
    batch_size = min(batch_size, x.shape[0])
    batch_sharding = _batch_sharding("evaluate", mesh, data_axis, batch_size)
    _check_labels("evaluate", model, params, state, x, y, summary)
    evaluate_fn = _cached(_make_evaluate, model, loss, tuple(_metrics.resolve(metrics).items()),
                          attack, batch_sharding)
    params, state, x, y = _replicate(mesh, (params, state, x, y))
    return evaluate_fn(params, state, x, y, batch_size, key)


def predict(model: Layer, params: Any, state: Any, x: Any, *,
            batch_size: int | None = None) -> jax.Array:
    """The model's outputs on ``x`` in evaluation mode, in batches of ``batch_size``."""
    x = jnp.asarray(x)
    apply = jax.jit(lambda p, s, xb: model.apply(p, s, xb)[0])
    if batch_size is None or batch_size >= x.shape[0]:
        return apply(params, state, x)
    batch_size = _checks.positive_int("predict", "batch_size", batch_size)
    parts = [apply(params, state, x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    return jnp.concatenate(parts, axis=0)
