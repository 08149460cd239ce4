"""MatryoshkaKV attention (paper Sec. 3.1-3.3, Eq. 4-6): per layer and KV head, orthogonal bases
``U_K``, ``U_V`` (Cayley-parametrised) and means ``mu_K``, ``mu_V``.

For KV head j, with d = head_dim and ranks r_K, r_V (nested: rank r uses the first r columns):

* cached key coefficients ``kappa = U_K[:, :r_K]^T (k - mu_K)`` with k the post-RoPE key;
* cached value coefficients ``nu = U_V[:, :r_V]^T (v - mu_V)``;
* query head i of the group: ``q~ = U_K[:, :r_K]^T q`` (post-RoPE), score ``q~ . kappa * d^-0.5``;
  the term ``q . mu_K`` is the same for every key of a row, so softmax drops it;
* output ``o_i = U_V[:, :r_V] sum_s a_is nu_s + mu_V`` (the weights sum to 1), then ``o_proj``.
  At inference ``U_V`` and ``mu_V`` fold into ``o_proj`` (per head ``W_o,i U_V``, bias
  ``sum_i W_o,i mu_V``). The key projection cannot fold into ``k_proj``/``q_proj``: it mixes RoPE
  frequencies and sits after RoPE.

At r_K = r_V = d the module equals the base attention exactly for any U and mu.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from framework.llm.attention import attention_fn

from .cayley import cayley

MODES = ('off', 'mask', 'truncate')


def head_dims(config) -> tuple[int, int, int]:
    """(query heads h, KV heads g, head_dim d) of a HF config."""
    h, g = config.num_attention_heads, config.num_key_value_heads
    d = getattr(config, 'head_dim', None) or config.hidden_size // h
    return h, g, d


class KVProjection(nn.Module):
    """The trainable part of one layer: ``X_K``, ``X_V`` (g, d, d) float32 (``U = Cayley(X)``),
    ``mu_K``, ``mu_V`` (g, d), and the current ranks ``r_K``, ``r_V`` (LongTensor (g,), buffers).

    Args: num_kv_heads (g), head_dim (d). Starts at U = I, mu = 0, full rank."""

    def __init__(self, num_kv_heads: int, head_dim: int):
        super().__init__()
        g, d = num_kv_heads, head_dim
        self.g, self.d = g, d
        self.X_K = nn.Parameter(torch.zeros(g, d, d))
        self.X_V = nn.Parameter(torch.zeros(g, d, d))
        self.mu_K = nn.Parameter(torch.zeros(g, d))
        self.mu_V = nn.Parameter(torch.zeros(g, d))
        self.register_buffer('r_K', torch.full((g,), d, dtype=torch.long))
        self.register_buffer('r_V', torch.full((g,), d, dtype=torch.long))

    def bases(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(U_K, U_V), each (g, d, d), orthogonal."""
        return cayley(self.X_K), cayley(self.X_V)

    def set_ranks(self, r_K, r_V) -> None:
        r_K = torch.as_tensor(r_K, dtype=torch.long).reshape(-1).expand(self.g)
        r_V = torch.as_tensor(r_V, dtype=torch.long).reshape(-1).expand(self.g)
        for name, r in (('r_K', r_K), ('r_V', r_V)):
            if int(r.min()) < 1 or int(r.max()) > self.d:
                raise ValueError(f'{name} = {r.tolist()}: ranks must lie in [1, {self.d}]')
        self.r_K.copy_(r_K)
        self.r_V.copy_(r_V)

    def prefix_mask(self, ranks: torch.Tensor, width: int, dtype) -> torch.Tensor:
        """(g, width) 0/1 mask keeping the first r_j coefficients of head j."""
        idx = torch.arange(width, device=ranks.device)
        return (idx[None, :] < ranks[:, None]).to(dtype)


