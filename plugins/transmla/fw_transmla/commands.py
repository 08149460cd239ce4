"""``fw transmla convert`` and ``fw transmla eval`` (each prints one JSON line)."""
from __future__ import annotations

import json
import sys
import time

import click


def _log(msg):
    click.echo(msg, err=True)


@click.command("convert")
@click.argument("model")
@click.argument("out")
@click.option("--exact", is_flag=True, help="stage A only: lossless rewrite, cache unchanged")
@click.option("--kv-rank", type=int, default=None, help="latent rank r_kv (stages A-D)")
@click.option("--rope-dim", type=int, default=None, help="d_R, shared RoPE key width (default head_dim/2)")
@click.option("--freqfold", default="auto", show_default=True, help="FreqFold M, or 'auto' (search)")
@click.option("--calib-tokens", type=int, default=8192, show_default=True, help="calibration tokens (windows of 256)")
@click.option("--calib-text", default=None, help="local text for calibration (default: pydoc train split)")
@click.option("--rotation", type=click.Choice(["rorope", "none", "norm"]), default="rorope", show_default=True)
@click.option("--no-balance-kv", is_flag=True, help="disable balanced K/V scaling before the joint PCA")
@click.option("--dtype", type=click.Choice(["float32", "float64", "bfloat16"]), default="float32", show_default=True)
@click.option("--threads", type=int, default=None, help="torch threads (default: torch's)")
def convert(model, out, exact, kv_rank, rope_dim, freqfold, calib_tokens, calib_text, rotation, no_balance_kv, dtype,
            threads):
    """Convert MODEL (HF directory, .gguf, 'smollm2') and save it to OUT."""
    from framework.errors import FwError

    if exact == (kv_rank is not None):
        raise FwError("give exactly one of --exact or --kv-rank R")
    import torch

    from .convert import save_converted
    from .model import build_converted

    if threads:
        torch.set_num_threads(threads)
    t0 = time.time()
    lm, tok, info = build_converted(model=model, exact=exact, kv_rank=kv_rank, rope_dim=rope_dim,
                                    freqfold=freqfold if freqfold == "auto" else int(freqfold), rotation=rotation,
                                    balance_kv=not no_balance_kv, calib_windows=max(calib_tokens // 256, 1),
                                    calib_text=calib_text, dtype=dtype, log=_log)
    save_converted(lm, out, tok, extra=dict(base=str(model)))
    from .cache import LatentKVCache
    from framework.llm.cache import DenseKVCache

    dense = DenseKVCache.expected_bytes_per_token(lm)
    cbpt = LatentKVCache.expected_bytes_per_token(lm)
    click.echo(json.dumps(dict(model=str(model), out=str(out), **{k: v for k, v in info.items()},
                               cache_bytes_per_token=cbpt, dense_cache_bytes_per_token=dense,
                               kept_fraction=cbpt / dense, compression_ratio=1 - cbpt / dense, dtype=dtype,
                               device="cpu", seconds=round(time.time() - t0, 1))))


@click.command("eval")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="print only the JSON line")
@click.option("--windows", type=int, default=16, show_default=True, help="held-out windows (0 = all)")
@click.option("--window-len", type=int, default=256, show_default=True)
@click.option("--contexts", default="512", show_default=True, help="decode contexts, comma list (e.g. 512,2048)")
@click.option("--new-tokens", type=int, default=16, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64", "bfloat16"]), default="float32", show_default=True)
@click.option("--threads", type=int, default=None)
def evaluate(model, as_json, windows, window_len, contexts, new_tokens, dtype, threads):
    """Held-out pydoc perplexity, cache bytes per token and decode tokens/s of MODEL."""
    from .bench import evaluate_model

    import torch

    if threads:
        torch.set_num_threads(threads)
    res = evaluate_model(model, windows=windows or None, window_len=window_len,
                         contexts=[int(c) for c in contexts.split(",") if c], new_tokens=new_tokens, dtype=dtype)
    if not as_json:
        for k, v in res.items():
            _log(f"{k:>24}: {v}")
    click.echo(json.dumps(res))
    sys.stdout.flush()
