"""Markdown tables from the JSON lines of transmla_smollm2.py / transmla_finetune.py."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1] if len(sys.argv) > 1 else "work_dirs/transmla_bench.jsonl")]
setup = next(r for r in rows if r["event"] == "setup")
dense = 2 * 30 * 3 * 64 * 4
print(f"Held-out pydoc ppl ({setup['heldout'][0]} windows x {setup['heldout'][1]} tokens, Python {setup['python']}, "
      f"float32, sdpa); calibration {setup['calib'][0]} x {setup['calib'][1]} train tokens.\n")
print("| model | cache elems/layer | bytes/token | kept | held-out ppl |")
print("|---|---|---|---|---|")
for r in rows:
    if r["event"] != "ppl":
        continue
    if r["name"] == "original":
        el = 384
    elif "kv_rank" in r:
        el = r["kv_rank"] + r["rope_dim"]
    else:
        el = 384  # partial RoPE keeps the identity latent: same size as GQA
    b = el * 30 * 4
    print(f"| {r['name']} | {el} | {b:,} | {b / dense:.1%} | {r['ppl']:.3f} |")
for r in rows:
    if r["event"] == "exact":
        print(f"| stage A (exact) | 384 | {dense:,} | 100% | max abs logit diff {r['max_abs_logit_diff']:.1e} |")
    if r["event"] == "freqfold_search":
        print(f"\nFreqFold search (stage-B calibration ppl, d_R=32): {r['curve']} -> M={r['best']}")
sp = [r for r in rows if r["event"] in ("speed", "speed2")]
if sp:
    print("\n| run | model | context | live cache bytes/token | decode tokens/s |")
    print("|---|---|---|---|---|")
    for r in sp:
        kind = "interleaved, best of 3" if r["event"] == "speed2" else "sequential, 1 run"
        print(f"| {kind} | {r['name']} | {r['context']} | {r['cache_bytes_per_token']:,.0f} | "
              f"{r['decode_tokens_per_s']:.2f} |")
ft = [r for r in rows if r["event"] == "finetune"]
if ft:
    print("\n| fine-tune | steps x batch x window | s/step | loss first5 -> last5 | ppl before | ppl after |")
    print("|---|---|---|---|---|---|")
    for r in ft:
        print(f"| {r['tag']} | {r['steps']} x {r['batch']} x {r['window']} | {r['seconds_per_step']} | "
              f"{r['loss_first']:.3f} -> {r['loss_last']:.3f} | {r['ppl_before'] or float('nan'):.3f} | {r['ppl_after']:.3f} |")
for r in rows:
    if r["event"] == "chat":
        print(f"\nGreedy chat, {r['name']}: {r['answer']!r}")
