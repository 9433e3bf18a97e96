"""Datasets, splits, batching and augmentation for jnn.

Embedded datasets need no download and are pure functions of a PRNG key. Splits,
cross-validation folds and batches are seeded by a key, so every experiment can be
repeated exactly.
"""

from ._augment import add_noise as add_noise
from ._augment import cutout as cutout
from ._augment import random_crop as random_crop
from ._augment import random_flip as random_flip
from ._batching import batches as batches
from ._batching import epoch_batches as epoch_batches
from ._batching import num_batches as num_batches
from ._batching import padded_batches as padded_batches
from ._digits import load_digits as load_digits
from ._gates import and_gate as and_gate
from ._gates import or_gate as or_gate
from ._gates import xor as xor
from ._idx import load_mnist as load_mnist
from ._idx import read_idx as read_idx
from ._regression import linear_regression as linear_regression
from ._regression import polynomial_regression as polynomial_regression
from ._regression import sine_regression as sine_regression
from ._split import kfold as kfold
from ._split import repeated_kfold as repeated_kfold
from ._split import train_test_split as train_test_split
from ._split import train_val_test_split as train_val_test_split
from ._standardize import Standardizer as Standardizer
from ._standardize import standardize as standardize
from ._toy import blobs as blobs
from ._toy import circles as circles
from ._toy import moons as moons
from ._toy import spirals as spirals
