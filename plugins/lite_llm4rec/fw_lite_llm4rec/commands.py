"""``fw lite_llm4rec bench | evaluate | stats`` (thin click wrappers; each prints JSON)."""

from __future__ import annotations

import json

import click


@click.command('bench')
@click.option('--json', 'as_json', is_flag=True, help='print only the JSON line')
@click.option('--users', type=int, default=50, show_default=True, help='M test users timed')
@click.option('--warmup', type=int, default=5, show_default=True, help='warm-up users')
@click.option('--repeats', type=int, default=3, show_default=True, help='R repeats (median kept)')
@click.option(
    '--layers',
    type=int,
    default=2,
    show_default=True,
    help='backbone depth of both models (GenRec: L + L)',
)
@click.option('--beams', type=int, default=20, show_default=True, help='Kmax beams = top-K')
@click.option('--threads', type=int, default=1, show_default=True, help='torch threads')
@click.option('--check', is_flag=True, help='one repeat; fail unless ratio <= 0.2')
def bench(as_json, users, warmup, repeats, layers, beams, threads, check):
    """Per-user latency of Lite-LLM4Rec vs GenRec's constrained beam search (one process)."""
    from framework import FwError

    from .bench import run_bench

    result = run_bench(
        users=users,
        warmup=warmup,
        repeats=1 if check else repeats,
        layers=layers,
        beams=beams,
        threads=threads,
        log=None if as_json else click.echo,
    )
    click.echo(json.dumps(result))
    if check and result['ratio'] > 0.2:
        raise FwError(f'bench --check: ratio {result["ratio"]:.4f} > 0.2')


@click.command('evaluate')
@click.argument('config')
@click.option('--checkpoint', default=None, help='weights to load (none: as built)')
@click.option('--split', type=click.Choice(['test', 'valid']), default='test', show_default=True)
@click.option('--max-users', type=int, default=None, help='seeded subset of users')
@click.option('--exclude-seen', is_flag=True, help='mask the history before the target')
@click.option('--work-dir', default=None)
@click.option('--cfg-options', multiple=True, help='config override key=value (repeat for several)')
def evaluate(config, checkpoint, split, max_users, exclude_seen, work_dir, cfg_options):
    """Evaluate CONFIG (PopRec, RandomRec need no checkpoint); prints one JSON line."""
    from .bench import evaluate_config

    metrics = evaluate_config(
        config,
        checkpoint=checkpoint,
        split=split,
        max_users=max_users,
        exclude_seen=exclude_seen,
        work_dir=work_dir,
        cfg_options=[o for item in cfg_options for o in item.split()],
    )
    click.echo(json.dumps(metrics))


@click.command('stats')
@click.option('--dataset-path', default=None, help='folder (default: packaged ML-100K)')
@click.option('--format', 'fmt', type=click.Choice(['recbole', 'ml_dat']), default='recbole')
@click.option('--max-len', type=int, default=50, show_default=True)
def stats(dataset_path, fmt, max_len):
    """Users, items, interactions, sequence lengths and training windows/targets (JSON)."""
    from .data import load_sequence_data
    from .sampling import SeqRecTrainData

    data = dict(dataset_path=dataset_path, format=fmt, max_len=max_len)
    out = load_sequence_data(**data).stats()
    windows = SeqRecTrainData(data)
    out.update(windows=len(windows), train_targets=windows.n_targets)
    click.echo(json.dumps(out))
