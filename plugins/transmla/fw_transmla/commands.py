"""``fw transmla convert`` and ``fw transmla eval`` (each prints one JSON line)."""

from __future__ import annotations

import json
import sys
import time

import click


def _log(msg):
    click.echo(msg, err=True)


@click.command('convert')
@click.argument('model')
@click.argument('out')
@click.option('--exact', is_flag=True, help='stage A only: lossless rewrite, cache unchanged')
@click.option('--kv-rank', type=int, default=None, help='latent rank r_kv (stages A-D)')
@click.option(
    '--rope-dim', type=int, default=None, help='d_R, shared RoPE key width (default head_dim/2)'
)
@click.option(
    '--freqfold', default='auto', show_default=True, help="FreqFold M, or 'auto' (search)"
)
@click.option(
    '--calib-tokens',
    type=int,
    default=8192,
    show_default=True,
    help='calibration tokens (windows of 256)',
)
@click.option(
    '--calib-text', default=None, help='local text for calibration (default: pydoc train split)'
)
@click.option(
    '--rotation', type=click.Choice(['rorope', 'none', 'norm']), default='rorope', show_default=True
)
@click.option(
    '--no-balance-kv', is_flag=True, help='disable balanced K/V scaling before the joint PCA'
)
@click.option(
    '--balance-kv-ratio',
    type=float,
    default=1.0,
    show_default=True,
    help='BKV target: mean K column norm / mean V column norm after scaling (>1 favours K)',
)
@click.option(
    '--dtype',
    type=click.Choice(['float32', 'float64', 'bfloat16']),
    default='float32',
    show_default=True,
)
@click.option('--threads', type=int, default=None, help="torch threads (default: torch's)")
def convert(
    model,
    out,
    exact,
    kv_rank,
    rope_dim,
    freqfold,
    calib_tokens,
    calib_text,
    rotation,
    no_balance_kv,
    balance_kv_ratio,
    dtype,
    threads,
):
    """Convert MODEL (HF directory, .gguf, 'smollm2') and save it to OUT."""
    from framework import FwError

    if exact == (kv_rank is not None):
        raise FwError('give exactly one of --exact or --kv-rank R')
    import torch

    from .convert import save_converted
    from .model import build_converted

    if threads:
        torch.set_num_threads(threads)
    t0 = time.time()
    lm, tok, info = build_converted(
        model=model,
        exact=exact,
        kv_rank=kv_rank,
        rope_dim=rope_dim,
        freqfold=freqfold if freqfold == 'auto' else int(freqfold),
        rotation=rotation,
        balance_kv=not no_balance_kv,
        balance_kv_ratio=balance_kv_ratio,
        calib_windows=max(calib_tokens // 256, 1),
        calib_text=calib_text,
        dtype=dtype,
        log=_log,
    )
    save_converted(lm, out, tok, extra=dict(base=str(model)))
    from framework.llm.cache import DenseKVCache

    from .cache import LatentKVCache

    dense = DenseKVCache.expected_bytes_per_token(lm)
    cbpt = LatentKVCache.expected_bytes_per_token(lm)
    click.echo(
        json.dumps(
            dict(
                model=str(model),
                out=str(out),
                **{k: v for k, v in info.items()},
                cache_bytes_per_token=cbpt,
                dense_cache_bytes_per_token=dense,
                kept_fraction=cbpt / dense,
                compression_ratio=1 - cbpt / dense,
                dtype=dtype,
                device='cpu',
                seconds=round(time.time() - t0, 1),
            )
        )
    )


@click.command('eval')
@click.argument('model')
@click.option('--json', 'as_json', is_flag=True, help='print only the JSON line')
@click.option(
    '--windows', type=int, default=16, show_default=True, help='held-out windows (0 = all)'
)
@click.option('--window-len', type=int, default=256, show_default=True)
@click.option(
    '--contexts',
    default='512',
    show_default=True,
    help='decode contexts, comma list (e.g. 512,2048)',
)
@click.option('--new-tokens', type=int, default=16, show_default=True)
@click.option(
    '--dtype',
    type=click.Choice(['float32', 'float64', 'bfloat16']),
    default='float32',
    show_default=True,
)
@click.option('--threads', type=int, default=None)
def evaluate(model, as_json, windows, window_len, contexts, new_tokens, dtype, threads):
    """Held-out pydoc perplexity, cache bytes per token and decode tokens/s of MODEL."""
    import torch

    from .bench import evaluate_model

    if threads:
        torch.set_num_threads(threads)
    res = evaluate_model(
        model,
        windows=windows or None,
        window_len=window_len,
        contexts=[int(c) for c in contexts.split(',') if c],
        new_tokens=new_tokens,
        dtype=dtype,
    )
    if not as_json:
        for k, v in res.items():
            _log(f'{k:>24}: {v}')
    click.echo(json.dumps(res))
    sys.stdout.flush()


def _ints(text):
    return tuple(int(x) for x in text.split(',') if x)


@click.command('bench')
@click.option(
    '--out',
    default='work_dirs/transmla_bench.jsonl',
    show_default=True,
    help='JSON lines are appended here',
)
@click.option('--threads', type=int, default=1, show_default=True)
@click.option('--heldout-windows', type=int, default=8, show_default=True)
@click.option('--window', type=int, default=256, show_default=True)
@click.option('--calib-windows', type=int, default=16, show_default=True)
@click.option('--search-windows', type=int, default=4, show_default=True)
@click.option('--ranks', default='352,192,128,96,64', show_default=True)
@click.option('--contexts', default='512,2048', show_default=True)
@click.option('--new-tokens', type=int, default=16, show_default=True)
@click.option(
    '--steps',
    default='orig,exact,search,partial,mla,decode,chat,save',
    show_default=True,
    help='parts to run (also: decode = original vs MLA decode timed in alternation, with '
    'ratios; profile = torch.profiler table of both decode steps)',
)
@click.option(
    '--decode-contexts', default='2048,8192', show_default=True, help='contexts of the decode step'
)
@click.option('--decode-repeats', type=int, default=5, show_default=True)
@click.option(
    '--decode-generic',
    is_flag=True,
    help='also time the MLA model with decode steps through the generic attention path',
)
@click.option(
    '--prefill-threads',
    type=int,
    default=None,
    help='threads for the prefill only (decode: --threads)',
)
@click.option('--freqfold', type=int, default=0, help='skip the search and use this M')
@click.option('--save-rank', type=int, default=96, show_default=True)
@click.option('--no-bkv-check', is_flag=True, help='also measure r_kv=96 without BKV')
@click.option(
    '--pca-calibration',
    type=click.Choice(['partial_rope', 'original', 'both']),
    default='partial_rope',
    show_default=True,
    help='activations of the joint K/V PCA (both: measure each MLA rank twice)',
)
def bench(
    out,
    threads,
    heldout_windows,
    window,
    calib_windows,
    search_windows,
    ranks,
    contexts,
    new_tokens,
    steps,
    freqfold,
    save_rank,
    no_bkv_check,
    pca_calibration,
    decode_contexts,
    decode_repeats,
    decode_generic,
    prefill_threads,
):
    """SmolLM2-135M: perplexity of every stage, cache bytes/token, decode tokens/s, side by side."""
    from .bench import smollm2_bench

    smollm2_bench(
        out,
        threads,
        heldout_windows,
        window,
        calib_windows,
        search_windows,
        _ints(ranks),
        _ints(contexts),
        new_tokens,
        tuple(steps.split(',')),
        freqfold,
        save_rank,
        no_bkv_check,
        echo=click.echo,
        pca_calibration=pca_calibration,
        decode_contexts=_ints(decode_contexts),
        decode_repeats=decode_repeats,
        prefill_threads=prefill_threads,
        decode_generic=decode_generic,
    )


@click.command('bench-finetune')
@click.option('--model', required=True, help='converted directory, HF directory or smollm2')
@click.option('--tag', required=True, help='names the work dir work_dirs/transmla_ft_<tag>')
@click.option('--config', default='transmla_smollm2_cpu', show_default=True)
@click.option('--steps', type=int, default=20, show_default=True)
@click.option('--warmup', type=int, default=3, show_default=True)
@click.option('--batch', type=int, default=2, show_default=True)
@click.option('--window', type=int, default=128, show_default=True)
@click.option('--threads', type=int, default=1, show_default=True)
@click.option('--heldout-windows', type=int, default=8, show_default=True)
@click.option('--out', default='work_dirs/transmla_bench.jsonl', show_default=True)
@click.option('--no-ckpt', is_flag=True, help='skip the mmengine checkpoint')
@click.option('--skip-before', is_flag=True, help="do not re-measure the untrained model's ppl")
def bench_finetune(
    model,
    tag,
    config,
    steps,
    warmup,
    batch,
    window,
    threads,
    heldout_windows,
    out,
    no_ckpt,
    skip_before,
):
    """Stage E fine-tune through the Runner, then held-out perplexity before and after."""
    from .bench import finetune_bench

    finetune_bench(
        model,
        tag,
        out,
        config,
        steps,
        warmup,
        batch,
        window,
        threads,
        heldout_windows,
        checkpoint=not no_ckpt,
        before=not skip_before,
        echo=click.echo,
    )


@click.command('bench-table')
@click.argument('jsonl', default='work_dirs/transmla_bench.jsonl')
def bench_table(jsonl):
    """Markdown tables from the JSON lines of `bench` and `bench-finetune`."""
    from .bench import markdown_tables

    click.echo(markdown_tables([json.loads(line) for line in open(jsonl) if line.strip()]))
