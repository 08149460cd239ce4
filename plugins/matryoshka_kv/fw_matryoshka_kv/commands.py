"""``fw matryoshka_kv pca-init | search | eval | plot | generate | bench`` (thin click wrappers;
each measuring command prints one JSON line)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

DEFAULT_CONFIG = 'mkv_smollm2_cpu'


def _log(msg):
    click.echo(msg, err=True)


def build_model(config: str, checkpoint: str | None, threads: int | None, init: str | None = None):
    """The config's ``MatryoshkaKVModel`` built through the registry (``checkpoint`` overrides)."""
    import torch

    from framework import MODELS, load_config

    if threads:
        torch.set_num_threads(threads)
    cfg = load_config('matryoshka_kv', config)
    model_cfg = dict(cfg.model)
    if checkpoint is not None:
        model_cfg['checkpoint'] = checkpoint
    if init is not None:
        model_cfg['init'] = init
    if threads:
        model_cfg['num_threads'] = threads
    model = MODELS.build(model_cfg).eval()
    model.init_weights()  # PCA from calibration when no projection file is given and init='pca'
    return model


_config = click.argument('config', required=False, default=DEFAULT_CONFIG)
_checkpoint = click.option(
    '--checkpoint',
    default=None,
    help='projection file (pca-init output or work_dir/projection.pth)',
)
_threads = click.option('--threads', type=int, default=None, help='torch threads')


