"""``fw semicd_vl compare``: supervised-only vs FixMatch vs SemiCD-VL on the toy 5 % set, equal
iterations.

Every run uses the same data, batch sizes (4+4+4), schedule and iteration count; the supervised run
draws
only the labeled batch. Test IoU^c of the last checkpoint (no model selection). Returns per-seed
numbers,
mean ± std and the paired differences of SemiCD-VL against the two baselines.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

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


def _retarget(node, data_root):
    if isinstance(node, dict):
        return {k: _retarget(v, data_root) for k, v in node.items()}
    if isinstance(node, list):
        return [_retarget(v, data_root) for v in node]
    if isinstance(node, str) and node.startswith(DEFAULT_ROOT):
        return data_root + node[len(DEFAULT_ROOT) :]
    return node


def toy_config(method, seed, iters, work_dir, data_root=DEFAULT_ROOT):
    from mmengine.config import Config

    from framework import load_config

    base, model_opts = VARIANTS.get(method, (method, {}))
    cfg = load_config('semicd_vl', CONFIGS[base], work_dir=work_dir, seed=seed)
    d = _retarget(cfg.to_dict(), data_root)
    d['model'].update(model_opts)
    d['train_cfg'].update(max_iters=iters, val_interval=iters)
    d['param_scheduler'][0]['end'] = iters
    d['default_hooks']['checkpoint']['interval'] = iters
    d['default_hooks']['logger']['interval'] = max(iters // 4, 1)
    return Config(d, filename=cfg.filename)


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


def run_one(method, seed, iters, work_dir, data_root=DEFAULT_ROOT, bn_recal=False):
    import torch

    from framework import build_runner

    torch.set_num_threads(1)
    cfg = toy_config(method, seed, iters, work_dir, data_root)
    runner = build_runner(cfg)
    t0 = time.time()
    runner.train()
    train_s = time.time() - t0
    metrics = runner.test()
    row = dict(
        method=method,
        seed=seed,
        iters=iters,
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
):
    from framework import activate

    from .toy import prepare_toy

    activate('semicd_vl')  # plugin commands run without the manifest registered
    prepare_toy(data_root)
    rows = []
    results = Path(work_dir) / 'results.jsonl'
    results.parent.mkdir(parents=True, exist_ok=True)
    for seed in range(seeds):
        for m in methods:
            row = run_one(m, seed, iters, f'{work_dir}/{m}_s{seed}', data_root, bn_recal)
            rows.append(row)
            with results.open('a') as f:
                f.write(json.dumps(row) + '\n')
    summary = summarise(rows, list(methods))
    if bn_recal:
        summary['after_bn_recalibration'] = summarise(rows, list(methods), 'IoU_c_bnrecal')
    (Path(work_dir) / 'summary.json').write_text(
        json.dumps(dict(rows=rows, summary=summary), indent=1)
    )
    return dict(rows=rows, summary=summary)
