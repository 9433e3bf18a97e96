"""Layers: immutable hyperparameter objects with pure ``init`` and ``apply``."""

from jnn.layers._base import Identity as Identity
from jnn.layers._base import Lambda as Lambda
from jnn.layers._base import Layer as Layer
from jnn.layers._combinators import Concat as Concat
from jnn.layers._combinators import Parallel as Parallel
from jnn.layers._combinators import Sequential as Sequential
from jnn.layers._conv import Conv as Conv
from jnn.layers._conv import ConvTranspose as ConvTranspose
from jnn.layers._conv import conv_output_size as conv_output_size
from jnn.layers._conv import conv_transpose_output_size as conv_transpose_output_size
from jnn.layers._dense import Dense as Dense
from jnn.layers._dropout import Dropout as Dropout
from jnn.layers._dropout import SpatialDropout as SpatialDropout
from jnn.layers._norm import BatchNorm as BatchNorm
from jnn.layers._norm import GroupNorm as GroupNorm
from jnn.layers._norm import LayerNorm as LayerNorm
from jnn.layers._pool import AvgPool as AvgPool
from jnn.layers._pool import GlobalAvgPool as GlobalAvgPool
from jnn.layers._pool import GlobalMaxPool as GlobalMaxPool
from jnn.layers._pool import MaxPool as MaxPool
from jnn.layers._prelu import PReLU as PReLU
from jnn.layers._reshape import Flatten as Flatten
