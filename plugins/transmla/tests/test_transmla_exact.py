"""Stage A exactness, RoRoPE invariance, full-rank PCA, absorbed == DeepSeek layout (float64,
sdpa)."""

import copy

import pytest
import torch
from transformers.cache_utils import DynamicCache

from framework.llm.models import tiny
from fw_transmla.cache import LatentKVCache
from fw_transmla.calibrate import calibrate
from fw_transmla.convert import convert_exact, convert_mla
from fw_transmla.pca import joint_pca
from fw_transmla.rorope import rorope

torch.set_num_threads(1)
ARCHS = ['llama', 'qwen2']


def _ids(model, B=2, T=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.vocab_size, (B, T), generator=g)


def _calib(model):
    return calibrate(model, _ids(model, B=4, T=64, seed=7))


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits


def _incremental(model, ids, cache):
    outs = []
    with torch.no_grad():
        for t in range(ids.shape[1]):
            outs.append(model(input_ids=ids[:, t : t + 1], cache=cache, use_cache=True).logits)
    return torch.cat(outs, 1)


@pytest.mark.parametrize('arch', ARCHS)
def test_stage_a_exact_prefill_and_decode(arch):
    ref = tiny(arch)
    ids = _ids(ref)
    want = _logits(ref, ids)
    m = convert_exact(copy.deepcopy(ref))
    assert (_logits(m, ids) - want).abs().max() <= 1e-10
    cache = LatentKVCache.for_model(m)
    got = _incremental(m, ids, cache)
    assert (got - want).abs().max() <= 1e-10
    c = ref.config
    assert cache.layers[0].keys.shape == (2, 1, ids.shape[1], c.num_key_value_heads * 16)
    assert (
        cache.bytes_per_token() == LatentKVCache.expected_bytes_per_token(m) == 2 * 2 * 2 * 16 * 8
    )


