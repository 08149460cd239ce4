"""Measurements behind ``fw transmla eval`` and the benchmarks ``fw transmla bench`` (perplexity of
every conversion stage, cache bytes/token and decode speed, original vs MLA side by side in one
process), ``fw transmla bench-finetune`` (stage E through the Runner) and ``fw transmla
bench-table`` (markdown tables of the JSON lines both write)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch

from framework.llm.cache import DenseKVCache
from framework.llm.data import encode, pydoc_text, python_version, token_windows
from framework.llm.evaluate import decode_speed, perplexity

from .cache import LatentKVCache


def cache_factory(model):
    """The model's own cache: ``LatentKVCache`` for converted models, ``DenseKVCache`` otherwise."""
    return (
        LatentKVCache.for_model
        if getattr(model.config, 'transmla', None)
        else DenseKVCache.for_model
    )


def measure(
    model,
    tokenizer,
    windows: int | None = 16,
    window_len: int = 256,
    contexts=(512,),
    new_tokens=16,
    ppl: bool = True,
) -> dict:
    ids = encode(tokenizer, pydoc_text('heldout'))
    res = dict(python=python_version())
    if ppl:
        p = perplexity(model, token_windows(ids, window_len, windows))
        res.update(perplexity=p['ppl'], ppl_windows=p['windows'], ppl_window_len=p['window_len'])
    fac = cache_factory(model)
    itemsize = next(model.parameters()).element_size()
    res['cache_bytes_per_token_formula'] = (
        LatentKVCache.expected_bytes_per_token(model)
        if getattr(model.config, 'transmla', None)
        else DenseKVCache.expected_bytes_per_token(model)
    )
    res['dense_cache_bytes_per_token'] = (
        2
        * model.config.num_hidden_layers
        * model.config.num_key_value_heads
        * (
            getattr(model.config, 'head_dim', None)
            or model.config.hidden_size // model.config.num_attention_heads
        )
        * itemsize
    )
    speeds = {}
    for ctx in contexts:
        s = decode_speed(model, ids[:ctx][None], new_tokens, fac)
        speeds[str(ctx)] = round(s['decode_tokens_per_s'], 3)
        res['cache_bytes_per_token'] = s['cache_bytes_per_token']  # live, from the cache object
    if contexts:
        res['decode_tokens_per_s'] = speeds[str(contexts[0])]
        res['decode_tokens_per_s_by_context'] = speeds
    else:
        res['cache_bytes_per_token'] = res['cache_bytes_per_token_formula']
    res['kept_fraction'] = res['cache_bytes_per_token'] / res['dense_cache_bytes_per_token']
    res['compression_ratio'] = 1 - res['kept_fraction']
    return res


def evaluate_model(
    path, windows=16, window_len=256, contexts=(512,), new_tokens=16, dtype='float32'
) -> dict:
    from .convert import load_any
    from .model import _DTYPES

    t0 = time.time()
    model, tok = load_any(path, _DTYPES[dtype])
    if tok is None:
        from framework.llm.models import load_tokenizer

        tok = load_tokenizer('smollm2')
    res = dict(
        model=str(path), method=dict(getattr(model.config, 'transmla', {}) or {'stage': 'original'})
    )
    res['method'].pop('freqs', None)
    res['method'].pop('alphas', None)
    res.update(measure(model, tok, windows, window_len, contexts, new_tokens))
    res.update(
        dtype=dtype,
        device='cpu',
        threads=torch.get_num_threads(),
        seconds=round(time.time() - t0, 1),
    )
    return res


@torch.no_grad()
def greedy_chat(
    model, tokenizer, prompt: str = 'What is the capital of France?', max_new_tokens: int = 24
):
    from .cache import LatentKVCache

    msgs = [{'role': 'user', 'content': prompt}]
    ids = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, return_tensors='pt')
    if not isinstance(ids, torch.Tensor):
        ids = ids['input_ids']
    kw = {}
    if getattr(model.config, 'transmla', None):
        kw['cache'] = LatentKVCache.for_model(model)
    out = model.generate(
        ids,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        **kw,
    )
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


class _Log:
    """Appends one JSON object per line to ``out`` and echoes it."""

    def __init__(self, out, echo=print):
        self.out, self.echo, self.t0 = Path(out), echo, time.time()
        self.out.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, **row):
        row.update(t=round(time.time() - self.t0, 1))
        self.echo(json.dumps(row))
        with open(self.out, 'a') as f:
            f.write(json.dumps(row) + '\n')


