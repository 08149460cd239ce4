"""Pinned transformers and the exact symbols framework.llm and the LLM plugins use."""

import transformers


def test_pinned_symbols():
    from transformers import AttentionInterface  # noqa: F401
    from transformers.cache_utils import Cache, DynamicCache, DynamicLayer  # noqa: F401
    from transformers.masking_utils import AttentionMaskInterface, eager_mask  # noqa: F401
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS  # noqa: F401
    from transformers.models.llama.modeling_llama import (
        eager_attention_forward,  # noqa
    )

    from framework.llm import TRANSFORMERS_PIN

    assert transformers.__version__ == TRANSFORMERS_PIN


def test_fw_list_does_not_import_llm():
    import json
    import pathlib
    import subprocess
    import sys

    man = json.loads(
        (pathlib.Path(__file__).parents[1] / 'framework/llm/manifest.json').read_text()
    )
    assert man['name'] == 'llm' and {c['name'] for c in man['components']} >= {
        'PydocText',
        'Perplexity',
        'DenseKVCache',
    }
    code = "import sys, framework.llm; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, '-c', code], check=True, cwd=pathlib.Path(__file__).parents[1])