def _all_rope_rotations(model, stats=None, random_u=False):
    """M = 1 and RoPE kept on every rotated coordinate (n_keep = g), each with its true
    frequency."""
    g, d = model.config.num_key_value_heads, 16
    gen = torch.Generator().manual_seed(3)
    out = []
    for i in range(model.config.num_hidden_layers):
        rot = None
        if random_u:
            rot = {
                m: torch.linalg.qr(torch.randn(g, g, generator=gen, dtype=torch.float64))[0]
                for m in range(d // 2)
            }
        cov = (
            stats[i].kv_cov[: g * d, : g * d]
            if stats is not None
            else torch.eye(g * d, dtype=torch.float64)
        )
        out.append(rorope(cov, g, d, 1, n_keep=g, rotations=rot))
    return out


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('random_u', [False, True])
def test_rorope_scores_unchanged(arch, random_u):
    ref = tiny(arch)
    stats = _calib(ref)
    rots = _all_rope_rotations(ref, stats, random_u)
    Q = rots[0][0]
    assert (Q @ Q.T - torch.eye(Q.shape[0], dtype=torch.float64)).abs().max() <= 1e-12
    ids = _ids(ref)
    # layer-level: attention scores of layer 0 (pre-softmax) equal the GQA scores
    m = convert_mla(copy.deepcopy(ref), stats, kv_rank=None, rope_dim=32, rotations=rots)
    assert (_logits(m, ids) - _logits(ref, ids)).abs().max() <= 1e-10
    x = torch.randn(1, 10, ref.config.hidden_size, dtype=torch.float64)
    pos = torch.arange(10)[None]
    pe = ref.model.rotary_emb(x, pos)
    s_ref = _scores_gqa(ref.model.layers[0].self_attn, x, pe)
    s_new = _scores_mla(m.model.layers[0].self_attn, x, pe)
    assert (s_ref - s_new).abs().max() <= 1e-10


def _scores_gqa(a, x, pe):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb, repeat_kv

    B, T, _ = x.shape
    q = a.q_proj(x).view(B, T, -1, a.head_dim).transpose(1, 2)
    k = a.k_proj(x).view(B, T, -1, a.head_dim).transpose(1, 2)
    q, k = apply_rotary_pos_emb(q, k, *pe)
    return q @ repeat_kv(k, a.num_key_value_groups).transpose(-1, -2) * a.scaling


def _scores_mla(a, x, pe):
    from framework.llm.attention import apply_rope, rope_subset

    B, T, _ = x.shape
    q = a.q_proj(x).view(B, T, a.h, a.d + a.rope_dim).transpose(1, 2)
    qn, qr = q.split([a.d, a.rope_dim], -1)
    cos, sin = rope_subset(*pe, a.freqs)
    kr = apply_rope(a.k_rope(x).unsqueeze(1), cos, sin)
    qr = apply_rope(qr, cos, sin)
    c = a.kv_a(x).unsqueeze(1)
    ql = torch.einsum('bhtd,hrd->bhtr', qn, a.w_uk)
    return (ql @ c.transpose(-1, -2) + qr @ kr.transpose(-1, -2)) * a.scaling


@pytest.mark.parametrize('arch', ARCHS)
def test_freqfold_not_exact_but_finite(arch):
    ref = tiny(arch)
    stats = _calib(ref)
    ids = _ids(ref)
    m = convert_mla(copy.deepcopy(ref), stats, kv_rank=None, rope_dim=8, freqfold=4)
    err = (_logits(m, ids) - _logits(ref, ids)).abs().max()
    assert torch.isfinite(err) and err > 1e-8


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('balance', [True, False])
def test_full_rank_pca_equals_stage_b(arch, balance):
    ref = tiny(arch)
    stats = _calib(ref)
    ids = _ids(ref)
    g, d, dr = 2, 16, 8
    b = convert_mla(copy.deepcopy(ref), stats, kv_rank=None, rope_dim=dr, freqfold=2)
    full = convert_mla(
        copy.deepcopy(ref),
        stats,
        kv_rank=2 * g * d - dr,
        rope_dim=dr,
        freqfold=2,
        balance_kv=balance,
    )
    assert (_logits(full, ids) - _logits(b, ids)).abs().max() <= 1e-10


def test_pca_identity():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(200, 24, generator=gen, dtype=torch.float64) @ torch.randn(
        24, 24, generator=gen, dtype=torch.float64
    )
    P, ev = joint_pca(X.T @ X, damp=0.0)
    for r in (4, 12, 20):
        Pr = P[:, :r]
        lhs = ((X - X @ Pr @ Pr.T) ** 2).sum()
        assert abs(lhs - ev[r:].sum()) / lhs <= 1e-10


@pytest.mark.parametrize('arch', ARCHS)
def test_absorbed_equals_deepseek_layout(arch):
    ref = tiny(arch)
    stats = _calib(ref)
    ids = _ids(ref)
    m = convert_mla(copy.deepcopy(ref), stats, kv_rank=20, rope_dim=8, freqfold=2)
    want = _logits(m, ids)
    for layer in m.model.layers:
        layer.self_attn.absorb = False
    assert (_logits(m, ids) - want).abs().max() <= 1e-10
    got = _incremental(m, ids, DynamicCache(config=m.config))
    assert (got - want).abs().max() <= 1e-10
    for layer in m.model.layers:
        layer.self_attn.absorb = True
    got = _incremental(m, ids, LatentKVCache.for_model(m))
    assert (got - want).abs().max() <= 1e-10


def test_interleaved_layout_scores():
    from framework.llm.attention import apply_rope, apply_rope_interleaved, half_to_interleaved

    ref = tiny('llama')
    x = torch.randn(1, 12, 16, dtype=torch.float64)
    pe = ref.model.rotary_emb(x, torch.arange(12)[None])
    q, k = torch.randn(2, 1, 1, 12, 16, dtype=torch.float64)
    s_half = apply_rope(q, *pe) @ apply_rope(k, *pe).transpose(-1, -2)
    p = half_to_interleaved(16)
    s_int = apply_rope_interleaved(q[..., p], *pe) @ apply_rope_interleaved(
        k[..., p], *pe
    ).transpose(-1, -2)
    assert (s_half - s_int).abs().max() <= 1e-12
