"""Measurements shared by ``fw transmla eval`` and tools/bench/transmla_smollm2.py."""
from __future__ import annotations

import time

import torch

from framework.llm.cache import DenseKVCache
from framework.llm.data import encode, pydoc_text, python_version, token_windows
from framework.llm.evaluate import decode_speed, perplexity

from .cache import LatentKVCache


def cache_factory(model):
    """The model's own cache: ``LatentKVCache`` for converted models, ``DenseKVCache`` otherwise."""
    return LatentKVCache.for_model if getattr(model.config, "transmla", None) else DenseKVCache.for_model


def measure(model, tokenizer, windows: int | None = 16, window_len: int = 256, contexts=(512,), new_tokens=16,
            ppl: bool = True) -> dict:
    ids = encode(tokenizer, pydoc_text("heldout"))
    res = dict(python=python_version())
    if ppl:
        p = perplexity(model, token_windows(ids, window_len, windows))
        res.update(perplexity=p["ppl"], ppl_windows=p["windows"], ppl_window_len=p["window_len"])
    fac = cache_factory(model)
    itemsize = next(model.parameters()).element_size()
    res["cache_bytes_per_token_formula"] = (LatentKVCache.expected_bytes_per_token(model)
                                           if getattr(model.config, "transmla", None) else
                                           DenseKVCache.expected_bytes_per_token(model))
    res["dense_cache_bytes_per_token"] = 2 * model.config.num_hidden_layers * model.config.num_key_value_heads * \
        (getattr(model.config, "head_dim", None) or model.config.hidden_size // model.config.num_attention_heads) * \
        itemsize
    speeds = {}
    for ctx in contexts:
        s = decode_speed(model, ids[:ctx][None], new_tokens, fac)
        speeds[str(ctx)] = round(s["decode_tokens_per_s"], 3)
        res["cache_bytes_per_token"] = s["cache_bytes_per_token"]  # live, from the cache object
    if contexts:
        res["decode_tokens_per_s"] = speeds[str(contexts[0])]
        res["decode_tokens_per_s_by_context"] = speeds
    else:
        res["cache_bytes_per_token"] = res["cache_bytes_per_token_formula"]
    res["kept_fraction"] = res["cache_bytes_per_token"] / res["dense_cache_bytes_per_token"]
    res["compression_ratio"] = 1 - res["kept_fraction"]
    return res


def evaluate_model(path, windows=16, window_len=256, contexts=(512,), new_tokens=16, dtype="float32") -> dict:
    from .model import _DTYPES
    from .convert import load_any

    t0 = time.time()
    model, tok = load_any(path, _DTYPES[dtype])
    if tok is None:
        from framework.llm.models import load_tokenizer

        tok = load_tokenizer("smollm2")
    res = dict(model=str(path), method=dict(getattr(model.config, "transmla", {}) or {"stage": "original"}))
    res["method"].pop("freqs", None)
    res["method"].pop("alphas", None)
    res.update(measure(model, tok, windows, window_len, contexts, new_tokens))
    res.update(dtype=dtype, device="cpu", threads=torch.get_num_threads(), seconds=round(time.time() - t0, 1))
    return res