@click.command('pca-init')
@_config
@click.option('--out', default='work_dirs/matryoshka_kv/pca.pth', show_default=True)
@_threads
def pca_init(config, out, threads):
    """Calibrate the base model of CONFIG and save PCA-initialised projections to --out."""
    from .model import save_projection

    t0 = time.time()
    model = build_model(config, None, threads, init='identity')
    evals = model.pca_init(log=_log)
    path = save_projection(out, model.projections, model.meta())
    share = {w: float(evals[w][..., : model.d // 2].sum() / evals[w].sum()) for w in 'KV'}
    click.echo(
        json.dumps(
            dict(
                out=str(path),
                calib=model.calib,
                **model.meta(),
                variance_in_first_half_K=share['K'],
                variance_in_first_half_V=share['V'],
                seconds=round(time.time() - t0, 1),
            )
        )
    )


@click.command('search')
@_config
@click.option(
    '--budget',
    required=True,
    help='kept fraction(s) of the cache, e.g. 0.5 or '
    '0.75,0.5,0.375 (each continues from the previous result)',
)
@_checkpoint
@click.option(
    '--rounds',
    default='8',
    show_default=True,
    help="'exact' (paper: one slot per step) or the number of rounds",
)
@click.option('--objective', type=click.Choice(['kl', 'hidden']), default='kl', show_default=True)
@click.option('--delta', type=int, default=None, help='rank step (default head_dim/8)')
@click.option('--windows', type=int, default=4, show_default=True, help='calibration windows')
@click.option('--window-len', type=int, default=128, show_default=True)
@click.option('--out-dir', default='work_dirs/matryoshka_kv/search', show_default=True)
@_threads
def search(
    config, budget, checkpoint, rounds, objective, delta, windows, window_len, out_dir, threads
):
    """Greedy per-(layer, KV head, K/V) ranks under --budget; writes ranks_<budget>.json and
    ranks_<budget>.png per budget, and the uniform baseline's KL beside it."""
    import torch

    from framework import FwError
    from framework.llm.data import encode, pydoc_text, token_windows
    from framework.llm.models import load_tokenizer

    from .plot import plot_ranks
    from .search import GreedyRankSearch, uniform_ranks

    try:
        budgets = [float(b) for b in budget.split(',')]
    except ValueError:
        raise FwError(f'--budget {budget}: give fractions like 0.5 or 0.75,0.5') from None
    if sorted(budgets, reverse=True) != budgets:
        raise FwError(f'--budget {budget}: list budgets in decreasing order')
    model = build_model(config, checkpoint, threads)
    delta = delta or model.delta
    calib = token_windows(
        encode(load_tokenizer(model.base_path), pydoc_text('train')), window_len, windows
    )
    engine = GreedyRankSearch(model.lm, calib, delta, objective, log=_log)
    R = None
    for b in budgets:
        t0 = time.time()
        res = engine.run(b, R, rounds)
        R = torch.stack((torch.tensor(res['R_K']), torch.tensor(res['R_V'])), -1)
        U = uniform_ranks(b, model.L, model.g, model.d, delta)
        res.update(
            J_uniform=engine.kl(U),
            checkpoint=checkpoint,
            seconds=round(time.time() - t0, 1),
            trials=engine.trials,
        )
        out = Path(out_dir) / f'ranks_{b:g}.json'
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res))
        plot_ranks(out, out.with_suffix('.png'))
        click.echo(
            json.dumps(
                {k: v for k, v in res.items() if k not in ('R_K', 'R_V', 'history')}
                | dict(out=str(out))
            )
        )


@click.command('eval')
@_config
@click.option(
    '--ranks',
    default='full',
    show_default=True,
    help="'full', 'uniform:R' or a "
    'ranks JSON from search; several separated by commas (one JSON line each)',
)
@_checkpoint
@click.option('--json', 'as_json', is_flag=True, help='print only the JSON lines')
@click.option(
    '--windows', type=int, default=16, show_default=True, help='held-out windows (0 = all)'
)
@click.option('--window-len', type=int, default=256, show_default=True)
@click.option('--text', default=None, help='local held-out text (default: pydoc topics 0-39)')
@_threads
def evaluate(config, ranks, checkpoint, as_json, windows, window_len, text, threads):
    """Held-out perplexity, KL to the base model and cache bytes/token at --ranks."""
    from .evaluate import heldout_windows, measure

    t0 = time.time()
    model = build_model(config, checkpoint, threads)
    results = measure(
        model,
        [r for r in ranks.split(',') if r],
        heldout_windows(model, windows or None, window_len, text),
    )
    for res in results:
        res = dict(
            model=model.base_path,
            checkpoint=checkpoint,
            **res,
            dtype=str(model.lm.dtype).replace('torch.', ''),
            device=str(model.lm.device),
            seconds=round(time.time() - t0, 1),
        )
        if not as_json:
            for k, v in res.items():
                _log(f'{k:>32}: {v}')
        click.echo(json.dumps(res))


@click.command('plot')
@click.argument('ranks_json')
@click.option('--out', default=None, help='PNG path (default: beside the JSON)')
def plot(ranks_json, out):
    """Plot the rank allocation of RANKS_JSON per layer and KV head."""
    from .plot import plot_ranks

    click.echo(str(plot_ranks(ranks_json, out or Path(ranks_json).with_suffix('.png'))))


@click.command('generate')
@_config
@click.option('--prompt', default='What is the capital of France?', show_default=True)
@click.option('--ranks', default='uniform:32', show_default=True)
@_checkpoint
@click.option('--max-new-tokens', type=int, default=24, show_default=True)
@_threads
def generate(config, prompt, ranks, checkpoint, max_new_tokens, threads):
    """Greedy chat answer through model.generate with the low-rank cache."""
    from .evaluate import greedy_generate

    model = build_model(config, checkpoint, threads)
    text, bpt = greedy_generate(model, prompt, ranks, max_new_tokens)
    click.echo(json.dumps(dict(prompt=prompt, ranks=ranks, answer=text, cache_bytes_per_token=bpt)))


@click.command('bench')
@_config
@click.option('--ranks', default='uniform:32', show_default=True)
@_checkpoint
@click.option('--contexts', default='512', show_default=True, help='comma list of context lengths')
@click.option('--new-tokens', type=int, default=16, show_default=True)
@click.option('--repeats', type=int, default=3, show_default=True)
@click.option('--json', 'as_json', is_flag=True)
@_threads
def bench(config, ranks, checkpoint, contexts, new_tokens, repeats, as_json, threads):
    """Decode tokens/s (batch 1) with the low-rank cache vs the dense cache, in alternation."""
    from .evaluate import decode_bench, heldout_ids

    model = build_model(config, checkpoint, threads)
    ids = heldout_ids(model)
    for ctx in [int(c) for c in contexts.split(',') if c]:
        res = dict(ranks=ranks, **decode_bench(model, ranks, ids[:ctx][None], new_tokens, repeats))
        if not as_json:
            _log(' '.join(f'{k}={v}' for k, v in res.items()))
        click.echo(json.dumps(res))