class MKVAttention(nn.Module):
    """Replaces a Llama/Qwen2/Mistral ``self_attn``: keeps the base ``q/k/v/o_proj`` (frozen) and
    owns a :class:`KVProjection`. Modes: ``off`` (exact base attention, the teacher), ``mask``
    (training: full projection times a 0/1 prefix mask per head), ``truncate`` (inference: the
    cache holds r-dim coefficients; heterogeneous ranks are packed per layer).

    Args: base (the original attention module), proj (its KVProjection), mode."""

    def __init__(self, base: nn.Module, proj: KVProjection, mode: str = 'off'):
        super().__init__()
        self.config, self.layer_idx = base.config, base.layer_idx
        self.h, self.g, self.d = head_dims(self.config)
        self.n_rep = self.h // self.g
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
            base.q_proj,
            base.k_proj,
            base.v_proj,
            base.o_proj,
        )
        self.proj = proj
        self.num_key_value_groups = self.n_rep
        self.scaling = self.d**-0.5  # stays d^-0.5 after truncation
        self.is_causal = True
        self.attention_dropout = 0.0
        self.fold_output = True
        self._prepared = None
        self.mode = mode

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f'MKVAttention mode {value!r}: choose one of {MODES}')
        self._mode = value

    # -- cache layout -------------------------------------------------------------------------
    def cache_shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(heads, features) of the cached keys and values in the current mode and ranks:
        ``(g, r)`` for uniform ranks, ``(1, sum_j r_j)`` packed for heterogeneous ranks."""
        if self.mode != 'truncate':
            return (self.g, self.d), (self.g, self.d)
        out = []
        for r in (self.proj.r_K, self.proj.r_V):
            out.append((self.g, int(r[0])) if bool((r == r[0]).all()) else (1, int(r.sum())))
        return out[0], out[1]

    def _pack(self, x: torch.Tensor, ranks: list[int]) -> torch.Tensor:
        """(B, g, T, r_max) -> (B, 1, T, sum_j r_j), head j's first r_j coefficients contiguous."""
        return torch.cat([x[:, j, :, :r] for j, r in enumerate(ranks)], -1).unsqueeze(1)

    def _unpack(self, x: torch.Tensor, ranks: list[int], width: int) -> torch.Tensor:
        """(B, 1, S, sum_j r_j) -> (B, g, S, r_max), zero-padded (padding adds nothing)."""
        parts = torch.split(x[:, 0], ranks, -1)
        return torch.stack([nn.functional.pad(p, (0, width - p.shape[-1])) for p in parts], 1)

    # -- inference tensors (recomputed whenever a parameter or rank changes) --------------------
    def _inference_tensors(self, dtype, device) -> dict:
        p = self.proj
        key = (
            dtype,
            device,
            p.X_K._version,
            p.X_V._version,
            p.mu_K._version,
            p.mu_V._version,
            p.r_K._version,
            p.r_V._version,
            id(p.X_K),
            self.o_proj.weight._version,
            self.fold_output,
        )
        if self._prepared is not None and self._prepared['key'] == key:
            return self._prepared
        U_K, U_V = p.bases()
        rK, rV = p.r_K.tolist(), p.r_V.tolist()
        wK, wV = max(rK), max(rV)
        t = dict(
            key=key,
            rK=rK,
            rV=rV,
            wK=wK,
            wV=wV,
            U_K=U_K[:, :, :wK].to(dtype),
            U_V=U_V[:, :, :wV].to(dtype),
            mu_K=p.mu_K.to(dtype),
            mu_V=p.mu_V.to(dtype),
            mask_K=p.prefix_mask(p.r_K, wK, dtype),
            mask_V=p.prefix_mask(p.r_V, wV, dtype),
            uniform_K=len(set(rK)) == 1,
            uniform_V=len(set(rV)) == 1,
        )
        if self.fold_output:
            W = self.o_proj.weight.view(-1, self.h, self.d)  # (D, h, d)
            U_rep = t['U_V'].repeat_interleave(self.n_rep, 0)  # (h, d, wV)
            mu_rep = t['mu_V'].repeat_interleave(self.n_rep, 0)  # (h, d)
            t['W_fold'] = torch.einsum('Dhd,hdr->Dhr', W.to(dtype), U_rep).reshape(W.shape[0], -1)
            b = torch.einsum('Dhd,hd->D', W.to(dtype), mu_rep)
            if self.o_proj.bias is not None:
                b = b + self.o_proj.bias.to(dtype)
            t['b_fold'] = b
        if not torch.is_grad_enabled():
            self._prepared = t
        return t

    def train(self, mode: bool = True):
        self._prepared = None
        return super().train(mode)

    # -- forward --------------------------------------------------------------------------------
    def forward(
        self, hidden_states, position_embeddings=None, attention_mask=None, cache=None, **kwargs
    ):
        B, T, _ = hidden_states.shape
        h, g, d = self.h, self.g, self.d
        q = self.q_proj(hidden_states).view(B, T, h, d).transpose(1, 2)
        k = self.k_proj(hidden_states).view(B, T, g, d).transpose(1, 2)
        v = self.v_proj(hidden_states).view(B, T, g, d).transpose(1, 2)
        cos, sin = position_embeddings
        q, k = apply_rotary_pos_emb(q, k, cos, sin)  # keys are projected after RoPE
        fn = attention_fn(self.config)
        kwargs.pop('use_cache', None)
        kwargs.pop('position_ids', None)
        if self.mode == 'off':
            if cache is not None:
                k, v = cache.update(k, v, self.layer_idx)
            o, w = fn(self, q, k, v, attention_mask, dropout=0.0, scaling=self.scaling, **kwargs)
            return self.o_proj(o.reshape(B, T, h * d)), w
        if self.mode == 'mask':
            return self._forward_mask(q, k, v, attention_mask, cache, fn, kwargs)
        return self._forward_truncate(q, k, v, attention_mask, cache, fn, kwargs)

    def _forward_mask(self, q, k, v, attention_mask, cache, fn, kwargs):
        """Training path: full d-dim coefficients times the prefix masks of the sampled ranks."""
        B, _, T, d = q.shape
        p, dt = self.proj, q.dtype
        U_K, U_V = (U.to(dt) for U in p.bases())
        m_K, m_V = p.prefix_mask(p.r_K, d, dt), p.prefix_mask(p.r_V, d, dt)
        kappa = ((k - p.mu_K.to(dt)[:, None]) @ U_K) * m_K[:, None]
        nu = ((v - p.mu_V.to(dt)[:, None]) @ U_V) * m_V[:, None]
        qt = (q.view(B, self.g, self.n_rep, T, d) @ U_K[:, None]).view(B, self.h, T, d)
        if cache is not None:
            kappa, nu = cache.update(kappa, nu, self.layer_idx)
        a, w = fn(self, qt, kappa, nu, attention_mask, dropout=0.0, scaling=self.scaling, **kwargs)
        a = a.reshape(B, T, self.g, self.n_rep, d)
        o = torch.einsum('btgnr,gdr->btgnd', a, U_V) + p.mu_V.to(dt)[:, None]
        return self.o_proj(o.reshape(B, T, self.h * d)), w

    def _forward_truncate(self, q, k, v, attention_mask, cache, fn, kwargs):
        """Inference path: r-dim coefficients in the cache (packed when ranks differ per head)."""
        B, _, T, d = q.shape
        t = self._inference_tensors(q.dtype, q.device)
        kappa = ((k - t['mu_K'][:, None]) @ t['U_K']) * t['mask_K'][:, None]  # (B, g, T, wK)
        nu = ((v - t['mu_V'][:, None]) @ t['U_V']) * t['mask_V'][:, None]
        if cache is not None:
            ck = kappa if t['uniform_K'] else self._pack(kappa, t['rK'])
            cv = nu if t['uniform_V'] else self._pack(nu, t['rV'])
            ck, cv = cache.update(ck, cv, self.layer_idx)
            kappa = ck if t['uniform_K'] else self._unpack(ck, t['rK'], t['wK'])
            nu = cv if t['uniform_V'] else self._unpack(cv, t['rV'], t['wV'])
        qt = (q.view(B, self.g, self.n_rep, T, d) @ t['U_K'][:, None]).view(B, self.h, T, t['wK'])
        a, w = fn(self, qt, kappa, nu, attention_mask, dropout=0.0, scaling=self.scaling, **kwargs)
        if self.fold_output:  # o_proj with U_V and mu_V folded in
            return a.reshape(B, T, -1) @ t['W_fold'].T + t['b_fold'], w
        a = a.reshape(B, T, self.g, self.n_rep, t['wV'])
        o = torch.einsum('btgnr,gdr->btgnd', a, t['U_V']) + t['mu_V'][:, None]
        return self.o_proj(o.reshape(B, T, self.h * d)), w


