"""Embedding: a lookup table from integer ids to learned vectors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.layers._base import Layer, check_param_keys

# Flax's default: N(0, 1/features), so embeddings have about unit norm.
DEFAULT_EMBEDDING_INIT = jax.nn.initializers.variance_scaling(
    1.0, "fan_in", "normal", out_axis=0
)


@dataclasses.dataclass(frozen=True, repr=False)
class Embedding(Layer):
    r"""Maps integer ids to rows of a learned table.

    .. math::
        y_{\dots} = E_{\,x_{\dots}}, \qquad E \in \mathbb{R}^{V \times D}

    ``x`` holds integer ids of any shape; ``y`` has shape ``x.shape + (D,)``. Params are
    ``{"embedding": (num_embeddings, features)}``. Equivalent to a bias-free ``Dense``
    applied to one-hot vectors, without building them.

    Ids outside ``[0, num_embeddings)`` are refused with an error when ``x`` is a concrete
    array; under ``jit`` (where values cannot raise) their rows come out as NaN, so
    the mistake shows in the loss instead of silently reading a clamped row.

    Args:
        num_embeddings: the vocabulary size ``V``.
        features: the embedding size ``D``.
        embedding_init: ``init(key, (V, D), dtype)``; normal with variance ``1/D``.
        param_dtype: dtype of the table (float32 by default).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> emb = Embedding(10, 4)
        >>> ids = jnp.array([[1, 2, 3], [4, 5, 0]])
        >>> params, state = emb.init(jax.random.key(0), ids)
        >>> emb.apply(params, state, ids)[0].shape
        (2, 3, 4)
    """

    num_embeddings: int
    features: int
    embedding_init: Callable[..., jax.Array] = DEFAULT_EMBEDDING_INIT
    param_dtype: Any = jnp.float32

    def __post_init__(self):
        _checks.positive_int(
            "Embedding", "num_embeddings", self.num_embeddings,
            fix="Pass the vocabulary size, e.g. Embedding(10_000, 64).",
        )
        _checks.positive_int(
            "Embedding", "features", self.features,
            fix="Pass the embedding size, e.g. Embedding(10_000, 64).",
        )

    def _check_ids(self, where: str, x: Any) -> None:
        dtype = jnp.result_type(x)
        if not jnp.issubdtype(dtype, jnp.integer):
            raise TypeError(
                f"{where}: x must hold integer ids; got dtype {dtype}. Cast token ids with "
                f"x.astype(jnp.int32); for real-valued inputs use Dense instead."
            )
        if isinstance(x, (jax.Array, np.ndarray)) and not isinstance(x, jax.core.Tracer):
            values = np.asarray(x)
            if values.size and (values.min() < 0 or values.max() >= self.num_embeddings):
                raise ValueError(
                    f"{where}: ids must lie in [0, {self.num_embeddings}) (num_embeddings="
                    f"{self.num_embeddings}); got values from {values.min()} to "
                    f"{values.max()}. Enlarge num_embeddings or map unknown tokens to a "
                    f"reserved id."
                )

    def init(self, key, x):
        self._check_ids("Embedding.init", x)
        shape = (self.num_embeddings, self.features)
        return {"embedding": self.embedding_init(key, shape, jnp.dtype(self.param_dtype))}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        where = "Embedding.apply"
        check_param_keys(where, params, {"embedding"})
        self._check_ids(where, x)
        table = params["embedding"]
        if table.shape != (self.num_embeddings, self.features):
            raise ValueError(
                f"{where}: params['embedding'] has shape {tuple(table.shape)} but this layer "
                f"needs {(self.num_embeddings, self.features)}; pass this layer's own params."
            )
        y = jnp.take(table, x, axis=0, mode="fill", fill_value=jnp.nan)
        return y, state

    def attend(self, params, query: jax.Array) -> jax.Array:
        r"""Scores of ``query`` ``(..., D)`` against every embedding: ``query @ E.T``.

        Used for tied input/output embeddings (Press & Wolf 2017): the logits of a
        language model's next token, ``(..., V)``.
        """
        check_param_keys("Embedding.attend", params, {"embedding"})
        return query @ params["embedding"].T