def smollm2_bench(
    out,
    threads=1,
    heldout_windows=8,
    window=256,
    calib_windows=16,
    search_windows=4,
    ranks=(352, 192, 128, 96, 64),
    contexts=(512, 2048),
    new_tokens=16,
    steps=('orig', 'exact', 'search', 'partial', 'mla', 'decode', 'chat', 'save'),
    freqfold=0,
    save_rank=96,
    no_bkv_check=False,
    echo=print,
    pca_calibration='partial_rope',
    decode_contexts=(2048, 8192),
    decode_repeats=5,
    prefill_threads=None,
    decode_generic=False,
):
    """SmolLM2-135M-Instruct on the CPU: held-out pydoc perplexity of the original, the exact
    rewrite (stage A), partial RoPE (RoRoPE + FreqFold vs two baselines), MLA at several ranks
    (no training; ``pca_calibration`` 'partial_rope', 'original' or 'both'), cache bytes/token
    and decode tokens/s, original vs MLA, side by side."""
    from framework import load_checkpoint, trusted_checkpoints
    from framework.llm.models import cache_dir, load_causal_lm, load_tokenizer

    from .calibrate import calibrate
    from .convert import (
        convert_exact,
        convert_mla,
        freqfold_search,
        partial_rope_calibration,
        save_converted,
    )

    torch.set_num_threads(threads)
    emit, steps = _Log(out, echo), set(steps)
    model, tok = load_causal_lm('smollm2'), load_tokenizer('smollm2')
    held_ids = encode(tok, pydoc_text('heldout'))
    held = token_windows(held_ids, window, heldout_windows)
    calib = token_windows(encode(tok, pydoc_text('train')), window, calib_windows)
    emit(
        event='setup',
        python=python_version(),
        torch=torch.__version__,
        threads=threads,
        heldout=list(held.shape),
        calib=list(calib.shape),
    )

    def ppl(m):
        return perplexity(m, held)['ppl']

    if 'orig' in steps:
        emit(event='ppl', name='original', ppl=ppl(model))
    if 'exact' in steps:
        m = convert_exact(copy.deepcopy(model))
        x = held[:1, :128]
        with torch.no_grad():
            diff = (m(input_ids=x).logits - model(input_ids=x).logits).abs().max().item()
        emit(event='exact', name='stage A (exact)', max_abs_logit_diff=diff)
        del m
    stats_file = cache_dir() / 'transmla' / f'calib_smollm2_{calib_windows}x{window}.pt'
    if stats_file.is_file():  # written by an earlier run of this benchmark
        with trusted_checkpoints(stats_file):
            stats = load_checkpoint(str(stats_file))
    else:
        stats = calibrate(model, calib)
        stats_file.parent.mkdir(parents=True, exist_ok=True)
        torch.save(stats, stats_file)
    emit(event='calibrated')
    M = freqfold or 4
    if 'search' in steps and not freqfold:
        M, curve = freqfold_search(
            model, stats, calib[:search_windows], 32, log=lambda s: emit(event='log', msg=s)
        )
        emit(event='freqfold_search', best=M, curve=curve)

    latent = {}  # (d_R, M, rotation) -> (rotations, K/V second moments of the stage-B model)

    def conv(pca=pca_calibration, **kw):
        if pca != 'original' and kw.get('kv_rank') is not None:
            key = (kw['rope_dim'], kw['freqfold'], kw.get('rotation', 'rorope'))
            if key not in latent:
                latent[key] = partial_rope_calibration(model, stats, calib, *key)
            kw['rotations'], kw['latent_covs'] = latent[key]
        return convert_mla(copy.deepcopy(model), stats, **kw)

    if 'save' in steps:
        m = conv(kv_rank=save_rank, rope_dim=32, freqfold=M)
        d = save_converted(m, cache_dir() / 'transmla' / f'smollm2_mla_r{save_rank}_M{M}', tok)
        emit(event='saved', path=str(d))
        del m
    if 'partial' in steps:
        for rd, rot in ((32, 'rorope'), (32, 'none'), (32, 'norm'), (64, 'rorope')):
            m = conv(
                kv_rank=None, rope_dim=rd, freqfold=M if rd == 32 else max(M // 2, 1), rotation=rot
            )
            emit(
                event='ppl',
                name=f'partial RoPE d_R={rd} {rot}',
                rope_dim=rd,
                rotation=rot,
                freqfold=m.config.transmla['freqfold'],
                ppl=ppl(m),
            )
            del m
    if 'mla' in steps:
        pcas = ('partial_rope', 'original') if pca_calibration == 'both' else (pca_calibration,)
        for r in ranks:
            for pca in pcas:
                m = conv(pca=pca, kv_rank=r, rope_dim=32, freqfold=M)
                emit(
                    event='ppl',
                    name=f'MLA r_kv={r} d_R=32' + ('' if pca == 'partial_rope' else f' ({pca})'),
                    kv_rank=r,
                    rope_dim=32,
                    freqfold=M,
                    pca_calibration=pca,
                    ppl=ppl(m),
                    cache_elems_per_layer=r + 32,
                )
                del m
        if no_bkv_check:
            m = conv(kv_rank=96, rope_dim=32, freqfold=M, balance_kv=False)  # same PCA data
            emit(
                event='ppl',
                name='MLA r_kv=96 d_R=32 no BKV',
                kv_rank=96,
                rope_dim=32,
                freqfold=M,
                balance_kv=False,
                ppl=ppl(m),
            )
            del m
    if 'speed' in steps:
        mla = conv(kv_rank=save_rank, rope_dim=32, freqfold=M)
        for ctx in contexts:
            for name, m in (('original', model), (f'MLA r_kv={save_rank}', mla)):
                emit(
                    event='speed',
                    name=name,
                    **decode_speed(m, held_ids[:ctx][None], new_tokens, cache_factory(m)),
                )
        del mla
    if 'decode' in steps or 'profile' in steps:
        from .decode_bench import decode_ratio, profile_decode

        mla = conv(kv_rank=save_rank, rope_dim=32, freqfold=M)
        ids = held_ids[None]
        models = {'original': model, f'MLA r_kv={save_rank}': mla}
        if decode_generic:  # the same MLA model with decode steps through the generic path
            generic = copy.deepcopy(mla)
            for layer in generic.model.layers:
                layer.self_attn.fast_decode = False
            models[f'MLA r_kv={save_rank}, generic attention path'] = generic
        if 'profile' in steps:
            for name, m in models.items():
                echo(f'== decode profile, {name}, context {decode_contexts[0]}')
                echo(profile_decode(m, ids, decode_contexts[0], prefill_threads=prefill_threads))
        if 'decode' in steps:
            decode_ratio(
                models, ids, decode_contexts, new_tokens, decode_repeats, prefill_threads, emit
            )
        del mla
    if 'chat' in steps:
        m = conv(kv_rank=192, rope_dim=32, freqfold=M)
        emit(event='chat', name='MLA r_kv=192', answer=greedy_chat(m, tok))
        emit(event='chat', name='original', answer=greedy_chat(model, tok))
    emit(event='done')


def finetune_bench(
    model,
    tag,
    out,
    config='transmla_smollm2_cpu',
    steps=20,
    warmup=3,
    batch=2,
    window=128,
    threads=1,
    heldout_windows=8,
    checkpoint=True,
    before=True,
    echo=print,
):
    """Stage E through the Runner (the ``config`` recipe shortened by options), then held-out
    perplexity before and after; one JSON line to ``out``."""
    import glob
    import re

    from framework import activate, build_runner, load_config

    from .convert import load_any

    torch.set_num_threads(threads)
    work_dir = f'work_dirs/transmla_ft_{tag}'
    options = [
        f'model.model={model}',
        f'model.num_threads={threads}',
        f'train_cfg.max_iters={steps}',
        f'train_dataloader.batch_size={batch}',
        f'train_dataloader.dataset.window={window}',
        f'param_scheduler.0.end={warmup}',
        f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={steps}',
        f'param_scheduler.1.T_max={steps - warmup}',
        f'default_hooks.checkpoint.interval={steps if checkpoint else 10**9}',
        'default_hooks.logger.interval=1',
    ]
    t0 = time.time()
    activate('transmla')
    build_runner(load_config('transmla', config, work_dir=work_dir, cfg_options=options)).train()
    train_s = time.time() - t0
    log = open(sorted(glob.glob(f'{work_dir}/*/*.log'))[-1]).read()
    rows = re.findall(r'Iter\(train\)\s*\[\s*\d+/\d+\].*?\btime: ([\d.]+).*?\bloss: ([\d.]+)', log)
    times, losses = [float(t) for t, _ in rows], [float(x) for _, x in rows]
    tuned, tok = load_any(f'{work_dir}/converted')
    held = token_windows(encode(tok, pydoc_text('heldout')), 256, heldout_windows)
    ppl_before = perplexity(load_any(model)[0], held)['ppl'] if before else None
    _Log(out, echo)(
        event='finetune',
        tag=tag,
        base=str(model),
        steps=steps,
        batch=batch,
        window=window,
        train_seconds=round(train_s, 1),
        seconds_per_step=round(sum(times) / max(len(times), 1), 1),
        loss_first=sum(losses[:5]) / max(len(losses[:5]), 1),
        loss_last=sum(losses[-5:]) / max(len(losses[-5:]), 1),
        losses=losses,
        ppl_before=ppl_before,
        ppl_after=perplexity(tuned, held)['ppl'],
    )


def markdown_tables(rows):
    """The README's tables from the JSON lines of :func:`smollm2_bench` / :func:`finetune_bench`."""
    lines = []
    setup = next((r for r in rows if r['event'] == 'setup'), None)
    dense = 2 * 30 * 3 * 64 * 4  # SmolLM2-135M float32: 30 layers, 3 KV heads of 64
    if setup:
        lines.append(
            f'Held-out pydoc ppl ({setup["heldout"][0]} windows x {setup["heldout"][1]} '
            f'tokens, Python {setup["python"]}, float32, sdpa); calibration '
            f'{setup["calib"][0]} x {setup["calib"][1]} train tokens.\n'
        )
    lines += [
        '| model | cache elems/layer | bytes/token | kept | held-out ppl |',
        '|---|---|---|---|---|',
    ]
    for r in rows:
        if r['event'] == 'ppl':
            el = r['kv_rank'] + r['rope_dim'] if 'kv_rank' in r else 384
            b = el * 30 * 4
            lines.append(f'| {r["name"]} | {el} | {b:,} | {b / dense:.1%} | {r["ppl"]:.3f} |')
        elif r['event'] == 'exact':
            lines.append(
                f'| stage A (exact) | 384 | {dense:,} | 100% | max abs logit diff '
                f'{r["max_abs_logit_diff"]:.1e} |'
            )
    for r in rows:
        if r['event'] == 'freqfold_search':
            lines.append(
                f'\nFreqFold search (stage-B calibration ppl, d_R=32): {r["curve"]} -> '
                f'M={r["best"]}'
            )
    dec = [r for r in rows if r['event'] == 'decode']
    if dec:
        lines += [
            '\n| context | model | cache bytes/token | decode tok/s (median) | ratio median '
            '(best) | load avg |',
            '|---|---|---|---|---|---|',
        ]
        for r in dec:
            ratio = (
                f'{r["ratio_median"]:.3f} ({r["ratio_best"]:.3f})' if 'ratio_median' in r else ''
            )
            lines.append(
                f'| {r["context"]} | {r["name"]} | {r["cache_bytes_per_token"]:,.0f} | '
                f'{r["tokens_per_s_median"]:.2f} | {ratio} | {r["load_average"]} |'
            )
    speed = [r for r in rows if r['event'] in ('speed', 'speed2')]
    if speed:
        lines += [
            '\n| run | model | context | live cache bytes/token | decode tokens/s |',
            '|---|---|---|---|---|',
        ]
        for r in speed:
            kind = 'interleaved, best of 3' if r['event'] == 'speed2' else 'sequential, 1 run'
            lines.append(
                f'| {kind} | {r["name"]} | {r["context"]} | '
                f'{r["cache_bytes_per_token"]:,.0f} | {r["decode_tokens_per_s"]:.2f} |'
            )
    tuned = [r for r in rows if r['event'] == 'finetune']
    if tuned:
        lines += [
            '\n| fine-tune | steps x batch x window | s/step | loss first5 -> last5 | '
            'ppl before | ppl after |',
            '|---|---|---|---|---|---|',
        ]
        for r in tuned:
            lines.append(
                f'| {r["tag"]} | {r["steps"]} x {r["batch"]} x {r["window"]} | '
                f'{r["seconds_per_step"]} | {r["loss_first"]:.3f} -> {r["loss_last"]:.3f} | '
                f'{r["ppl_before"] or float("nan"):.3f} | {r["ppl_after"]:.3f} |'
            )
    lines += [f'\nGreedy chat, {r["name"]}: {r["answer"]!r}' for r in rows if r['event'] == 'chat']
    return '\n'.join(lines)
