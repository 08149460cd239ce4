"""Measurements behind ``fw matryoshka_kv eval`` and ``bench``: held-out perplexity and KL to the
base model through the low-rank cache, live cache bytes, decode speed against the dense cache."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from framework.llm.cache import DenseKVCache
from framework.llm.data import encode, local_text, pydoc_text, python_version, token_windows
from framework.llm.evaluate import decode_speed

from .attention import set_mode, set_ranks
from .cache import LowRankKVCache
from .model import parse_ranks


def heldout_ids(model, text: str | None = None) -> torch.Tensor:
    """Token ids of the held-out text: pydoc topics 0-39, or local files (WikiText-2 test...)."""
    from framework.llm.models import load_tokenizer

    return encode(
        load_tokenizer(model.base_path), local_text(text) if text else pydoc_text('heldout')
    )


@torch.no_grad()
def measure(model, ranks, windows: torch.Tensor, batch_size: int = 4) -> list[dict]:
    """Perplexity and mean KL(base || compressed) per token over ``windows`` (N, T), computed
    through a ``LowRankKVCache``, for each rank specification in ``ranks`` (a list; the base
    model's logits are computed once per batch); live cache bytes per token of that cache."""
    lm = model.lm
    specs = [ranks] if isinstance(ranks, str) else list(ranks)
    parsed = [parse_ranks(r, model.L, model.g, model.d) for r in specs]
    dev = lm.get_input_embeddings().weight.device
    acc = [dict(nll=0.0, kl=0.0, live=[]) for _ in specs]
    base_nll, count, positions = 0.0, 0, 0
    for i in range(0, windows.shape[0], batch_size):
        ids = windows[i : i + batch_size].to(dev)
        tgt = ids[:, 1:, None]
        set_mode(lm, 'off')
        lt = F.log_softmax(lm(input_ids=ids, use_cache=False).logits.double(), -1)
        base_nll += float(-lt[:, :-1].gather(-1, tgt).sum())
        count += tgt.numel()
        positions += ids.numel()
        for a, (R_K, R_V) in zip(acc, parsed):
            set_ranks(lm, R_K, R_V)
            set_mode(lm, 'truncate')
            cache = LowRankKVCache.for_model(lm)
            ls = F.log_softmax(lm(input_ids=ids, cache=cache, use_cache=True).logits.double(), -1)
            a['live'].append(cache.bytes_per_token())
            a['nll'] += float(-ls[:, :-1].gather(-1, tgt).sum())
            a['kl'] += float((lt.exp() * (lt - ls)).sum())
    dense = DenseKVCache.expected_bytes_per_token(lm)
    out = []
    for spec, a, (R_K, R_V) in zip(specs, acc, parsed):
        set_ranks(lm, R_K, R_V)
        set_mode(lm, 'truncate')
        cbpt = sum(a['live']) / len(a['live'])
        out.append(
            dict(
                ranks=spec,
                perplexity=math.exp(a['nll'] / count),
                base_perplexity=math.exp(base_nll / count),
                kl=a['kl'] / positions,
                cache_bytes_per_token=cbpt,
                cache_bytes_per_token_formula=LowRankKVCache.expected_bytes_per_token(lm),
                dense_cache_bytes_per_token=dense,
                kept_fraction=cbpt / dense,
                compression_ratio=1 - cbpt / dense,
                windows=int(windows.shape[0]),
                window_len=int(windows.shape[1]),
                python=python_version(),
            )
        )
    return out


@torch.no_grad()
def decode_bench(
    model, ranks, context: torch.Tensor, new_tokens: int = 16, repeats: int = 3
) -> dict:
    """Greedy decode tokens/s after a prefill of ``context`` (1, T): the low-rank cache at
    ``ranks`` and the dense cache (attention mode ``off``), timed in alternation, best of
    ``repeats`` each; live bytes per token of both caches."""
    lm = model.lm
    R_K, R_V = parse_ranks(ranks, model.L, model.g, model.d)
    best = {}
    for _ in range(repeats):
        for name in ('dense', 'low_rank'):
            if name == 'dense':
                set_mode(lm, 'off')
                res = decode_speed(lm, context, new_tokens, DenseKVCache.for_model)
            else:
                set_ranks(lm, R_K, R_V)
                set_mode(lm, 'truncate')
                res = decode_speed(lm, context, new_tokens, LowRankKVCache.for_model)
            if name not in best or res['decode_tokens_per_s'] > best[name]['decode_tokens_per_s']:
                best[name] = res
    out = dict(
        context=int(context.shape[1]),
        new_tokens=new_tokens,
        repeats=repeats,
        threads=torch.get_num_threads(),
    )
    for name, res in best.items():
        out[f'{name}_tokens_per_s'] = round(res['decode_tokens_per_s'], 3)
        out[f'{name}_cache_bytes_per_token'] = res['cache_bytes_per_token']
    out['speed_ratio'] = round(out['low_rank_tokens_per_s'] / out['dense_tokens_per_s'], 3)
    out['bytes_ratio'] = out['low_rank_cache_bytes_per_token'] / out['dense_cache_bytes_per_token']
    return out


@torch.no_grad()
def greedy_generate(model, prompt: str, ranks, max_new_tokens: int = 24) -> tuple[str, float]:
    """Chat-template greedy answer through ``model.generate`` with the low-rank cache; returns
    (text, live cache bytes per token)."""
    from framework.llm.models import load_tokenizer

    tok = load_tokenizer(model.base_path)
    lm = model.lm
    set_ranks(lm, *parse_ranks(ranks, model.L, model.g, model.d))
    set_mode(lm, 'truncate')
    msgs = [{'role': 'user', 'content': prompt}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors='pt')
    if not isinstance(ids, torch.Tensor):
        ids = ids['input_ids']
    cache = LowRankKVCache.for_model(lm)
    out = lm.generate(
        ids,
        cache=cache,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
    )
    return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True), cache.bytes_per_token()


def heldout_windows(model, windows: int | None, window_len: int, text: str | None = None):
    return token_windows(heldout_ids(model, text), window_len, windows)
