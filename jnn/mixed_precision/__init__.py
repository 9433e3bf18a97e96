"""Mixed-precision training: precision policies, a layer wrapper, and loss scaling.

.. code-block:: python

    from jnn import mixed_precision as mp

    model = mp.MixedPrecision(model, "bfloat16")    # float32 params, bfloat16 compute
    loss_scale = mp.DynamicLossScale()               # only needed for float16
    grads = loss_scale.unscale(jax.grad(lambda p: loss_scale.scale(loss(p)))(params))
    finite = mp.all_finite(grads)
    loss_scale = loss_scale.adjust(finite)
    params = mp.select_tree(finite, new_params, params)   # skip overflowed steps

References:
    Micikevicius et al., "Mixed Precision Training", 2018. https://arxiv.org/abs/1710.03740
"""

from jnn.mixed_precision._layer import MixedPrecision as MixedPrecision
from jnn.mixed_precision._loss_scale import DynamicLossScale as DynamicLossScale
from jnn.mixed_precision._loss_scale import NoLossScale as NoLossScale
from jnn.mixed_precision._loss_scale import StaticLossScale as StaticLossScale
from jnn.mixed_precision._loss_scale import all_finite as all_finite
from jnn.mixed_precision._loss_scale import select_tree as select_tree
from jnn.mixed_precision._policy import Policy as Policy
from jnn.mixed_precision._policy import cast_floating as cast_floating
from jnn.mixed_precision._policy import policy as policy
