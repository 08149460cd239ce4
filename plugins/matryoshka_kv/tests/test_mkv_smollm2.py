"""SmolLM2-135M (float32): full rank reproduces the base logits through the low-rank cache
(prefill and token by token); quality ordering of PCA ranks (benchmark: minutes on 2 cores)."""

import pytest
import torch

from framework import FwError

torch.set_num_threads(1)


def _smollm2_ids(n):
    from framework.llm.data import encode, pydoc_text
    from framework.llm.models import load_causal_lm, load_tokenizer, smollm2_gguf_path

    try:
        smollm2_gguf_path()
    except FwError as e:
        pytest.skip(str(e))
    return load_causal_lm('smollm2'), encode(load_tokenizer('smollm2'), pydoc_text('heldout'))[
        None, :n
    ]


def test_smollm2_full_rank_matches_base_logits():
    from fw_matryoshka_kv.attention import install_projections, set_mode
    from fw_matryoshka_kv.cache import LowRankKVCache

    lm, ids = _smollm2_ids(40)
    with torch.no_grad():
        ref = lm(input_ids=ids).logits
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in install_projections(lm):
            for t in (p.X_K, p.X_V, p.mu_K, p.mu_V):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    set_mode(lm, 'truncate')
    cache = LowRankKVCache.for_model(lm)
    with torch.no_grad():
        out = [lm(input_ids=ids[:, :32], cache=cache, use_cache=True).logits]
        for t in range(32, 40):
            out.append(lm(input_ids=ids[:, t : t + 1], cache=cache, use_cache=True).logits)
    assert (torch.cat(out, 1) - ref).abs().max() < 1e-4
    assert cache.bytes_per_token() == 2 * 30 * 3 * 64 * 4


@pytest.mark.benchmark
def test_smollm2_pca_perplexity_ordering():
    """PCA-only held-out perplexity is non-increasing in the rank (1% slack), r = 64 equals the
    base model (relative 1e-4)."""
    from framework.llm.data import encode, pydoc_text, token_windows
    from framework.llm.evaluate import perplexity
    from framework.llm.models import load_tokenizer
    from fw_matryoshka_kv.attention import install_projections, set_mode, set_ranks
    from fw_matryoshka_kv.pca import calibrate, init_from_pca

    lm, _ = _smollm2_ids(1)
    tok = load_tokenizer('smollm2')
    held = token_windows(encode(tok, pydoc_text('heldout')), 256, 4)
    base = perplexity(lm, held)['ppl']
    install_projections(lm)
    init_from_pca(lm, calibrate(lm, token_windows(encode(tok, pydoc_text('train')), 256, 8)))
    set_mode(lm, 'truncate')
    ppl = {}
    for r in (64, 48, 32, 16):
        set_ranks(lm, r, r)
        ppl[r] = perplexity(lm, held)['ppl']
    assert ppl[64] == pytest.approx(base, rel=1e-4)
    assert ppl[48] <= ppl[32] * 1.01 and ppl[32] <= ppl[16] * 1.01
