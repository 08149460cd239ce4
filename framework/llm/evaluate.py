"""Perplexity, KL and decode speed, plus the mmengine metrics
``llm.Perplexity`` and ``llm.CacheBytes``."""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

try:
    from mmengine.evaluator import BaseMetric
except ImportError:  # mmengine is optional for the pure evaluation helpers
    BaseMetric = object


def _device(model):
    return next(model.parameters()).device


@torch.no_grad()
def window_nll(model, ids: torch.Tensor) -> tuple[float, int]:
    """Summed next-token NLL (float64) and count over a (B, L) batch."""
    ids = ids.to(_device(model))
    logits = model(input_ids=ids, use_cache=False).logits
    lp = F.log_softmax(logits[:, :-1].double(), -1)
    nll = -lp.gather(-1, ids[:, 1:, None]).sum()
    return float(nll), ids[:, 1:].numel()


@torch.no_grad()
def perplexity(model, windows: torch.Tensor, batch_size: int = 4) -> dict:
    """exp(mean NLL over all predicted positions of all windows)."""
    was = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, windows.shape[0], batch_size):
        s, n = window_nll(model, windows[i : i + batch_size])
        total, count = total + s, count + n
    model.train(was)
    return dict(
        ppl=math.exp(total / count),
        nll=total / count,
        tokens=count,
        windows=int(windows.shape[0]),
        window_len=int(windows.shape[1]),
    )


@torch.no_grad()
def kl_divergence(teacher, student, windows: torch.Tensor, batch_size: int = 4) -> float:
    """Mean over positions of KL(teacher || student), summed over the vocabulary."""
    total, count = 0.0, 0
    for i in range(0, windows.shape[0], batch_size):
        w = windows[i : i + batch_size].to(_device(student))
        lt = F.log_softmax(teacher(input_ids=w, use_cache=False).logits.double(), -1)
        ls = F.log_softmax(student(input_ids=w, use_cache=False).logits.double(), -1)
        total += float((lt.exp() * (lt - ls)).sum())
        count += w.numel()
    return total / count


@torch.no_grad()
def decode_speed(
    model, context: torch.Tensor, new_tokens: int = 32, cache_factory=None, repeats: int = 1
) -> dict:
    """Greedy decoding after a prefill of ``context`` (B, T): tokens/s of the decode steps only,
    and the live cache's bytes/token at the end. ``cache_factory(model)`` builds the cache."""
    from transformers.cache_utils import DynamicCache

    from framework.llm.cache import bytes_per_token, cache_nbytes

    factory = cache_factory or (lambda m: DynamicCache(config=m.config))
    context = context.to(_device(model))
    sync = torch.cuda.synchronize if context.is_cuda else (lambda: None)
    best = None
    for _ in range(repeats):
        cache = factory(model)
        out = model(input_ids=context, cache=cache, use_cache=True)
        nxt = out.logits[:, -1:].argmax(-1)
        sync()
        t0 = time.perf_counter()
        for _ in range(new_tokens):
            out = model(input_ids=nxt, cache=cache, use_cache=True)
            nxt = out.logits[:, -1:].argmax(-1)
        sync()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return dict(
        decode_tokens_per_s=context.shape[0] * new_tokens / best,
        context=int(context.shape[1]),
        new_tokens=new_tokens,
        cache_bytes_per_token=bytes_per_token(cache),
        cache_nbytes=cache_nbytes(cache),
    )


class Perplexity(BaseMetric):
    """``llm.Perplexity``: accumulates the summed NLL/count that ``LMModel.forward(mode='predict')``
    returns per batch."""

    default_prefix = 'llm'

    def process(self, data_batch, data_samples):
        for s in data_samples:
            self.results.append((float(s['nll_sum']), int(s['count'])))

    def compute_metrics(self, results):
        total = sum(r[0] for r in results)
        count = sum(r[1] for r in results)
        return dict(ppl=math.exp(total / max(count, 1)), nll=total / max(count, 1))


class CacheBytes(BaseMetric):
    """``llm.CacheBytes``: averages the ``cache_bytes_per_token`` reported by the model's predict step."""

    default_prefix = 'llm'

    def process(self, data_batch, data_samples):
        for s in data_samples:
            if 'cache_bytes_per_token' in s:
                self.results.append(float(s['cache_bytes_per_token']))

    def compute_metrics(self, results):
        return dict(cache_bytes_per_token=sum(results) / max(len(results), 1))
