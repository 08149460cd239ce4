"""Exact properties of the MatryoshkaKV attention on tiny random models (float64, sdpa)."""

import pytest
import torch

from framework.llm.models import tiny
from fw_matryoshka_kv.attention import install_projections, mkv_modules, set_mode, set_ranks
from fw_matryoshka_kv.cache import LowRankKVCache
from fw_matryoshka_kv.cayley import cayley, inverse_cayley, orthogonality_error

torch.set_num_threads(1)


def randomise(projs, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in projs:
            p.double()
            for t in (p.X_K, p.X_V, p.mu_K, p.mu_V):
                t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype))


def model_and_ids(arch='llama', seed=0, T=24, **over):
    m = tiny(arch, **over)
    ids = torch.randint(
        0, m.config.vocab_size, (2, T), generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        ref = m(input_ids=ids).logits
    projs = install_projections(m)
    randomise(projs, seed)
    return m, projs, ids, ref


def stepwise(m, ids, prefill=1):
    cache = LowRankKVCache.for_model(m)
    with torch.no_grad():
        outs = [m(input_ids=ids[:, :prefill], cache=cache, use_cache=True).logits]
        for t in range(prefill, ids.shape[1]):
            outs.append(m(input_ids=ids[:, t : t + 1], cache=cache, use_cache=True).logits)
    return torch.cat(outs, 1), cache


def test_cayley_orthogonal_float64_and_det_plus_one():
    X = torch.randn(5, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    U = cayley(X)
    assert orthogonality_error(U) < 1e-12
    assert torch.allclose(torch.linalg.det(U), torch.ones(5, dtype=torch.float64), atol=1e-12)


def test_cayley_stays_orthogonal_under_adamw_float32():
    torch.manual_seed(0)
    X = torch.nn.Parameter(torch.zeros(3, 64, 64))
    target = torch.randn(3, 64, 64)
    opt = torch.optim.AdamW([X], lr=1e-2)
    for _ in range(200):
        loss = ((cayley(X)[..., :16] - target[..., :16]) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert X.abs().max() > 0.1  # it moved
    assert orthogonality_error(cayley(X.detach())) < 1e-5


def test_inverse_cayley_round_trip_of_an_eigenbasis():
    g = torch.Generator().manual_seed(1)
    A = torch.randn(32, 32, dtype=torch.float64, generator=g)
    _, U = torch.linalg.eigh(A @ A.T)
    X = inverse_cayley(U)
    V = cayley(X)
    assert torch.equal(torch.tril(X, -1), X)
    assert (V.abs() - U.abs()).abs().max() < 1e-10  # same basis up to column signs
    assert float(torch.linalg.det(V)) == pytest.approx(1.0, abs=1e-10)
    X32 = inverse_cayley(U.float())
    assert (cayley(X32).abs() - U.float().abs()).abs().max() < 1e-5


@pytest.mark.parametrize('arch', ['llama', 'qwen2'])
def test_full_rank_reproduces_base_prefill_and_stepwise(arch):
    m, projs, ids, ref = model_and_ids(arch)
    for mode in ('mask', 'truncate'):
        set_mode(m, mode)
        with torch.no_grad():
            assert (m(input_ids=ids).logits - ref).abs().max() < 1e-10
    set_mode(m, 'truncate')
    out, _ = stepwise(m, ids)
    assert (out - ref).abs().max() < 1e-10


@pytest.mark.parametrize('over', [dict(num_key_value_heads=1), dict(num_key_value_heads=8)])
def test_full_rank_mqa_and_mha(over):
    m, projs, ids, ref = model_and_ids('llama', **over)
    set_mode(m, 'truncate')
    out, _ = stepwise(m, ids, prefill=5)
    assert (out - ref).abs().max() < 1e-10


def test_dropping_q_dot_mu_k_is_exact():
    """Reference attention that keeps q . mu_K in the score (as the official code) == ours."""
    m, projs, ids, _ = model_and_ids('llama')
    att = mkv_modules(m)[0]
    set_ranks(m, 6, 16)
    att.mode = 'mask'
    x = torch.randn(1, 9, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    pe = m.model.rotary_emb(x, torch.arange(9)[None])
    with torch.no_grad():
        ours = att(x, position_embeddings=pe)[0]
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        h, g, d, n = att.h, att.g, att.d, att.n_rep
        q = att.q_proj(x).view(1, 9, h, d).transpose(1, 2)
        k = att.k_proj(x).view(1, 9, g, d).transpose(1, 2)
        v = att.v_proj(x).view(1, 9, g, d).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, *pe)
        U_K, U_V = att.proj.bases()
        r_K, r_V = 6, 16
        kap = (k - att.proj.mu_K[:, None]) @ U_K[..., :r_K]
        nu = (v - att.proj.mu_V[:, None]) @ U_V[..., :r_V]
        qg = q.view(1, g, n, 9, d)
        scores = (qg @ U_K[:, None, :, :r_K]) @ kap[:, :, None].transpose(-1, -2)
        scores = scores + (qg @ att.proj.mu_K[:, None, :, None])  # the dropped q . mu_K term
        causal = torch.ones(9, 9, dtype=torch.bool).tril()
        a = torch.softmax((scores * d**-0.5).masked_fill(~causal, float('-inf')), -1)
        o = (a @ nu[:, :, None]) @ U_V[:, None, :, :r_V].transpose(-1, -2) + att.proj.mu_V[
            :, None, None
        ]
        ref = att.o_proj(o.reshape(1, h, 9, d).transpose(1, 2).reshape(1, 9, h * d))
    assert (ours - ref).abs().max() < 1e-12


def random_ranks(L, g, d, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, d + 1, (L, g), generator=gen), torch.randint(
        1, d + 1, (L, g), generator=gen
    )


@pytest.mark.parametrize('arch', ['llama', 'qwen2'])
def test_mask_path_equals_truncated_packed_cache(arch):
    m, projs, ids, _ = model_and_ids(arch)
    R_K, R_V = random_ranks(2, 2, 16, seed=4)
    set_ranks(m, R_K, R_V)
    set_mode(m, 'mask')
    with torch.no_grad():
        train_path = m(input_ids=ids).logits
    set_mode(m, 'truncate')
    out, cache = stepwise(m, ids, prefill=7)
    assert (out - train_path).abs().max() < 1e-10
    for layer, c in enumerate(cache.layers):  # packed per layer: last dim = sum_j r_j
        assert c.keys.shape == (2, 1, 24, int(R_K[layer].sum()))
        assert c.values.shape == (2, 1, 24, int(R_V[layer].sum()))


def test_output_folding_into_o_proj_is_exact():
    m, projs, ids, _ = model_and_ids('qwen2')
    set_ranks(m, *random_ranks(2, 2, 16, seed=5))
    set_mode(m, 'truncate')
    with torch.no_grad():
        folded = m(input_ids=ids).logits
        for a in mkv_modules(m):
            a.fold_output = False
        plain = m(input_ids=ids).logits
    assert (folded - plain).abs().max() < 1e-10


def test_rank_r_cache_is_prefix_of_rank_d_cache():
    m, projs, ids, _ = model_and_ids('llama')
    set_mode(m, 'truncate')
    caches = {}
    for r in (16, 5):
        set_ranks(m, r, r)
        caches[r] = LowRankKVCache.for_model(m)
        with torch.no_grad():
            m(input_ids=ids, cache=caches[r], use_cache=True)
    # layer 0 sees the same inputs at both ranks (later layers see the compressed past)
    for full, low in zip(caches[16].layers[:1], caches[5].layers[:1]):
        assert low.keys.shape[-1] == 5
        assert (low.keys - full.keys[..., :5]).abs().max() < 1e-12
        assert (low.values - full.values[..., :5]).abs().max() < 1e-12
