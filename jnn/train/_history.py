"""``History``: per-epoch losses and metrics from :func:`jnn.train.fit`."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class History:
    """Per-epoch training record, as Keras' ``History``.

    ``history["loss"]``, ``history["val_loss"]``, ``history["accuracy"]``, ... are numpy
    arrays with one entry per completed epoch. ``stop_reason`` says why training ended
    early (early stopping, a non-finite loss), or is ``None``.
    """

    metrics: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    stop_reason: str | None = None

    def append(self, logs: dict[str, float]) -> None:
        for name, value in logs.items():
            self.metrics.setdefault(name, []).append(float(value))

    @property
    def epochs(self) -> int:
        """The number of completed epochs."""
        return len(next(iter(self.metrics.values()), []))

    def keys(self) -> list[str]:
        return list(self.metrics)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.metrics:
            raise KeyError(f"History has no {name!r}; it has {sorted(self.metrics)}.")
        return np.asarray(self.metrics[name])

    def __contains__(self, name: str) -> bool:
        return name in self.metrics

    def best_epoch(self, monitor: str = "val_loss", mode: str = "min") -> int:
        """The 0-based epoch with the best ``monitor`` value."""
        values = self[monitor]
        return int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))

    def plot(self, names: list[str] | None = None, ax=None):
        """Learning curves (train and validation side by side); returns the Figure."""
        import matplotlib.pyplot as plt

        names = names or [n for n in self.metrics if not n.startswith("val_")]
        if ax is None:
            fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5),
                                     squeeze=False)
            axes = axes[0]
        else:
            fig, axes = ax.figure, [ax] * len(names)
        epochs = np.arange(1, self.epochs + 1)
        for axis, name in zip(axes, names):
            axis.plot(epochs, self[name], label=f"train {name}")
            if f"val_{name}" in self.metrics:
                axis.plot(epochs, self[f"val_{name}"], label=f"validation {name}")
            axis.set_xlabel("epoch")
            axis.set_ylabel(name)
            axis.legend()
        fig.tight_layout()
        return fig
