"""Hyperparameter search: grid, random and model-based, each trial batch one vmapped program."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.layers import Layer
from jnn.train import _metrics
from jnn.train._batched import batched_fit


@dataclasses.dataclass(frozen=True)
class LogUniform:
    """Sample ``exp(U(log low, log high))``: for learning rates and weight decays."""

    low: float
    high: float

    def __post_init__(self):
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform: need 0 < low < high; got low={self.low}, "
                             f"high={self.high}.")

    def to_unit(self, v):
        return (np.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))

    def from_unit(self, u):
        return np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))


@dataclasses.dataclass(frozen=True)
class Uniform:
    """Sample ``U(low, high)``."""

    low: float
    high: float

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"Uniform: need low < high; got low={self.low}, high={self.high}.")

    def to_unit(self, v):
        return (np.asarray(v) - self.low) / (self.high - self.low)

    def from_unit(self, u):
        return self.low + u * (self.high - self.low)


@dataclasses.dataclass(frozen=True)
class Trial:
    """One configuration: its hyperparameters, its score and its learning curves."""

    hparams: dict[str, float]
    score: float
    curves: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """All trials, best first; prints as a table."""

    trials: tuple[Trial, ...]
    monitor: str
    mode: str

    @property
    def best(self) -> Trial:
        return self.trials[0]

    def __str__(self) -> str:
        names = list(self.trials[0].hparams)
        header = ["rank", *names, self.monitor]
        rows = [[str(i + 1), *(f"{t.hparams[n]:.4g}" for n in names), f"{t.score:.5g}"]
                for i, t in enumerate(self.trials)]
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
        fmt = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))
        return "\n".join([fmt(header), *map(fmt, rows)])

    __repr__ = __str__

    def plot(self, name: str | None = None, ax=None):
        """The learning curve of ``name`` (default: the monitor) for every trial."""
        import matplotlib.pyplot as plt

        name = name or self.monitor
        fig, ax = (plt.subplots(figsize=(6, 4)) if ax is None else (ax.figure, ax))
        for t in self.trials:
            label = ", ".join(f"{k}={v:.3g}" for k, v in t.hparams.items())
            ax.plot(np.arange(1, t.curves[name].size + 1), t.curves[name], label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend(fontsize="small")
        return fig


def _run(model, optimizer_factory, loss, train_data, val_data, configs, *, epochs,
         batch_size, key, monitor, mode, metrics) -> list[Trial]:
    """Train every config at once (vmap); ``seed`` in a config picks the init key."""
    metric_fns = _metrics.resolve(metrics)
    x = jnp.asarray(train_data[0])
    seeds = jnp.array([int(c.get("seed", 0)) for c in configs])
    init = jax.vmap(lambda s: model.init(jax.random.fold_in(key, s), x[:1]))
    params, state = init(seeds)
    names = [n for n in configs[0] if n != "seed"]
    hparams = {n: jnp.array([c[n] for c in configs], dtype=jnp.float32) for n in names}
    _, _, curves = batched_fit(model, params, state, optimizer_factory, hparams, loss,
                               train_data, epochs=epochs, batch_size=batch_size,
                               key=jax.random.fold_in(key, 10_000), val_data=val_data,
                               metrics=metric_fns)
    if monitor not in curves:
        raise ValueError(f"search: monitor={monitor!r} is not among the curves {sorted(curves)}.")
    trials = []
    for i, config in enumerate(configs):
        curve = curves[monitor][i]
        score = float(np.nanmin(curve) if mode == "min" else np.nanmax(curve))
        if not np.isfinite(score):
            score = math.inf if mode == "min" else -math.inf
        trials.append(Trial(dict(config), score, {k: v[i] for k, v in curves.items()}))
    return trials


def _finish(trials, monitor, mode) -> SearchResult:
    ordered = sorted(trials, key=lambda t: t.score, reverse=(mode == "max"))
    return SearchResult(tuple(ordered), monitor, mode)


def _check_search(where, val_data, mode, epochs, batch_size):
    if val_data is None:
        raise ValueError(f"{where}: val_data is required: trials are scored on the "
                         f"validation split (jnn.data.train_val_test_split makes one).")
    if mode not in ("min", "max"):
        raise ValueError(f"{where}: mode must be 'min' or 'max'; got {mode!r}.")
    _checks.positive_int(where, "epochs", epochs)
    _checks.positive_int(where, "batch_size", batch_size)


def grid_search(model: Layer, optimizer_factory: Callable, loss: Callable,
                train_data: tuple, val_data: tuple, space: dict[str, Sequence[float]], *,
                epochs: int, batch_size: int, key: jax.Array, monitor: str = "val_loss",
                mode: str = "min", metrics=None) -> SearchResult:
    """Every combination of the values in ``space``, trained together in one program.

    ``space`` maps the numeric arguments of ``optimizer_factory`` (and optionally
    ``"seed"``, the init seed) to lists of values. Each trial is scored by the best
    ``monitor`` value over its epochs.

    Example:
        >>> import jax, optax, jnn
        >>> from jnn.layers import Dense
        >>> x, y = jnn.data.spirals(jax.random.key(0), 128)
        >>> result = grid_search(Dense(2), lambda learning_rate: optax.sgd(learning_rate),
        ...                      jnn.losses.softmax_cross_entropy, (x, y), (x, y),
        ...                      {"learning_rate": [0.01, 0.1]}, epochs=2, batch_size=32,
        ...                      key=jax.random.key(1))
        >>> len(result.trials)
        2
    """
    _check_search("grid_search", val_data, mode, epochs, batch_size)
    if not space or any(len(v) == 0 for v in space.values()):
        raise ValueError(f"grid_search: space must map names to non-empty lists; got {space!r}.")
    names = list(space)
    configs = [dict(zip(names, values)) for values in itertools.product(*space.values())]
    trials = _run(model, optimizer_factory, loss, train_data, val_data, configs, epochs=epochs,
                  batch_size=batch_size, key=key, monitor=monitor, mode=mode, metrics=metrics)
    return _finish(trials, monitor, mode)


def _sample(space: dict[str, Any], unit: np.ndarray) -> list[dict[str, float]]:
    configs = []
    for row in unit:
        config = {}
        for (name, dist), u in zip(space.items(), row):
            if isinstance(dist, (LogUniform, Uniform)):
                config[name] = float(dist.from_unit(u))
            else:  # a list of choices
                config[name] = dist[min(int(u * len(dist)), len(dist) - 1)]
        configs.append(config)
    return configs


def _check_space(where: str, space: dict[str, Any]) -> None:
    for name, dist in space.items():
        if not isinstance(dist, (LogUniform, Uniform, list, tuple)) or (
                isinstance(dist, (list, tuple)) and not dist):
            raise TypeError(f"{where}: space[{name!r}] must be LogUniform, Uniform or a "
                            f"non-empty list of choices; got {dist!r}.")


def random_search(model: Layer, optimizer_factory: Callable, loss: Callable,
                  train_data: tuple, val_data: tuple, space: dict[str, Any], *,
                  num_trials: int, epochs: int, batch_size: int, key: jax.Array,
                  monitor: str = "val_loss", mode: str = "min", metrics=None) -> SearchResult:
    """``num_trials`` configurations drawn from ``space`` (Bergstra & Bengio 2012), batched.

    ``space`` values are :class:`LogUniform`, :class:`Uniform` or lists of choices.
    """
    where = "random_search"
    _check_search(where, val_data, mode, epochs, batch_size)
    _check_space(where, space)
    _checks.positive_int(where, "num_trials", num_trials)
    unit = np.asarray(jax.random.uniform(key, (num_trials, len(space))))
    configs = _sample(space, unit)
    trials = _run(model, optimizer_factory, loss, train_data, val_data, configs, epochs=epochs,
                  batch_size=batch_size, key=key, monitor=monitor, mode=mode, metrics=metrics)
    return _finish(trials, monitor, mode)


def _gp_expected_improvement(train_u, train_y, cand_u, lengthscale=0.25, noise=1e-4):
    """Expected improvement (for minimization) under a GP with an RBF kernel."""
    y_mean, y_std = train_y.mean(), train_y.std() + 1e-12
    yn = (train_y - y_mean) / y_std
    k = lambda a, b: np.exp(-0.5 * np.sum((a[:, None] - b[None]) ** 2, -1) / lengthscale**2)
    kxx = k(train_u, train_u) + noise * np.eye(len(train_u))
    chol = np.linalg.cholesky(kxx)
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, yn))
    kxc = k(train_u, cand_u)
    mean = kxc.T @ alpha
    v = np.linalg.solve(chol, kxc)
    sd = np.sqrt(np.maximum(1.0 - np.sum(v * v, axis=0), 1e-12))
    best = yn.min()
    z = (best - mean) / sd
    cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return (best - mean) * cdf + sd * pdf


def bayesian_search(model: Layer, optimizer_factory: Callable, loss: Callable,
                    train_data: tuple, val_data: tuple, space: dict[str, Any], *,
                    num_trials: int, epochs: int, batch_size: int, key: jax.Array,
                    num_initial: int = 4, batch: int = 4, monitor: str = "val_loss",
                    mode: str = "min", metrics=None) -> SearchResult:
    """Model-based search: a Gaussian process proposes the next trials.

    ``num_initial`` random trials come first; then, in rounds of ``batch`` trials
    (trained together), a GP with an RBF kernel is fitted to the scores in the unit
    cube (log scale for :class:`LogUniform`) and the candidates with the highest
    expected improvement (Jones et al. 1998) among random proposals are trained next.
    """
    where = "bayesian_search"
    _check_search(where, val_data, mode, epochs, batch_size)
    _check_space(where, space)
    _checks.positive_int(where, "num_trials", num_trials)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    sign = 1.0 if mode == "min" else -1.0
    kw = dict(epochs=epochs, batch_size=batch_size, key=key, monitor=monitor, mode=mode,
              metrics=metrics)
    unit = rng.uniform(size=(min(num_initial, num_trials), len(space)))
    trials = _run(model, optimizer_factory, loss, train_data, val_data, _sample(space, unit), **kw)
    units = list(unit)
    while len(trials) < num_trials:
        scores = np.array([sign * t.score for t in trials])
        finite = np.isfinite(scores)
        scores = np.where(finite, scores, scores[finite].max() if finite.any() else 0.0)
        candidates = rng.uniform(size=(2048, len(space)))
        ei = _gp_expected_improvement(np.array(units), scores, candidates)
        take = candidates[np.argsort(-ei)[: min(batch, num_trials - len(trials))]]
        trials += _run(model, optimizer_factory, loss, train_data, val_data,
                       _sample(space, take), **kw)
        units += list(take)
    return _finish(trials, monitor, mode)
