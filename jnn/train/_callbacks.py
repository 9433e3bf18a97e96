"""Callbacks run once per epoch on the host, between compiled epochs."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _checks


@dataclasses.dataclass
class TrainingContext:
    """What callbacks may read and change between epochs."""

    params: Any
    state: Any
    opt_state: Any
    history: Any
    epoch: int = 0
    stop_training: bool = False


class Callback:
    """Base class: override any of the hooks; each gets the :class:`TrainingContext`."""

    def on_train_begin(self, ctx: TrainingContext) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float], ctx: TrainingContext) -> None:
        pass

    def on_train_end(self, ctx: TrainingContext) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best=True`` the params, state and optimizer state of the best epoch
    are what ``fit`` returns.

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=5, restore_best=True)
    """

    def __init__(self, monitor: str = "val_loss", *, patience: int = 5, min_delta: float = 0.0,
                 mode: str = "min", restore_best: bool = True):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max'; got {mode!r}.")
        self.monitor = monitor
        self.patience = _checks.positive_int("EarlyStopping", "patience", patience)
        self.min_delta = float(_checks.number_in_range("EarlyStopping", "min_delta", min_delta, 0))
        self.mode = mode
        self.restore_best = restore_best

    def on_train_begin(self, ctx):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.wait = 0
        self._best_trees = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs, ctx):
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping: monitor={self.monitor!r} is not among the logged values "
                f"{sorted(logs)}; pass val_data to fit to monitor 'val_...' values."
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:  # a copy: fit donates the live buffers to the next epoch
                self._best_trees = jax.tree.map(jnp.copy, (ctx.params, ctx.state, ctx.opt_state))
        else:
            self.wait += 1
            if self.wait >= self.patience:
                ctx.stop_training = True
                ctx.history.stop_reason = (
                    f"early stopping: {self.monitor} did not improve for {self.patience} "
                    f"epochs; best {self.best:.6g} at epoch {self.best_epoch + 1}"
                )

    def on_train_end(self, ctx):
        if self.restore_best and self._best_trees is not None:
            ctx.params, ctx.state, ctx.opt_state = self._best_trees
