"""Layers: immutable hyperparameter objects with pure ``init`` and ``apply``."""

from jnn.layers._base import Identity as Identity
from jnn.layers._base import Lambda as Lambda
from jnn.layers._base import Layer as Layer
from jnn.layers._combinators import Concat as Concat
from jnn.layers._combinators import Parallel as Parallel
from jnn.layers._combinators import Sequential as Sequential
from jnn.layers._dense import Dense as Dense
from jnn.layers._prelu import PReLU as PReLU
from jnn.layers._reshape import Flatten as Flatten