def mkv_modules(lm) -> list[MKVAttention]:
    """The MKVAttention modules of a converted model, in layer order."""
    mods = [layer.self_attn for layer in lm.model.layers]
    if not all(isinstance(m, MKVAttention) for m in mods):
        raise ValueError('the model has no MatryoshkaKV attention (install_projections first)')
    return mods


def install_projections(lm, mode: str = 'off') -> nn.ModuleList:
    """Replace every ``self_attn`` of ``lm`` by :class:`MKVAttention` (U = I, mu = 0, full rank);
    returns the per-layer :class:`KVProjection` modules (the only trainable tensors)."""
    from framework.llm.attention import replace_attention

    _, g, d = head_dims(lm.config)
    projs = nn.ModuleList()

    def factory(old, i):
        proj = KVProjection(g, d).to(device=old.q_proj.weight.device)
        projs.append(proj)
        return MKVAttention(old, proj, mode)

    replace_attention(lm, factory)
    return projs


def set_mode(lm, mode: str) -> None:
    for m in mkv_modules(lm):
        m.mode = mode


def set_ranks(lm, R_K, R_V) -> None:
    """Ranks per layer and KV head: ``R_K``, ``R_V`` (L, g) (ints broadcast)."""
    mods = mkv_modules(lm)
    R_K = torch.as_tensor(R_K, dtype=torch.long).expand(len(mods), mods[0].g)
    R_V = torch.as_tensor(R_V, dtype=torch.long).expand(len(mods), mods[0].g)
    for i, m in enumerate(mods):
        m.proj.set_ranks(R_K[i], R_V[i])


def get_ranks(lm) -> tuple[torch.Tensor, torch.Tensor]:
    mods = mkv_modules(lm)
    return (
        torch.stack([m.proj.r_K for m in mods]).cpu(),
        torch.stack([m.proj.r_V for m in mods]).cpu(),
    )
