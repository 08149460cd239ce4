"""Attention replacement contract and RoPE helpers (HF half layout)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.llama.modeling_llama import eager_attention_forward


def attention_fn(config) -> Callable:
    """The model's attention function: ``fn(module, q, k, v, mask, dropout=, scaling=, **kw)``."""
    impl = config._attn_implementation
    if impl in (None, 'eager'):
        return eager_attention_forward
    return ALL_ATTENTION_FUNCTIONS[impl]


def replace_attention(model, factory: Callable[[nn.Module, int], nn.Module]):
    """Replace every ``layers[i].self_attn`` by ``factory(old_module, i)``; the old module is kept
    as ``new.base`` unless the factory set it already (so ``restore_attention`` can undo)."""
    for i, layer in enumerate(model.model.layers):
        old = layer.self_attn
        new = factory(old, i)
        if new is not old and not hasattr(new, 'base'):
            object.__setattr__(new, 'base', old)  # not a submodule: no duplicate parameters
        layer.self_attn = new
    return model


def restore_attention(model):
    for layer in model.model.layers:
        base = getattr(layer.self_attn, 'base', None)
        if base is not None:
            layer.self_attn = base
    return model


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """HF half-layout RoPE; ``x`` (B,H,T,F), cos/sin (B,T,F) broadcast over heads."""
    return x * cos.unsqueeze(1) + rotate_half(x) * sin.unsqueeze(1)


def rope_subset(cos: torch.Tensor, sin: torch.Tensor, idx) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin for a subset of frequency indices, half layout: ``c = cos[..., :d//2][..., idx]``,
    ``cat(c, c)``."""
    h = cos.shape[-1] // 2
    idx = torch.as_tensor(idx, dtype=torch.long, device=cos.device)
    c = cos[..., :h].index_select(-1, idx)
    s = sin[..., :h].index_select(-1, idx)
    return torch.cat((c, c), -1), torch.cat((s, s), -1)


def half_to_interleaved(n: int) -> torch.Tensor:
    """Permutation p with ``x_interleaved = x_half[..., p]``: pairs (l, l+n/2) -> (2l, 2l+1)."""
    h = n // 2
    return torch.stack((torch.arange(h), torch.arange(h) + h), -1).reshape(-1)


def apply_rope_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on the interleaved layout (pairs (2l, 2l+1)); cos/sin given in half layout."""
    h = x.shape[-1] // 2
    c = cos[..., :h].repeat_interleave(2, -1).unsqueeze(1)
    s = sin[..., :h].repeat_interleave(2, -1).unsqueeze(1)
    x2 = torch.stack((-x[..., 1::2], x[..., 0::2]), -1).reshape(x.shape)
    return x * c + x2 * s
