"""jnn.optim: optimizers as optax gradient transformations, schedules and regularizers.

Every optimizer here is an ``optax.GradientTransformation`` (``...ExtraArgs`` where it
needs the loss), so it works with ``optax.chain``, ``optax.apply_updates`` and
``optax.inject_hyperparams``.
"""

# AdaHessian (_adahessian.py)
from jnn.optim._adahessian import ScaleByAdaHessianState as ScaleByAdaHessianState
from jnn.optim._adahessian import adahessian as adahessian
from jnn.optim._adahessian import scale_by_adahessian as scale_by_adahessian

# First-order optimizers (_alias.py, _alias_adam.py)
from jnn.optim._alias import adadelta as adadelta
from jnn.optim._alias import adagrad as adagrad
from jnn.optim._alias import momentum as momentum
from jnn.optim._alias import nesterov as nesterov
from jnn.optim._alias import rmsprop as rmsprop
from jnn.optim._alias import rprop as rprop
from jnn.optim._alias import sgd as sgd
from jnn.optim._alias_adam import adam as adam
from jnn.optim._alias_adam import adam_mini as adam_mini
from jnn.optim._alias_adam import adamw as adamw
from jnn.optim._alias_adam import amsgrad as amsgrad
from jnn.optim._alias_adam import lion as lion
from jnn.optim._alias_adam import nadam as nadam

# Shared helpers (_base.py)
from jnn.optim._base import weights_mask as weights_mask

# Gauss-Newton and Levenberg-Marquardt for least squares (_gauss_newton.py)
from jnn.optim._gauss_newton import gauss_newton as gauss_newton
from jnn.optim._gauss_newton import levenberg_marquardt as levenberg_marquardt

# L-BFGS (_lbfgs.py)
from jnn.optim._lbfgs import lbfgs as lbfgs
from jnn.optim._lbfgs import scale_by_lbfgs as scale_by_lbfgs

# Learning-rate range test (_lr_finder.py)
from jnn.optim._lr_finder import LRRangeTestResult as LRRangeTestResult
from jnn.optim._lr_finder import lr_range_test as lr_range_test

# Regularization: penalties and transformations (_regularizers.py)
from jnn.optim._regularizers import add_decayed_weights as add_decayed_weights
from jnn.optim._regularizers import add_gradient_noise as add_gradient_noise
from jnn.optim._regularizers import add_l1_subgradient as add_l1_subgradient
from jnn.optim._regularizers import clip_by_global_norm as clip_by_global_norm
from jnn.optim._regularizers import clip_by_value as clip_by_value
from jnn.optim._regularizers import elastic_net as elastic_net
from jnn.optim._regularizers import l1_penalty as l1_penalty
from jnn.optim._regularizers import l2_penalty as l2_penalty
from jnn.optim._regularizers import max_norm as max_norm

# Learning-rate schedules (_schedules.py)
from jnn.optim._schedules import constant_schedule as constant_schedule
from jnn.optim._schedules import cosine_decay_schedule as cosine_decay_schedule
from jnn.optim._schedules import cosine_onecycle_schedule as cosine_onecycle_schedule
from jnn.optim._schedules import cosine_warm_restarts as cosine_warm_restarts
from jnn.optim._schedules import cyclical_schedule as cyclical_schedule
from jnn.optim._schedules import exp_range_schedule as exp_range_schedule
from jnn.optim._schedules import exponential_decay as exponential_decay
from jnn.optim._schedules import linear_onecycle_schedule as linear_onecycle_schedule
from jnn.optim._schedules import linear_schedule as linear_schedule
from jnn.optim._schedules import piecewise_constant as piecewise_constant
from jnn.optim._schedules import polynomial_schedule as polynomial_schedule
from jnn.optim._schedules import step_decay as step_decay
from jnn.optim._schedules import triangular2_schedule as triangular2_schedule
from jnn.optim._schedules import triangular_schedule as triangular_schedule
from jnn.optim._schedules import warmup_cosine_decay_schedule as warmup_cosine_decay_schedule

# Newton's method: 1-D, exact damped, truncated CG (_second_order.py)
from jnn.optim._second_order import NewtonCGState as NewtonCGState
from jnn.optim._second_order import NewtonState as NewtonState
from jnn.optim._second_order import newton as newton
from jnn.optim._second_order import newton_1d as newton_1d
from jnn.optim._second_order import newton_1d_step as newton_1d_step
from jnn.optim._second_order import newton_cg as newton_cg

# Sophia (_sophia.py)
from jnn.optim._sophia import ScaleBySophiaState as ScaleBySophiaState
from jnn.optim._sophia import scale_by_sophia as scale_by_sophia
from jnn.optim._sophia import sophia as sophia

# Building blocks (_transform.py, _transform_adaptive.py, _transform_adam.py)
from jnn.optim._transform import scale_by_heavy_ball as scale_by_heavy_ball
from jnn.optim._transform import scale_by_learning_rate as scale_by_learning_rate
from jnn.optim._transform import scale_by_momentum as scale_by_momentum
from jnn.optim._transform import scale_by_nesterov as scale_by_nesterov
from jnn.optim._transform import scale_by_nesterov_lookahead as scale_by_nesterov_lookahead
from jnn.optim._transform_adam import scale_by_adam as scale_by_adam
from jnn.optim._transform_adam import scale_by_adam_mini as scale_by_adam_mini
from jnn.optim._transform_adam import scale_by_amsgrad as scale_by_amsgrad
from jnn.optim._transform_adam import scale_by_lion as scale_by_lion
from jnn.optim._transform_adam import scale_by_nadam as scale_by_nadam
from jnn.optim._transform_adaptive import scale_by_adadelta as scale_by_adadelta
from jnn.optim._transform_adaptive import scale_by_adagrad as scale_by_adagrad
from jnn.optim._transform_adaptive import scale_by_rms as scale_by_rms
from jnn.optim._transform_adaptive import scale_by_rprop as scale_by_rprop
