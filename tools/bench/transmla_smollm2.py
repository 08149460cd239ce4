"""TransMLA on SmolLM2-135M-Instruct (CPU): held-out pydoc perplexity of the original, the exact
rewrite, partial RoPE (RoRoPE + FreqFold vs the two baselines), MLA at several ranks (no
training), and cache bytes/token + decode tokens/s at 512 and 2048 context, original vs MLA,
measured side by side in one process. Results go (one JSON object per line) to --out.

    nice -n 10 python tools/bench/transmla_smollm2.py --threads 1 --out work_dirs/transmla_bench.jsonl
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch

from framework.llm.data import encode, pydoc_text, python_version, token_windows
from framework.llm.evaluate import decode_speed, perplexity
from framework.llm.models import cache_dir, load_causal_lm, load_tokenizer
from fw_transmla.bench import cache_factory
from fw_transmla.calibrate import calibrate
from fw_transmla.convert import convert_exact, convert_mla, save_converted
from fw_transmla.pipeline import freqfold_search, greedy_chat

p = argparse.ArgumentParser()
p.add_argument("--out", default="work_dirs/transmla_bench.jsonl")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--heldout-windows", type=int, default=8)
p.add_argument("--window", type=int, default=256)
p.add_argument("--calib-windows", type=int, default=16)
p.add_argument("--search-windows", type=int, default=4)
p.add_argument("--ranks", default="352,192,128,96,64")
p.add_argument("--contexts", default="512,2048")
p.add_argument("--new-tokens", type=int, default=16)
p.add_argument("--steps", default="orig,exact,search,partial,mla,speed,chat,save")
p.add_argument("--freqfold", type=int, default=0, help="skip the search and use this M")
p.add_argument("--save-rank", type=int, default=96)
p.add_argument("--no-bkv-check", action="store_true", help="also measure r_kv=96 without BKV")
a = p.parse_args()
torch.set_num_threads(a.threads)
steps = set(a.steps.split(","))
out = Path(a.out)
out.parent.mkdir(parents=True, exist_ok=True)
T0 = time.time()


def emit(**kw):
    kw.update(t=round(time.time() - T0, 1))
    print(json.dumps(kw), flush=True)
    with open(out, "a") as f:
        f.write(json.dumps(kw) + "\n")


model = load_causal_lm("smollm2")
tok = load_tokenizer("smollm2")
held_ids = encode(tok, pydoc_text("heldout"))
held = token_windows(held_ids, a.window, a.heldout_windows)
calib = token_windows(encode(tok, pydoc_text("train")), a.window, a.calib_windows)
emit(event="setup", python=python_version(), torch=torch.__version__, threads=a.threads,
     heldout=list(held.shape), calib=list(calib.shape))


def ppl(m):
    return perplexity(m, held)["ppl"]


if "orig" in steps:
    emit(event="ppl", name="original", ppl=ppl(model))
if "exact" in steps:
    m = convert_exact(copy.deepcopy(model))
    x = held[:1, :128]
    with torch.no_grad():
        d = (m(input_ids=x).logits - model(input_ids=x).logits).abs().max().item()
    emit(event="exact", name="stage A (exact)", max_abs_logit_diff=d)
    del m

stats_file = cache_dir() / "transmla" / f"calib_smollm2_{a.calib_windows}x{a.window}.pt"
if stats_file.is_file():
    stats = torch.load(stats_file, weights_only=False)
else:
    stats = calibrate(model, calib)
    stats_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save(stats, stats_file)
emit(event="calibrated")

M = a.freqfold or 4
if "search" in steps and not a.freqfold:
    M, curve = freqfold_search(model, stats, calib[:a.search_windows], 32, log=lambda s: emit(event="log", msg=s))
    emit(event="freqfold_search", best=M, curve=curve)


def conv(**kw):
    return convert_mla(copy.deepcopy(model), stats, **kw)


if "save" in steps:
    m = conv(kv_rank=a.save_rank, rope_dim=32, freqfold=M)
    d = save_converted(m, cache_dir() / "transmla" / f"smollm2_mla_r{a.save_rank}_M{M}", tok)
    emit(event="saved", path=str(d))
    del m
if "partial" in steps:
    for rd in (32, 64):
        for rot in ("rorope", "none", "norm"):
            if rd == 64 and rot != "rorope":
                continue
            m = conv(kv_rank=None, rope_dim=rd, freqfold=M if rd == 32 else max(M // 2, 1), rotation=rot)
            emit(event="ppl", name=f"partial RoPE d_R={rd} {rot}", rope_dim=rd, rotation=rot,
                 freqfold=m.config.transmla["freqfold"], ppl=ppl(m))
            del m
if "mla" in steps:
    for r in [int(x) for x in a.ranks.split(",")]:
        m = conv(kv_rank=r, rope_dim=32, freqfold=M)
        emit(event="ppl", name=f"MLA r_kv={r} d_R=32", kv_rank=r, rope_dim=32, freqfold=M, ppl=ppl(m),
             cache_elems_per_layer=r + 32)
        del m
    if a.no_bkv_check:
        m = conv(kv_rank=96, rope_dim=32, freqfold=M, balance_kv=False)
        emit(event="ppl", name="MLA r_kv=96 d_R=32 no BKV", kv_rank=96, rope_dim=32, freqfold=M, balance_kv=False,
             ppl=ppl(m))
        del m
if "speed" in steps:
    mla = conv(kv_rank=a.save_rank, rope_dim=32, freqfold=M)
    for ctx in [int(c) for c in a.contexts.split(",")]:
        for name, m in (("original", model), (f"MLA r_kv={a.save_rank}", mla)):
            s = decode_speed(m, held_ids[:ctx][None], a.new_tokens, cache_factory(m))
            emit(event="speed", name=name, **s)
    del mla
if "speed2" in steps:  # interleaved: both caches prefilled, then decode timed in alternation
    import time as _t

    mla = conv(kv_rank=a.save_rank, rope_dim=32, freqfold=M)
    for ctx in [int(c) for c in a.contexts.split(",")]:
        runs = []
        for name, m in (("original", model), (f"MLA r_kv={a.save_rank}", mla)):
            cache = cache_factory(m)(m)
            with torch.no_grad():
                o = m(input_ids=held_ids[:ctx][None], cache=cache, use_cache=True)
            runs.append((name, m, cache, o.logits[:, -1:].argmax(-1)))
        best = {r[0]: float("inf") for r in runs}
        for rep in range(3):
            for name, m, cache, nxt in runs:
                t0 = _t.perf_counter()
                with torch.no_grad():
                    for _ in range(a.new_tokens):
                        nxt = m(input_ids=nxt, cache=cache, use_cache=True).logits[:, -1:].argmax(-1)
                best[name] = min(best[name], _t.perf_counter() - t0)
                cache.crop(-a.new_tokens)
        for name, m, cache, _ in runs:
            from framework.llm.cache import bytes_per_token as _bpt
            emit(event="speed2", name=name, context=ctx, new_tokens=a.new_tokens, repeats=3,
                 decode_tokens_per_s=a.new_tokens / best[name], cache_bytes_per_token=_bpt(cache),
                 cache_tokens=cache.get_seq_length())
    del mla
if "chat" in steps:
    m = conv(kv_rank=192, rope_dim=32, freqfold=M)
    emit(event="chat", name="MLA r_kv=192", answer=greedy_chat(m, tok))
    emit(event="chat", name="original", answer=greedy_chat(model, tok))
    del m
emit(event="done")
