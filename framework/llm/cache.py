"""KV caches as ``transformers`` Cache subclasses, with byte accounting (the CACHES registry's base).

A method's cache stores arbitrary ``(B, H', T, F)`` tensors as ``keys``/``values`` (sequence on
dim -2), so ``DynamicLayer`` gives update/crop/reorder/batch-select/mask sizes for free."""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer


def cache_nbytes(cache: Cache) -> int:
    """Sum of ``numel * element_size`` over every tensor stored in any Cache (live measurement)."""
    total = 0
    for layer in cache.layers:
        for name in ('keys', 'values'):
            t = getattr(layer, name, None)
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()
    return total


def cache_tokens(cache: Cache) -> int:
    """Batch * cached sequence length, read from the first initialised layer."""
    for layer in cache.layers:
        if (
            getattr(layer, 'is_initialized', False)
            and layer.keys is not None
            and layer.keys.numel()
        ):
            return layer.keys.shape[0] * layer.keys.shape[-2]
    return 0


def bytes_per_token(cache: Cache) -> float:
    n = cache_tokens(cache)
    return cache_nbytes(cache) / n if n else 0.0


class CompressedKVLayer(DynamicLayer):
    """One layer of a compressed cache. Subclasses set ``key_shape``/``value_shape`` as
    ``(heads, features)`` (``None`` = unchecked) and get validation on the first update."""

    key_shape: tuple[int, int] | None = None
    value_shape: tuple[int, int] | None = None

    def __init__(self, key_shape=None, value_shape=None, **kwargs):
        super().__init__(**kwargs)
        if key_shape is not None:
            self.key_shape = tuple(key_shape)
        if value_shape is not None:
            self.value_shape = tuple(value_shape)

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            for what, t, want in (
                ('keys', key_states, self.key_shape),
                ('values', value_states, self.value_shape),
            ):
                if want is not None and (t.dim() != 4 or (t.shape[1], t.shape[3]) != tuple(want)):
                    raise ValueError(
                        f'{type(self).__name__}: {what} must be (B, {want[0]}, T, {want[1]}), '
                        f'got {tuple(t.shape)}'
                    )
        return super().update(key_states, value_states, *args, **kwargs)


class CompressedKVCache(Cache):
    """Base of the methods' caches: ``layers`` are ``layer_class`` instances, one per decoder layer."""

    layer_class = CompressedKVLayer

    def __init__(self, num_layers: int, **layer_kwargs):
        super().__init__(layers=[self.layer_class(**layer_kwargs) for _ in range(num_layers)])

    def nbytes(self) -> int:
        return cache_nbytes(self)

    def bytes_per_token(self) -> float:
        return bytes_per_token(self)

    @classmethod
    def for_model(cls, model) -> 'CompressedKVCache':
        raise NotImplementedError

    @classmethod
    def expected_bytes_per_token(cls, model) -> int:
        raise NotImplementedError


class DenseKVCache(DynamicCache):
    """The uncompressed baseline (``llm.DenseKVCache``): ``DynamicCache(config=model.config)``."""

    @classmethod
    def for_model(cls, model) -> 'DenseKVCache':
        return cls(config=model.config)

    @staticmethod
    def expected_bytes_per_token(model) -> int:
        c = model.config
        d = getattr(c, 'head_dim', None) or c.hidden_size // c.num_attention_heads
        itemsize = next(model.parameters()).element_size()
        return 2 * c.num_hidden_layers * c.num_key_value_heads * d * itemsize

    def nbytes(self) -> int:
        return cache_nbytes(self)

    def bytes_per_token(self) -> float:
        return bytes_per_token(self)
