"""Stage E on CPU through `fw train`'s machinery: fine-tune the converted SmolLM2 (or the
unconverted control) with the transmla_smollm2_cpu recipe, shortened by --cfg-options for a shared
2-core machine, then print held-out perplexity before/after (same windows as the bench).

    python tools/bench/transmla_finetune.py --model ~/.cache/fw/transmla/smollm2_mla_r96_M4 --tag mla
    python tools/bench/transmla_finetune.py --model smollm2 --config transmla_smollm2_control_cpu --tag control
"""
import argparse
import json
import time

import torch

from framework import registry, train
from framework.errors import FwError

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--config", default="transmla_smollm2_cpu")
p.add_argument("--tag", required=True)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--batch", type=int, default=2)
p.add_argument("--window", type=int, default=128)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--heldout-windows", type=int, default=8)
p.add_argument("--out", default="work_dirs/transmla_bench.jsonl")
p.add_argument("--no-ckpt", action="store_true", help="skip the mmengine checkpoint (the converted model is still saved)")
p.add_argument("--skip-before", action="store_true", help="do not re-measure the untrained model's ppl")
a = p.parse_args()
torch.set_num_threads(a.threads)
try:  # until the core registers framework/llm/manifest.json itself
    registry.register_manifest("llm", json.load(open("framework/llm/manifest.json"))["components"])
except (FwError, KeyError, ValueError):
    pass
wd = f"work_dirs/transmla_ft_{a.tag}"
t0 = time.time()
opts = [f"model.model={a.model}", f"model.num_threads={a.threads}", f"train_cfg.max_iters={a.steps}",
        f"train_dataloader.batch_size={a.batch}", f"train_dataloader.dataset.window={a.window}",
        f"param_scheduler.0.end={a.warmup}", f"param_scheduler.1.begin={a.warmup}",
        f"param_scheduler.1.end={a.steps}", f"param_scheduler.1.T_max={a.steps - a.warmup}",
        f"default_hooks.checkpoint.interval={a.steps if not a.no_ckpt else 10 ** 9}", "default_hooks.logger.interval=1"]
runner = train.train("transmla", a.config, work_dir=wd, cfg_options=opts)
train_s = time.time() - t0

from framework.llm.data import encode, pydoc_text, token_windows  # noqa: E402
from framework.llm.evaluate import perplexity  # noqa: E402
from fw_transmla.convert import load_any  # noqa: E402

import glob, re  # noqa: E401,E402

log = open(sorted(glob.glob(f"{wd}/*/*.log"))[-1]).read()
rows = re.findall(r"Iter\(train\)\s*\[\s*\d+/\d+\].*?\btime: ([\d.]+).*?\bloss: ([\d.]+)", log)
iter_times = [float(t) for t, _ in rows]
losses = [float(x) for _, x in rows]
model, tok = load_any(f"{wd}/converted")
held = token_windows(encode(tok, pydoc_text("heldout")), 256, a.heldout_windows)
before_model = None if a.skip_before else load_any(a.model)[0]
rec = dict(event="finetune", tag=a.tag, base=a.model, steps=a.steps, batch=a.batch, window=a.window,
           train_seconds=round(train_s, 1), seconds_per_step=round(sum(iter_times) / max(len(iter_times), 1), 1),
           loss_first=sum(losses[:5]) / max(len(losses[:5]), 1), loss_last=sum(losses[-5:]) / max(len(losses[-5:]), 1),
           losses=losses, ppl_before=perplexity(before_model, held)["ppl"] if before_model is not None else None, ppl_after=perplexity(model, held)["ppl"])
print(json.dumps(rec), flush=True)
with open(a.out, "a") as f:
    f.write(json.dumps(rec) + "\n")
