"""Attention modules of the converted model (stages A and D of the paper).

``StageAAttention``: the exact GQA -> MLA rewrite (v1 claim): one cached head of width g*d for the
post-RoPE latent key and one for the latent value; query head i reads block j(i).
``MLAAttention``: absorbed MLA: the cache holds only c_KV (r_kv) and the shared post-RoPE key
k_rope (d_R); q_nope is absorbed through ``w_uk`` and the output through ``w_uv``."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import nn

from framework import FwError
from framework.llm.attention import apply_rope, attention_fn, rope_subset


def group_selector(h: int, g: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """(h, g) one-hot: query head i -> KV head j(i) = i // (h/g) (HF repeat_kv order)."""
    return nn.functional.one_hot(torch.arange(h, device=device) // (h // g), g).to(dtype)


def head_dims(config) -> tuple[int, int, int]:
    h, g = config.num_attention_heads, config.num_key_value_heads
    d = getattr(config, 'head_dim', None) or config.hidden_size // h
    return h, g, d


_ROPE_MEMO: dict = {}


def shared_rope_subset(cos, sin, freqs):
    """``rope_subset`` computed once per forward pass for all layers with the same frequency list
    (RoRoPE's list is the same in every layer): the memo holds the cos/sin tensors themselves
    and is used only while the model passes those same objects."""
    hit = _ROPE_MEMO.get('last')
    if hit is not None and hit[0] is cos and hit[1] is sin and torch.equal(hit[2], freqs):
        return hit[3]
    out = rope_subset(cos, sin, freqs)
    _ROPE_MEMO['last'] = (cos, sin, freqs, out)
    return out


def latent_decode_attention(q_lat, q_rope, c, k_r, attention_mask, scaling):
    """Absorbed attention for one new token: the h query heads are rows of ONE matrix product
    against the single cached latent head (B,1,S,.), so the cache is read once per step and never
    expanded to h heads or concatenated. score = q_lat c^T + q_rope k_r^T (times ``scaling``),
    out = softmax(score) c. q_lat (B,h,1,r), q_rope (B,h,1,d_R); returns ((B,1,h,r), None)."""
    B, h, T, r = q_lat.shape
    S = c.shape[-2]
    cT = c[:, 0].transpose(1, 2)  # (B,r,S), a view
    s = torch.baddbmm(
        torch.bmm(q_rope.reshape(B, h * T, -1), k_r[:, 0].transpose(1, 2)),
        q_lat.reshape(B, h * T, r),
        cT,
    ).view(B, h, T, S)
    s = s * scaling
    if attention_mask is not None:
        m = attention_mask[..., :S]
        s = s.masked_fill(~m, float('-inf')) if m.dtype == torch.bool else s + m
    low = s.dtype in (torch.float16, torch.bfloat16)
    p = torch.softmax(s, -1, dtype=torch.float32 if low else None).to(c.dtype)
    o = torch.bmm(p.view(B, h * T, S), c[:, 0])  # (B,h*T,r)
    return o.view(B, h, T, r).transpose(1, 2), None


class StageAAttention(nn.Module):
    """Exact rewrite with the GQA cache size: score_i = S_i RoPE(q_i) . RoPE_blk(c_K) * d^-0.5."""

    cache_mode = 'stage_a'

    def __init__(self, base: nn.Module):
        super().__init__()
        self.config, self.layer_idx = base.config, base.layer_idx
        self.h, self.g, self.d = head_dims(self.config)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
            base.q_proj,
            base.k_proj,
            base.v_proj,
            base.o_proj,
        )
        self.num_key_value_groups = self.h  # one cached head
        self.scaling = self.d**-0.5
        self.is_causal = True
        self.attention_dropout = 0.0
        self.cache_key_dim = self.cache_value_dim = self.g * self.d
        self.register_buffer('sel', group_selector(self.h, self.g), persistent=False)

    def forward(
        self, hidden_states, position_embeddings=None, attention_mask=None, cache=None, **kwargs
    ):
        B, T, _ = hidden_states.shape
        h, g, d = self.h, self.g, self.d
        cos, sin = position_embeddings
        q = apply_rope(self.q_proj(hidden_states).view(B, T, h, d).transpose(1, 2), cos, sin)
        k = apply_rope(self.k_proj(hidden_states).view(B, T, g, d).transpose(1, 2), cos, sin)
        k = k.transpose(1, 2).reshape(B, T, g * d).unsqueeze(1)  # (B,1,T,g*d): blockwise-RoPE'd c_K
        v = self.v_proj(hidden_states).unsqueeze(1)  # (B,1,T,g*d)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)
        sel = self.sel.to(q.dtype)
        qhat = torch.einsum('bhtd,hg->bhtgd', q, sel).reshape(B, h, T, g * d)  # S_i RoPE(q_i)
        o, w = attention_fn(self.config)(
            self, qhat, k, v, attention_mask, dropout=0.0, scaling=self.scaling, **kwargs
        )
        o = torch.einsum('bthgd,hg->bthd', o.reshape(B, T, h, g, d), sel)  # S_i^T
        return self.o_proj(o.reshape(B, T, h * d)), w


