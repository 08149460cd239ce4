"""``transmla.LatentKVCache``: the absorbed MLA cache stores only the latent c_KV and the shared
post-RoPE key k_rope per token (one cached head); mode ``stage_a`` stores the exact rewrite's
(g*d)-wide post-RoPE latent key and value (same bytes as GQA)."""

from __future__ import annotations

from framework.llm.cache import CompressedKVCache, CompressedKVLayer


class LatentKVLayer(CompressedKVLayer):
    """keys (B,1,T,d_R) post-RoPE shared key, values (B,1,T,r_kv) latent (mode mla)."""


class LatentKVCache(CompressedKVCache):
    """Per layer, mode ``mla``: the latent c_KV (``value_dim`` = r_kv) and the shared post-RoPE
    key (``key_dim`` = d_R) of each token, one cached head (stage D of the paper); mode
    ``stage_a``: the exact rewrite's (g*d)-wide latent key and value. Build it with
    :meth:`for_model`.

    Args:
        num_layers: decoder layers of the model.
        mode: ``'mla'`` or ``'stage_a'``.
        key_dim: cached key width per token and layer.
        value_dim: cached value (latent) width per token and layer.
    """

    layer_class = LatentKVLayer

    def __init__(self, num_layers: int, mode: str = 'mla', key_dim: int = 0, value_dim: int = 0):
        if mode not in ('mla', 'stage_a'):
            raise ValueError(f"LatentKVCache mode {mode!r}: 'mla' or 'stage_a'")
        self.mode = mode
        super().__init__(num_layers, key_shape=(1, key_dim), value_shape=(1, value_dim))

    @staticmethod
    def dims(model) -> tuple[str, int, int, int]:
        """(mode, key width, value width, layers) read from the converted model's attention
        modules."""
        attn = model.model.layers[0].self_attn
        mode = getattr(attn, 'cache_mode', None)
        if mode is None:
            raise ValueError(
                'LatentKVCache needs a model converted by fw_transmla (no MLA attention found)'
            )
        return mode, attn.cache_key_dim, attn.cache_value_dim, len(model.model.layers)

    @classmethod
    def for_model(cls, model) -> 'LatentKVCache':
        mode, kd, vd, n = cls.dims(model)
        return cls(n, mode=mode, key_dim=kd, value_dim=vd)

    @classmethod
    def expected_bytes_per_token(cls, model) -> int:
        """L*(r_kv+d_R)*itemsize (mla) or L*2*g*d*itemsize (stage_a)."""
        _, kd, vd, n = cls.dims(model)
        return n * (kd + vd) * next(model.parameters()).element_size()
