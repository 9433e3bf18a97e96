"""Training: ``fit`` compiled by the epoch, ``evaluate``, ``predict``, callbacks, history."""

from jnn.train._adversarial import fgsm as fgsm
from jnn.train._adversarial import pgd as pgd
from jnn.train._batched import batched_fit as batched_fit
from jnn.train._callbacks import Callback as Callback
from jnn.train._callbacks import EarlyStopping as EarlyStopping
from jnn.train._callbacks import TrainingContext as TrainingContext
from jnn.train._ensemble import Ensemble as Ensemble
from jnn.train._ensemble import train_ensemble as train_ensemble
from jnn.train._fit import NonFiniteLossWarning as NonFiniteLossWarning
from jnn.train._fit import evaluate as evaluate
from jnn.train._fit import fit as fit
from jnn.train._fit import predict as predict
from jnn.train._history import History as History
from jnn.train._metrics import METRICS as METRICS
from jnn.train._search import LogUniform as LogUniform
from jnn.train._search import SearchResult as SearchResult
from jnn.train._search import Trial as Trial
from jnn.train._search import Uniform as Uniform
from jnn.train._search import bayesian_search as bayesian_search
from jnn.train._search import grid_search as grid_search
from jnn.train._search import random_search as random_search

_LAZY = {"Checkpoint", "Checkpointer", "Restored"}  # orbax is imported on first use


def __getattr__(name):
    if name in _LAZY:
        from jnn.train import _checkpoint

        return getattr(_checkpoint, name)
    raise AttributeError(f"module 'jnn.train' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
