"""SmolLM2-135M (float32): exact rewrite to 1e-4 (prefill and token-by-token through the latent
cache); quality ordering of the lossy stages (benchmark: minutes on 2 cores)."""

import copy

import pytest
import torch

from framework.errors import FwError

torch.set_num_threads(2)


def _smollm2():
    from framework.llm.models import load_causal_lm, load_tokenizer, smollm2_gguf_path

    try:
        smollm2_gguf_path()
    except FwError as e:
        pytest.skip(str(e))
    return load_causal_lm('smollm2'), load_tokenizer('smollm2')


@pytest.mark.slow
def test_smollm2_exact_rewrite_float32():
    from framework.llm.data import encode, pydoc_text
    from fw_transmla.cache import LatentKVCache
    from fw_transmla.convert import convert_exact

    model, tok = _smollm2()
    ids = encode(tok, pydoc_text('heldout'))[None, :48]
    m = convert_exact(copy.deepcopy(model))
    with torch.no_grad():
        want = model(input_ids=ids).logits
        assert (m(input_ids=ids).logits - want).abs().max() <= 1e-4
        cache = LatentKVCache.for_model(m)
        m(input_ids=ids[:, :32], cache=cache, use_cache=True)
        steps = [
            m(input_ids=ids[:, t : t + 1], cache=cache, use_cache=True).logits
            for t in range(32, 48)
        ]
    assert (torch.cat(steps, 1) - want[:, 32:]).abs().max() <= 1e-4
    assert cache.bytes_per_token() == 46080 == LatentKVCache.expected_bytes_per_token(m)


@pytest.mark.benchmark
def test_smollm2_quality_ordering():
    from framework.llm.data import encode, pydoc_text, token_windows
    from framework.llm.evaluate import perplexity
    from fw_transmla.calibrate import calibrate
    from fw_transmla.convert import convert_mla

    model, tok = _smollm2()
    held = token_windows(encode(tok, pydoc_text('heldout')), 256, 4)
    stats = calibrate(model, token_windows(encode(tok, pydoc_text('train')), 256, 8))

    def ppl(**kw):
        return perplexity(
            convert_mla(copy.deepcopy(model), stats, rope_dim=32, freqfold=4, **kw), held
        )['ppl']

    partial = ppl(kv_rank=None)
    assert abs(ppl(kv_rank=352) - partial) / partial <= 1e-6
    assert partial < ppl(kv_rank=None, rotation='none') and partial < ppl(
        kv_rank=None, rotation='norm'
    )
    ranks = [ppl(kv_rank=r) for r in (192, 128, 64)]
    assert ranks[0] <= ranks[1] * 1.01 and ranks[1] <= ranks[2] * 1.01
