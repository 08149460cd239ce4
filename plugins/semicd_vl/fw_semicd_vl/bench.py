"""``fw semicd_vl compare``: supervised-only vs FixMatch vs SemiCD-VL on the toy set, equal
iterations.

Every run uses the same data, batch sizes (4+4+4), schedule and iteration count; the supervised run
draws only the labeled batch. Two protocols: ``select='last'`` tests the last checkpoint;
``select='val'`` validates every ``val_interval`` iterations on the validation split, keeps the
checkpoint with the best validation IoU^c (every method alike) and reads the test split once, at
the end, with that checkpoint. Returns per-seed numbers, mean ± std and the paired differences of
SemiCD-VL against the baselines, per label ratio.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from .roots import resolve_roots

CONFIGS = {
    'supervised': 'supervised_synthetic_5pct',
    'fixmatch': 'fixmatch_synthetic_5pct',
    'semicd_vl': 'semicd_vl_synthetic_5pct',
}
DEFAULT_ROOT = 'data/semicd_vl_toy'
# variants: the strong mixed pair does not update BN running statistics
# (model.strong_bn_update=False)
VARIANTS = {
    'fixmatch_weakbn': ('fixmatch', dict(strong_bn_update=False)),
    'semicd_vl_weakbn': ('semicd_vl', dict(strong_bn_update=False)),
}


def toy_config(method, seed, iters, work_dir, data_root=DEFAULT_ROOT, pct='5%', val_interval=None):
    """The toy config of ``method`` for one run: ``iters`` iterations (λ's T and the poly schedule
    end there), labels ``pct`` (a ``splits/toy/<pct>`` folder), and with ``val_interval`` a
    validation every that many iterations keeping the best-IoU^c checkpoint."""
    from mmengine.config import Config

    from framework import load_config

    base, model_opts = VARIANTS.get(method, (method, {}))
    cfg = load_config('semicd_vl', CONFIGS[base], work_dir=work_dir, seed=seed)
    d = cfg.to_dict()
    d['data_root'] = data_root
    for k in ('labeled', 'unlabeled', 'mix'):
        loader = d['train_dataloader'].get(k)
        if loader:
            sf = loader['dataset']['split_file']
            loader['dataset']['split_file'] = sf.replace('splits/toy/5%/', f'splits/toy/{pct}/')
    for k in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        d[k] = resolve_roots(d[k], d)  # concrete paths, so callers may build loaders directly
    d['model'].update(model_opts)
    every = val_interval or iters
    d['train_cfg'].update(max_iters=iters, val_interval=every)
    d['param_scheduler'][0]['end'] = iters
    d['default_hooks']['checkpoint'].update(interval=every)
    if val_interval:
        d['default_hooks']['checkpoint'].update(
            save_best='cd/IoU_c', rule='greater', max_keep_ckpts=1
        )
    d['default_hooks']['logger']['interval'] = max(iters // 4, 1)
    return Config(d, filename=cfg.filename)


def best_checkpoint(runner):
    """(path, iteration) of the best-validation checkpoint that the CheckpointHook kept."""
    from mmengine.hooks import CheckpointHook

    hook = next(h for h in runner.hooks if isinstance(h, CheckpointHook))
    path = getattr(hook, 'best_ckpt_path', None)
    if not path:
        return None, None
    return path, int(Path(path).stem.rsplit('_', 1)[-1])


def recalibrate_bn(model, loader, n_batches=40):
    """Re-estimate every BatchNorm's running statistics (cumulative average) from the weak views of
    ``loader`` (unlabeled images; no labels are read). Diagnostic for BN statistics that the last
    train-mode forward of each iteration -- the strongly colour-jittered mixed pair -- dominates."""
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for i, batch in enumerate(loader):
            model.forward_all(model.normalize(batch['img']))
            if i + 1 >= n_batches:
                break
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def run_one(
    method,
    seed,
    iters,
    work_dir,
    data_root=DEFAULT_ROOT,
    bn_recal=False,
    pct='5%',
    select='last',
    val_interval=None,
):
    """Train one method/seed/label ratio; test the last checkpoint (``select='last'``) or the
    best-validation one (``select='val'``, validating every ``val_interval`` iterations)."""
    import torch

    from framework import build_runner, trusted_checkpoints

    if select not in ('last', 'val'):
        raise ValueError(f"select must be 'last' or 'val', got {select!r}")
    torch.set_num_threads(1)
    every = (val_interval or max(iters // 10, 1)) if select == 'val' else None
    cfg = toy_config(method, seed, iters, work_dir, data_root, pct, every)
    runner = build_runner(cfg)
    t0 = time.time()
    runner.train()
    train_s = time.time() - t0
    row = dict(method=method, seed=seed, pct=pct, iters=iters, select=select)
    if select == 'val':
        path, best_iter = best_checkpoint(runner)
        best_val = runner.message_hub.get_info('best_score')
        with trusted_checkpoints(work_dir):  # this run's own checkpoint
            runner.load_checkpoint(path)
        row.update(best_iter=best_iter, val_IoU_c=round(float(best_val), 2))
    metrics = runner.test()  # the test split, read once
    row.update(
        train_s=round(train_s, 1),
        **{k.split('/')[-1]: round(float(v), 2) for k, v in metrics.items()},
    )
    if bn_recal:
        recalibrate_bn(
            runner.model,
            runner.build_dataloader(
                cfg.train_dataloader['unlabeled']
                if cfg.train_dataloader.get('unlabeled')
                else cfg.train_dataloader['labeled']
            ),
        )
        m2 = runner.test()
        row.update(
            {
                k.split('/')[-1] + '_bnrecal': round(float(v), 2)
                for k, v in m2.items()
                if k.endswith(('IoU_c', 'F1_c', 'Precision_c', 'Recall_c'))
            }
        )
    return row


def summarise(rows, methods, key='IoU_c'):
    out = {}
    by = {m: {r['seed']: r[key] for r in rows if r['method'] == m and key in r} for m in methods}
    if not all(by.values()):
        return out
    for m in methods:
        v = list(by[m].values())
        out[m] = dict(
            mean=round(statistics.mean(v), 2),
            std=round(statistics.stdev(v), 2) if len(v) > 1 else 0.0,
            per_seed=v,
        )
    if 'semicd_vl' in by:
        for base in [m for m in methods if m != 'semicd_vl']:
            seeds = sorted(set(by['semicd_vl']) & set(by[base]))
            diff = [by['semicd_vl'][s] - by[base][s] for s in seeds]
            if diff:
                out[f'semicd_vl_minus_{base}'] = dict(
                    mean=round(statistics.mean(diff), 2),
                    std=round(statistics.stdev(diff), 2) if len(diff) > 1 else 0.0,
                    wins=sum(d > 0 for d in diff),
                    n=len(diff),
                )
    return out


def run_compare(
    seeds=3,
    iters=200,
    work_dir='work_dirs/semicd_vl_compare',
    data_root=DEFAULT_ROOT,
    methods=('supervised', 'fixmatch', 'semicd_vl'),
    bn_recal=False,
    pcts=('5%',),
    select='last',
    val_interval=None,
):
    from framework import activate

    from .toy import prepare_toy

    activate('semicd_vl')  # plugin commands run without the manifest registered
    prepare_toy(data_root)
    rows = []
    results = Path(work_dir) / 'results.jsonl'
    results.parent.mkdir(parents=True, exist_ok=True)
    for pct in pcts:
        for seed in range(seeds):
            for m in methods:
                wd = f'{work_dir}/{pct.rstrip("%")}pct/{m}_s{seed}'
                row = run_one(m, seed, iters, wd, data_root, bn_recal, pct, select, val_interval)
                rows.append(row)
                with results.open('a') as f:
                    f.write(json.dumps(row) + '\n')
    summary = {}
    for pct in pcts:
        these = [r for r in rows if r['pct'] == pct]
        summary[pct] = summarise(these, list(methods))
        if bn_recal:
            summary[pct]['after_bn_recalibration'] = summarise(
                these, list(methods), 'IoU_c_bnrecal'
            )
    (Path(work_dir) / 'summary.json').write_text(
        json.dumps(dict(rows=rows, summary=summary), indent=1)
    )
    return dict(rows=rows, summary=summary)
