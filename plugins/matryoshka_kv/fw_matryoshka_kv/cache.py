"""``matryoshka_kv.LowRankKVCache``: a ``transformers`` Cache that stores only the r-dim key and
value coefficients of every KV head (paper Sec. 3.1: the cache holds ``U^T (x - mu)`` truncated).

Per layer: uniform ranks -> keys (B, g, T, r_K), values (B, g, T, r_V); heterogeneous ranks ->
packed keys (B, 1, T, sum_j r_K[j]) and values (B, 1, T, sum_j r_V[j]). Bytes per token =
``sum_l sum_j (r_K[l, j] + r_V[l, j]) * itemsize`` (dense: ``2 L g d * itemsize``).
"""

from __future__ import annotations

from transformers.cache_utils import Cache

from framework.llm.cache import CompressedKVCache, CompressedKVLayer


class PackedRankLayer(CompressedKVLayer):
    """One layer's coefficients; shapes checked on the first update (``key_shape``,
    ``value_shape`` = (heads, features)). Crop, reorder and batch selection come from
    ``DynamicLayer`` (sequence on dim -2)."""


class LowRankKVCache(CompressedKVCache):
    """Low-rank KV cache of a MatryoshkaKV model.

    Args: layer_shapes: one ``((key_heads, key_features), (value_heads, value_features))`` per
    decoder layer; :meth:`for_model` reads them from the model's ranks and modes."""

    layer_class = PackedRankLayer

    def __init__(self, layer_shapes):
        self.layer_shapes = [(tuple(k), tuple(v)) for k, v in layer_shapes]
        Cache.__init__(
            self, layers=[PackedRankLayer(key_shape=k, value_shape=v) for k, v in self.layer_shapes]
        )

    @classmethod
    def for_model(cls, model) -> 'LowRankKVCache':
        from .attention import mkv_modules

        return cls([m.cache_shapes() for m in mkv_modules(_lm(model))])

    @classmethod
    def expected_bytes_per_token(cls, model) -> int:
        """``sum_l sum_j (r_K + r_V) * itemsize`` for the model's current ranks and modes."""
        lm = _lm(model)
        itemsize = lm.get_input_embeddings().weight.element_size()
        return sum(
            (k[0] * k[1] + v[0] * v[1]) * itemsize for k, v in cls.for_model(lm).layer_shapes
        )


def _lm(model):
    """Accept the causal LM or the mmengine wrapper holding it as ``.lm``."""
    return getattr(model, 'lm', model)
