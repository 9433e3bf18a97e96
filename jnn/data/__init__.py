"""Datasets, splits, batching and augmentation for jnn.

Embedded datasets need no download and are pure functions of a PRNG key. Splits,
cross-validation folds and batches are seeded by a key, so every experiment can be
repeated exactly.
"""

from ._toy import spirals as spirals
