"""Decode speed of the original model vs the converted (absorbed MLA) model, side by side in one
process: both caches are prefilled with the same context, then one-token decode steps are timed
in alternation (the order flips every repeat, so both see the same machine load). Behind the
``decode`` step of ``fw transmla bench``; ``profile_decode`` prints where a decode step spends
its time (torch.profiler)."""

from __future__ import annotations

import os
import statistics
import time

import torch

from framework.llm.cache import DenseKVCache, bytes_per_token

from .cache import LatentKVCache


def _cache(model):
    if getattr(model.config, 'transmla', None):
        return LatentKVCache.for_model(model)
    return DenseKVCache.for_model(model)


@torch.no_grad()
def _prefill(model, ids, threads, chunk: int = 1024):
    """Fill a fresh cache with ``ids`` (1, S) in chunks of ``chunk`` tokens (bounded attention
    memory at 8K); returns (cache, next token)."""
    decode_threads = torch.get_num_threads()
    torch.set_num_threads(threads or decode_threads)
    try:
        cache = _cache(model)
        for start in range(0, ids.shape[1], chunk):
            out = model(
                input_ids=ids[:, start : start + chunk],
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
    finally:
        torch.set_num_threads(decode_threads)
    return cache, out.logits[:, -1:].argmax(-1)


@torch.no_grad()
def _decode(model, cache, token, steps):
    t0 = time.perf_counter()
    for _ in range(steps):
        token = model(input_ids=token, cache=cache, use_cache=True).logits[:, -1:].argmax(-1)
    seconds = time.perf_counter() - t0
    cache.crop(-steps)  # back to the prefilled context for the next repeat
    return seconds


def decode_ratio(
    models: dict,
    ids: torch.Tensor,
    contexts=(2048, 8192),
    new_tokens: int = 16,
    repeats: int = 5,
    prefill_threads: int | None = None,
    emit=print,
):
    """``models``: {'original': m0, name: m1} (the first is the reference). For each context:
    prefill both, then ``repeats`` rounds of ``new_tokens`` greedy decode steps per model in
    alternating order; emits per model the median and best tokens/s and, for every other model,
    ``ratio_median`` / ``ratio_best`` = its tokens/s over the reference's (> 1: faster)."""
    names = list(models)
    rows = []
    for ctx in contexts:
        state = {n: _prefill(models[n], ids[:, :ctx], prefill_threads) for n in names}
        times = {n: [] for n in names}
        load_before = os.getloadavg()[0]
        for rep in range(repeats):
            for n in names if rep % 2 == 0 else names[::-1]:
                times[n].append(_decode(models[n], *state[n], new_tokens))
        load_after = os.getloadavg()[0]
        tps = {n: new_tokens / statistics.median(times[n]) for n in names}
        best = {n: new_tokens / min(times[n]) for n in names}
        for n in names:
            row = dict(
                event='decode',
                name=n,
                context=ctx,
                new_tokens=new_tokens,
                repeats=repeats,
                threads=torch.get_num_threads(),
                tokens_per_s_median=round(tps[n], 3),
                tokens_per_s_best=round(best[n], 3),
                cache_bytes_per_token=bytes_per_token(state[n][0]),
                load_average=[round(load_before, 2), round(load_after, 2)],
            )
            if n != names[0]:
                row['ratio_median'] = round(tps[n] / tps[names[0]], 3)
                row['ratio_best'] = round(best[n] / best[names[0]], 3)
            emit(**row)
            rows.append(row)
        del state
    return rows


def profile_decode(model, ids, context: int, steps: int = 8, prefill_threads=None, rows=15):
    """torch.profiler table (self CPU time) of ``steps`` decode steps after a ``context`` prefill."""
    from torch.profiler import ProfilerActivity, profile

    cache, token = _prefill(model, ids[:, :context], prefill_threads)
    _decode(model, cache, token, 2)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _decode(model, cache, token, steps)
    return prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=rows)
