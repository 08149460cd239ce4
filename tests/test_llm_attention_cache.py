"""Attention replacement contract and the cache base classes (float64, sdpa and eager)."""

import pytest
import torch
from torch import nn

from framework.llm.attention import apply_rope, attention_fn, replace_attention, restore_attention
from framework.llm.cache import CompressedKVCache, CompressedKVLayer, DenseKVCache, cache_nbytes
from framework.llm.models import tiny

torch.set_num_threads(1)


class Identity(nn.Module):
    """Original projections, dispatch through the model's attention function."""

    def __init__(self, base):
        super().__init__()
        self.b = base
        self.config, self.layer_idx = base.config, base.layer_idx
        self.num_key_value_groups, self.scaling, self.is_causal = (
            base.num_key_value_groups,
            base.scaling,
            True,
        )

    def forward(
        self, hidden_states, position_embeddings=None, attention_mask=None, cache=None, **kw
    ):
        B, T, _ = hidden_states.shape
        d = self.b.head_dim
        q = apply_rope(
            self.b.q_proj(hidden_states).view(B, T, -1, d).transpose(1, 2), *position_embeddings
        )
        k = apply_rope(
            self.b.k_proj(hidden_states).view(B, T, -1, d).transpose(1, 2), *position_embeddings
        )
        v = self.b.v_proj(hidden_states).view(B, T, -1, d).transpose(1, 2)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)
        o, w = attention_fn(self.config)(
            self, q, k, v, attention_mask, dropout=0.0, scaling=self.scaling, **kw
        )
        return self.b.o_proj(o.reshape(B, T, -1)), w


@pytest.mark.parametrize('impl', ['sdpa', 'eager'])
def test_identity_replacement_and_causality(impl):
    m = tiny('llama', attn_implementation=impl)
    ids = torch.randint(0, 512, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = m(input_ids=ids).logits
        replace_attention(m, lambda old, i: Identity(old))
        got = m(input_ids=ids).logits
        assert (got - want).abs().max() <= 1e-12
        ids2 = ids.clone()
        ids2[:, 10] = (ids2[:, 10] + 1) % 512
        assert torch.equal(m(input_ids=ids2).logits[:, :10], got[:, :10])
        restore_attention(m)
        assert torch.equal(m(input_ids=ids).logits, want)


def test_dense_cache_bytes():
    m = tiny('qwen2')
    c = DenseKVCache.for_model(m)
    with torch.no_grad():
        m(input_ids=torch.randint(0, 512, (3, 7)), cache=c, use_cache=True)
    assert cache_nbytes(c) == 2 * 2 * 2 * 16 * 8 * 3 * 7
    assert c.bytes_per_token() == DenseKVCache.expected_bytes_per_token(m)


class DenseLayer(CompressedKVLayer):
    key_shape = value_shape = (2, 16)


class DenseCompressed(CompressedKVCache):
    layer_class = DenseLayer

    @classmethod
    def for_model(cls, model):
        return cls(model.config.num_hidden_layers)


def test_compressed_cache_decode_crop_reorder_select():
    m = tiny('llama')
    ids = torch.randint(0, 512, (3, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = m(input_ids=ids).logits
        c = DenseCompressed.for_model(m)
        steps = [m(input_ids=ids[:, t : t + 1], cache=c, use_cache=True).logits for t in range(12)]
    assert (torch.cat(steps, 1) - full).abs().max() <= 1e-12
    assert c.get_seq_length() == 12 and c.bytes_per_token() == 2 * 2 * 2 * 16 * 8
    c.crop(-2)
    assert c.get_seq_length() == 10
    c.reorder_cache(torch.tensor([2, 1, 0]))
    c.batch_select_indices(torch.tensor([0, 2]))
    assert c.layers[0].keys.shape == (2, 2, 10, 16) and c.get_seq_length() == 10
    with pytest.raises(ValueError, match=r'\(B, 2, T, 16\)'):
        DenseCompressed(1).update(torch.zeros(1, 1, 3, 16), torch.zeros(1, 1, 3, 16), 0)
