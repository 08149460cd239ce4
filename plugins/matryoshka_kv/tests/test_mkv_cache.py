"""The low-rank cache really stores fewer bytes, and model.generate runs through it."""

import torch

from framework.llm.cache import DenseKVCache
from framework.llm.models import tiny
from fw_matryoshka_kv.attention import install_projections, set_mode, set_ranks
from fw_matryoshka_kv.cache import LowRankKVCache

torch.set_num_threads(1)


def tiny_mkv(seed=0):
    m = tiny('llama')
    projs = install_projections(m)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in projs:
            p.double()
            for t in (p.X_K, p.X_V, p.mu_K, p.mu_V):
                t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.3)
    return m


def test_generate_bytes_match_ranks_and_budget():
    m = tiny_mkv()
    R_K = torch.tensor([[8, 4], [16, 2]])
    R_V = torch.tensor([[8, 8], [8, 8]])  # layer-uniform values: unpacked (B, g, T, r) layout
    set_ranks(m, R_K, R_V)
    set_mode(m, 'truncate')
    ids = torch.randint(0, 512, (1, 10), generator=torch.Generator().manual_seed(0))
    cache = LowRankKVCache.for_model(m)
    out = m.generate(ids, cache=cache, max_new_tokens=6, do_sample=False, pad_token_id=0)
    T = out.shape[1] - 1  # the last generated token is never fed back
    assert cache.get_seq_length() == T
    itemsize = 8
    assert cache.bytes_per_token() == (int(R_K.sum()) + int(R_V.sum())) * itemsize
    assert cache.bytes_per_token() == LowRankKVCache.expected_bytes_per_token(m)
    assert [tuple(c.keys.shape) for c in cache.layers] == [(1, 1, T, 12), (1, 1, T, 18)]
    assert [tuple(c.values.shape) for c in cache.layers] == [(1, 2, T, 8), (1, 2, T, 8)]
    set_mode(m, 'off')
    dense = DenseKVCache.for_model(m)
    m(input_ids=out[:, :-1], cache=dense, use_cache=True)
    kept = (int(R_K.sum()) + int(R_V.sum())) / (2 * 2 * 2 * 16)
    assert cache.nbytes() / dense.nbytes() == kept


def test_generate_equals_stepwise_greedy_and_survives_crop_reorder():
    m = tiny_mkv(1)
    set_ranks(m, torch.tensor([[3, 9], [16, 5]]), torch.tensor([[7, 1], [2, 12]]))
    set_mode(m, 'truncate')
    ids = torch.randint(0, 512, (1, 8), generator=torch.Generator().manual_seed(1))
    out = m.generate(
        ids, cache=LowRankKVCache.for_model(m), max_new_tokens=5, do_sample=False, pad_token_id=0
    )
    cache = LowRankKVCache.for_model(m)
    seq = ids
    with torch.no_grad():
        logits = m(input_ids=ids, cache=cache, use_cache=True).logits
        for _ in range(5):
            nxt = logits[:, -1:].argmax(-1)
            seq = torch.cat((seq, nxt), 1)
            logits = m(input_ids=nxt, cache=cache, use_cache=True).logits
    assert torch.equal(out, seq)
    cache.crop(6 - cache.get_seq_length())  # negative: drop tokens from the end (5.24 API)
    assert cache.get_seq_length() == 6
    cache.reorder_cache(torch.tensor([0]))
    with torch.no_grad():
        again = m(input_ids=seq[:, 6:], cache=cache, use_cache=True).logits
        full = m(input_ids=seq).logits
    assert (again - full[:, 6:]).abs().max() < 1e-10


def test_cache_rejects_wrong_shapes():
    cache = LowRankKVCache([((2, 4), (2, 4))])
    try:
        cache.update(torch.zeros(1, 2, 3, 5), torch.zeros(1, 2, 3, 4), 0)
    except ValueError as e:
        assert '(B, 2, T, 4)' in str(e)
    else:
        raise AssertionError('a key of width 5 was accepted for rank 4')
