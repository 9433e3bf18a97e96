"""jnn: a functional neural-network library for JAX.

A model is data (a pytree of arrays) plus pure functions. Layers are ``init``/``apply``
pairs; optimizers are optax gradient transformations; curvature and loss landscapes
work on any ``loss(params, batch) -> scalar``.

Modules: ``layers``, ``models``, ``activations``, ``losses``, ``initializers``, ``data``,
``optim``, ``curvature``, ``landscape``, ``train``, ``viz``, ``parallel`` (meshes, data
parallelism, FSDP shardings, multi-host) and ``mixed_precision``; plus ``summary`` (a Keras-style
table) and ``objective`` (a model and a loss as ``f(params, batch)``).
"""

from jnn import activations as activations
from jnn import curvature as curvature
from jnn import data as data
from jnn import initializers as initializers
from jnn import landscape as landscape
from jnn import layers as layers
from jnn import losses as losses
from jnn import mixed_precision as mixed_precision
from jnn import models as models
from jnn import optim as optim
from jnn import parallel as parallel
from jnn import train as train
from jnn import viz as viz
from jnn._objective import objective as objective
from jnn._summary import Summary as Summary
from jnn._summary import summary as summary

__version__ = "0.1.0"
