"""Inference benchmark (paper Sec. 4.3 / abstract: 97.28 % less inference time on ML-1M, v1).

Per-user latency at batch 1 from an item-id history to top-K ids, in one process on one device
and thread count, Lite-LLM4Rec and GenRec interleaved user by user:

* Lite-LLM4Rec: gather cached item vectors -> RecLLM -> projection head -> top-K.
* GenRec: source text -> tokenise -> trie-constrained beam search (K beams) -> item ids.

Like for like, the headline Lite uses ``rec_llm.kind: hf`` with GenRec's encoder depth and
width (MiniLM cut to ``layers``); the CPU-default scratch Lite, SASRec and FlatHead are extra
lines. Untrained weights are valid for timing: latency depends only on the architecture.
"""

from __future__ import annotations

import os
import platform
import statistics
import time

import torch

from framework import MODELS, FwError, build_runner, load_config

DATA = dict(dataset_path=None, format='recbole', max_len=50)


def _lite_cfg(kind: str, layers: int) -> dict:
    rec = (
        dict(type='lite_llm4rec.RecLLM', kind='hf', layers=layers, dropout=0.1, adapter='ln_linear')
        if kind == 'hf'
        else dict(
            type='lite_llm4rec.RecLLM', kind='scratch', layers=2, heads=2, hidden=64, dropout=0.2
        )
    )
    return dict(
        type='lite_llm4rec.LiteLLM4Rec',
        data=DATA,
        item_llm=dict(type='lite_llm4rec.ItemLLM'),
        rec_llm=rec,
        head=dict(type='lite_llm4rec.ItemProjectionHead', mode='linear'),
        loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
    )


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1e3


def run_bench(users=50, warmup=5, repeats=3, layers=2, beams=20, threads=1, log=None) -> dict:
    """Median per-user milliseconds of each model, the ratio t_Lite / t_GenRec and 1 - ratio."""
    from .cache import ItemVectorCache
    from .sampling import SeqRecEvalData

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    say = log or (lambda *_: None)
    models = dict(
        lite=MODELS.build(_lite_cfg('hf', layers)),
        genrec=MODELS.build(
            dict(type='lite_llm4rec.GenRec', data=DATA, layers=layers, num_beams=beams)
        ),
        lite_scratch=MODELS.build(_lite_cfg('scratch', layers)),
        sasrec=MODELS.build(dict(type='lite_llm4rec.SASRec', data=DATA)),
        flathead=MODELS.build(dict(type='lite_llm4rec.FlatHead', data=DATA, layers=layers)),
    )
    for m in models.values():
        m.eval()
    test = SeqRecEvalData(DATA, split='test')
    histories = test.inputs[: warmup + users]
    k = beams
    lite = models['lite']
    item_llm = lite.frozen_item_llm[0]
    t0 = time.perf_counter()
    ItemVectorCache('').build(item_llm, lite.texts)
    cache_s = time.perf_counter() - t0

    with torch.inference_mode():
        for i in range(min(warmup, len(histories))):
            for m in models.values():
                m.recommend(histories[i : i + 1], k)
        per_repeat = {name: [] for name in models}
        for r in range(repeats):
            times = {name: [] for name in models}
            for i in range(warmup, len(histories)):
                row = histories[i : i + 1]
                for name, m in models.items():  # interleaved, user by user
                    times[name].append(_timed(m.recommend, row, k))
            for name, ts in times.items():
                per_repeat[name].append((statistics.median(ts), statistics.fmean(ts)))
            say(
                f'repeat {r + 1}/{repeats}: '
                + ', '.join(f'{n} {statistics.median(t):.1f} ms' for n, t in times.items())
            )
        batch = test.inputs[:64]
        t_batch = min(_timed(lite.recommend, batch, k) for _ in range(3)) / 1e3

    def median_repeat(name):  # the repeat whose median is the median
        medians = sorted(per_repeat[name])
        return medians[len(medians) // 2]

    out = {}
    for name in models:
        med, mean = median_repeat(name)
        out[f'{name}_ms'], out[f'{name}_mean_ms'] = round(med, 3), round(mean, 3)
    ratio = out['lite_ms'] / out['genrec_ms']
    out.update(
        ratio=round(ratio, 5),
        efficiency=round(1 - ratio, 5),
        speedup=round(1 / ratio, 1),
        users=len(histories) - warmup,
        warmup=warmup,
        repeats=repeats,
        layers=layers,
        beams=beams,
        history_items_genrec=5,
        max_len_lite=DATA['max_len'],
        threads=threads,
        device=f'cpu ({platform.processor() or platform.machine()})',
        cache_build_s=round(cache_s, 2),
        cache_per_user_ms=round(cache_s * 1e3 / len(test), 3),
        lite_batch64_users_per_s=round(len(batch) / t_batch, 1),
        weights='untrained (latency depends only on the architecture)',
    )
    say(
        f'Lite-LLM4Rec {out["lite_ms"]:.2f} ms/user, GenRec beam search {out["genrec_ms"]:.1f} '
        f'ms/user: ratio {ratio:.4f}, 1 - ratio = {100 * (1 - ratio):.2f} % '
        f'({out["speedup"]}x faster; {threads} thread(s), {out["device"]})'
    )
    return out


def evaluate_config(
    config: str,
    checkpoint=None,
    split='test',
    max_users=None,
    exclude_seen=False,
    work_dir=None,
    cfg_options=(),
) -> dict:
    """Run the test loop of ``config``: the model as built (PopRec, RandomRec need no training),
    or with the weights of ``checkpoint`` (any split, subset or masking; ``fw test`` reads the
    config's test split as configured)."""
    import tempfile

    options = list(cfg_options) + [
        f'test_dataloader.dataset.split={split}',
        f'test_evaluator.exclude_seen={exclude_seen}',
    ]
    if max_users is not None:
        options.append(f'test_dataloader.dataset.max_users={max_users}')
    cfg = load_config(
        'lite_llm4rec', config, work_dir=work_dir or tempfile.mkdtemp(), cfg_options=options
    )
    if checkpoint is not None:
        if not os.path.isfile(checkpoint):
            raise FwError(f'--checkpoint {checkpoint}: no such file (a .pth written by fw train)')
        cfg.load_from = checkpoint
    return dict(build_runner(cfg).test())
