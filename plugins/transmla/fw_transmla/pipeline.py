"""Conversion driver: calibration windows, the FreqFold search (``--freqfold auto``), and the
stage A-D conversion with a JSON-able summary."""
from __future__ import annotations

import copy
import time

import torch

from framework.llm.data import encode, local_text, pydoc_text, token_windows
from framework.llm.evaluate import perplexity

from .attention import head_dims
from .calibrate import calibrate
from .convert import convert_mla
from .rorope import freqfold_candidates


def calibration_windows(tokenizer, n: int = 32, length: int = 256, text_path: str | None = None):
    """CPU default: n x length tokens of the pydoc ``train`` split; ``text_path``: local text
    (e.g. WikiText-2 train parquet) for real-scale runs."""
    text = local_text(text_path) if text_path else pydoc_text("train")
    return token_windows(encode(tokenizer, text), length, n)


def freqfold_search(model, stats, windows, rope_dim: int, rotation: str = "rorope", log=print):
    """Start at M = collapse, double while the stage-B calibration perplexity improves, stop at d/2.
    Returns (best M, curve {M: ppl})."""
    curve = {}
    best = None
    for M in freqfold_candidates(head_dims(model.config)[2], rope_dim):
        m = convert_mla(copy.deepcopy(model), stats, kv_rank=None, rope_dim=rope_dim, freqfold=M, rotation=rotation)
        curve[M] = perplexity(m, windows)["ppl"]
        log(f"freqfold M={M}: stage-B calibration ppl {curve[M]:.4f}")
        del m
        if best is not None and curve[M] >= curve[best]:
            break
        best = M
    return best, curve


def convert_with_search(model, calib, kv_rank, rope_dim=None, freqfold="auto", rotation="rorope",
                        balance_kv=True, balance_kv_ratio=1.0, search_windows: int = 8, stats=None, log=print):
    """Calibrate, pick M (``auto``), convert in place. Returns (model, info)."""
    t0 = time.time()
    h, g, d = head_dims(model.config)
    rope_dim = rope_dim or d // 2
    if stats is None:
        stats = calibrate(model, calib)
    curve = None
    if freqfold == "auto":
        freqfold, curve = freqfold_search(model, stats, calib[:search_windows], rope_dim, rotation, log)
    model = convert_mla(model, stats, kv_rank=kv_rank, rope_dim=rope_dim, freqfold=int(freqfold),
                        rotation=rotation, balance_kv=balance_kv, balance_kv_ratio=balance_kv_ratio)
    info = dict(stage="mla", kv_rank=kv_rank, rope_dim=rope_dim, freqfold=int(freqfold), rotation=rotation,
                balance_kv=balance_kv, calib_windows=int(calib.shape[0]), calib_len=int(calib.shape[1]),
                freqfold_curve=curve, convert_seconds=round(time.time() - t0, 1))
    model.config.transmla["freqfold_curve"] = curve
    return model, info


@torch.no_grad()
def greedy_chat(model, tokenizer, prompt: str = "What is the capital of France?", max_new_tokens: int = 24):
    from .cache import LatentKVCache

    msgs = [{"role": "user", "content": prompt}]
    ids = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt")
    if not isinstance(ids, torch.Tensor):
        ids = ids["input_ids"]
    kw = {}
    if getattr(model.config, "transmla", None):
        kw["cache"] = LatentKVCache.for_model(model)
    out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                         **kw)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