class MLAAttention(nn.Module):
    """Absorbed MLA (stages B-D). Parameters: q_proj (h*(d+d_R) x D, per head [W_q_i ; W_qR_i]),
    kv_a (r_kv x D), k_rope (d_R x D), w_uk (h, r_kv, d), w_uv (h, d, r_kv), o_proj (original).
    ``freqs``: the d_R/2 RoPE frequency indices of the kept components (half layout)."""

    cache_mode = 'mla'
    fast_decode = True  # one-token steps through latent_decode_attention (False: the generic path)

    def __init__(
        self,
        config,
        layer_idx: int,
        kv_rank: int,
        rope_dim: int,
        freqs,
        bias: bool,
        o_proj: nn.Module,
        absorb: bool = True,
        dtype=None,
    ):
        super().__init__()
        self.config, self.layer_idx = config, layer_idx
        self.h, self.g, self.d = head_dims(config)
        self.kv_rank, self.rope_dim, self.absorb = kv_rank, rope_dim, absorb
        D, h, d = config.hidden_size, self.h, self.d
        if len(freqs) * 2 != rope_dim:
            raise FwError(f'{len(freqs)} RoPE frequencies given for rope_dim={rope_dim}')
        dt = dtype or o_proj.weight.dtype
        self.q_proj = nn.Linear(D, h * (d + rope_dim), bias=bias, dtype=dt)
        self.kv_a = nn.Linear(D, kv_rank, bias=bias, dtype=dt)
        self.k_rope = nn.Linear(D, rope_dim, bias=bias, dtype=dt)
        self.w_uk = nn.Parameter(torch.zeros(h, kv_rank, d, dtype=dt))
        self.w_uv = nn.Parameter(torch.zeros(h, d, kv_rank, dtype=dt))
        self.o_proj = o_proj
        self.register_buffer(
            'freqs', torch.as_tensor(list(freqs), dtype=torch.long), persistent=False
        )
        self.num_key_value_groups = h  # one cached "head": cat(c_KV, k_rope)
        self.scaling = d**-0.5
        self.is_causal = True
        self.attention_dropout = 0.0
        self.cache_key_dim, self.cache_value_dim = rope_dim, kv_rank

    def forward(
        self, hidden_states, position_embeddings=None, attention_mask=None, cache=None, **kwargs
    ):
        B, T, _ = hidden_states.shape
        h, d, dr = self.h, self.d, self.rope_dim
        q = self.q_proj(hidden_states).view(B, T, h, d + dr).transpose(1, 2)
        q_nope, q_rope = q.split([d, dr], -1)
        c = self.kv_a(hidden_states).unsqueeze(1)  # (B,1,T,r)
        k_r = self.k_rope(hidden_states).unsqueeze(1)  # (B,1,T,d_R)
        cos, sin = shared_rope_subset(*position_embeddings, self.freqs)
        q_rope, k_r = apply_rope(q_rope, cos, sin), apply_rope(k_r, cos, sin)
        fn = attention_fn(self.config)
        if self.absorb:
            if cache is not None:
                k_r, c = cache.update(k_r, c, self.layer_idx)
            q_lat = torch.matmul(q_nope, self.w_uk.transpose(1, 2))  # (B,h,T,r) = W_UK_i q_nope_i
            if T == 1 and self.fast_decode:  # decode: every head reads the one latent head
                o, w = latent_decode_attention(q_lat, q_rope, c, k_r, attention_mask, self.scaling)
            else:
                Q = torch.cat((q_lat, q_rope), -1)
                K = torch.cat((c, k_r), -1)
                o, w = fn(
                    self, Q, K, c, attention_mask, dropout=0.0, scaling=self.scaling, **kwargs
                )  # (B,T,h,r)
            o = torch.matmul(o.transpose(1, 2), self.w_uv.transpose(1, 2)).transpose(1, 2)
        else:  # DeepSeek layout reference: per-head keys/values (a plain DynamicCache holds them)
            k_nope = torch.einsum('bsr,hrd->bhsd', c[:, 0], self.w_uk)
            v = torch.einsum('bsr,hdr->bhsd', c[:, 0], self.w_uv)
            k = torch.cat((k_nope, k_r.expand(B, h, T, dr)), -1)
            qq = torch.cat((q_nope, q_rope), -1) * math.sqrt((d + dr) / d)
            if cache is not None:
                k, v = cache.update(k, v, self.layer_idx)
            shim = SimpleNamespace(num_key_value_groups=1, is_causal=True, training=self.training)
            o, w = fn(
                shim, qq, k, v, attention_mask, dropout=0.0, scaling=(d + dr) ** -0.5, **kwargs
            )
        return self.o_proj(o.reshape(B, T, h * d)), w
