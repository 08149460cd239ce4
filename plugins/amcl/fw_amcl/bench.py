"""CPU-scale comparison of each base method with and without AMCL (the CPU protocol of the README's Results).

Trains with a plain loop over the same model code that ``fw train`` uses (``model.loss``), many seeds and
methods side by side in one process (or a pool), then evaluates frozen backbone features: weighted kNN
(k 20, t 0.1), 5-shot logistic regression (mean of 20 label draws) and a full-label offline linear probe
(standardised features, SGD 100 epochs). Reference rows, measured the same way: raw pixels and a
random-init encoder. Run it as ``fw amcl bench``.
"""

from __future__ import annotations

import json
import statistics
import time

import torch

from framework import MODELS

from .metric import evaluate_features, extract_features
from .metric import reference_rows as _reference_rows

AMCL_KW = dict(beta=1e-4, topk=100, tau_min=1e-5, tau_max=2.0, hidden=64)
CONTRASTIVE_NECK = dict(hidden=128, out_dim=32)
BT_NECK = dict(hidden=256, out_dim=256)

# name -> (model class, model kwargs, optimiser override or None); variants are run only when asked for.
METHODS = {
    'simclr': ('amcl.SimCLR', dict(amcl=False, num_heads=1, loss=dict(temperature=0.5)), None),
    'amcl_simclr': ('amcl.SimCLR', dict(amcl=True, num_heads=3, loss=AMCL_KW), None),
    'moco': (
        'amcl.MoCo',
        dict(amcl=False, num_heads=1, loss=dict(temperature=0.1), queue_size=512),
        None,
    ),
    'amcl_moco': ('amcl.MoCo', dict(amcl=True, num_heads=3, loss=AMCL_KW, queue_size=512), None),
    # the two-query form (symmetric=True); the default above is one query and one key per image
    'moco_sym': (
        'amcl.MoCo',
        dict(amcl=False, num_heads=1, loss=dict(temperature=0.1), queue_size=512, symmetric=True),
        None,
    ),
    'amcl_moco_sym': (
        'amcl.MoCo',
        dict(amcl=True, num_heads=3, loss=AMCL_KW, queue_size=512, symmetric=True),
        None,
    ),
    'barlow': (
        'amcl.BarlowTwins',
        dict(amcl=False, num_heads=1, neck=BT_NECK, loss=dict(lambd=5e-3)),
        None,
    ),
    'amcl_barlow': (
        'amcl.BarlowTwins',
        dict(
            amcl=True,
            num_heads=3,
            neck=BT_NECK,
            loss=dict(lambd=5e-3, beta=1e-6, batch_size=256, hidden=64),
        ),
        None,
    ),
    # named variants (each departure from the paper's recipe is reported next to it)
    'amcl_simclr_c1': ('amcl.SimCLR', dict(amcl=True, num_heads=1, loss=AMCL_KW), None),
    'amcl_simclr_beta1e-2': (
        'amcl.SimCLR',
        dict(amcl=True, num_heads=3, loss={**AMCL_KW, 'beta': 1e-2}),
        None,
    ),
    'amcl_simclr_taumin0.05': (
        'amcl.SimCLR',
        dict(amcl=True, num_heads=3, loss={**AMCL_KW, 'tau_min': 0.05}),
        None,
    ),
    'simclr_sgd': ('amcl.SimCLR', dict(amcl=False, num_heads=1, loss=dict(temperature=0.5)), 'sgd'),
    'amcl_simclr_sgd': ('amcl.SimCLR', dict(amcl=True, num_heads=3, loss=AMCL_KW), 'sgd'),
}
DEFAULT_METHODS = ('simclr', 'amcl_simclr', 'moco', 'amcl_moco', 'barlow', 'amcl_barlow')
PAIRS = {
    'amcl_simclr': 'simclr',
    'amcl_moco': 'moco',
    'amcl_moco_sym': 'moco_sym',
    'amcl_barlow': 'barlow',
    'amcl_simclr_sgd': 'simclr_sgd',
    'amcl_simclr_c1': 'simclr',
    'amcl_simclr_beta1e-2': 'simclr',
    'amcl_simclr_taumin0.05': 'simclr',
}


def _activate():
    """Make the fw registries know this plugin's components (needed in spawned worker processes)."""
    from framework import activate

    activate('amcl')


def load_data(dataset: str):
    """(train images, train labels, test images, test labels, stem stride) of the fixed split."""
    from .data import MlxtendMNIST, SklearnDigits

    cls, stride = {'mnist5k': (MlxtendMNIST, 2), 'digits': (SklearnDigits, 1)}[dataset]
    tr, te = cls('train'), cls('test')
    return tr.images.float() / tr.scale, tr.labels, te.images.float() / te.scale, te.labels, stride


def build_model(method: str, stride: int):
    typ, kw, _ = METHODS[method]
    kw = {**kw, 'neck': kw.get('neck', CONTRASTIVE_NECK)}
    return MODELS.build(
        dict(
            type=typ,
            backbone=dict(type='amcl.DigitConvNet', stem_stride=stride),
            augment=dict(type='amcl.DigitAugment'),
            **kw,
        )
    )


def evaluate(fn, data, device) -> dict:
    trx, try_, tex, tey = data
    tr = extract_features(lambda x: fn(x.to(device)), trx).cpu()
    te = extract_features(lambda x: fn(x.to(device)), tex).cpu()
    res = evaluate_features(tr, try_, te, tey)
    return dict(knn=res['knn'], fewshot5=res['fewshot'], probe=res['probe'])


def train_one(
    method: str,
    seed: int,
    dataset: str = 'mnist5k',
    epochs: int = 30,
    batch_size: int = 256,
    optimizer: str = 'adam',
    device: str = 'cpu',
    threads: int = 1,
) -> dict:
    torch.set_num_threads(threads)
    trx, try_, tex, tey, stride = load_data(dataset)
    torch.manual_seed(seed)
    model = build_model(method, stride).to(device)
    opt_name = METHODS[method][2] or optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if opt_name == 'adam':
        opt, sched = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-6), None
    else:
        opt = torch.optim.SGD(params, lr=0.06, momentum=0.9, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=epochs * (len(trx) // batch_size)
        )
    gen = torch.Generator().manual_seed(seed)
    losses, t0 = [], time.time()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(trx), generator=gen)
        for i in range(0, len(perm) - batch_size + 1, batch_size):  # drop_last
            out = model.loss(trx[perm[i : i + batch_size]].to(device))
            loss = out['loss']
            if not torch.isfinite(loss):
                raise FloatingPointError(f'{method} seed {seed}: non-finite loss')
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
            opt.step()
            if sched is not None:
                sched.step()
            model.after_update()
            losses.append(float(loss.detach()))
    stats = {k: float(v) for k, v in out.items() if k != 'loss'}
    model.eval()
    data = (trx, try_, tex, tey)
    with torch.no_grad():
        res = evaluate(model.extract_feat, data, device)
        post = evaluate(
            lambda x: torch.nn.functional.normalize(model.project(x)[:, 0], dim=-1), data, device
        )
    return dict(
        method=method,
        seed=seed,
        optimizer=opt_name,
        epochs=epochs,
        seconds=time.time() - t0,
        loss_first=losses[0],
        loss_last=sum(losses[-5:]) / 5,
        tau=stats,
        **res,
        post={k: v for k, v in post.items()},
    )


def reference_rows(
    seed: int, dataset: str = 'mnist5k', device: str = 'cpu', threads: int = 1
) -> list[dict]:
    torch.set_num_threads(threads)
    trx, try_, tex, tey, stride = load_data(dataset)
    rows = _reference_rows(
        trx, try_, tex, tey, dict(type='amcl.DigitConvNet', stem_stride=stride), seed
    )
    rename = lambda r: dict(knn=r['knn'], fewshot5=r['fewshot'], probe=r['probe'])  # noqa: E731
    return [
        dict(method=name, seed=seed, **rename(rows[name])) for name in ('raw_pixels', 'random_init')
    ]


def _fmt(vals):
    if len(vals) == 1:
        return f'{vals[0]:.3f}'
    return f'{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}'


def table(results: list[dict]) -> str:
    """Markdown table: mean ± std over seeds, then paired AMCL - baseline differences."""
    order = list(dict.fromkeys(r['method'] for r in results))
    by = {
        m: sorted((r for r in results if r['method'] == m), key=lambda r: r['seed']) for m in order
    }
    lines = [
        '| method | seeds | kNN (k 20) | 5-shot logreg | linear probe (full) | kNN on head-0 z | '
        'tau+ mean | top-k tau mean | loss first → last |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for m in order:
        rs = by[m]
        col = lambda key: _fmt([r[key] for r in rs])  # noqa: E731
        post = _fmt([r['post']['knn'] for r in rs]) if 'post' in rs[0] else '—'
        taus = [r.get('tau', {}) for r in rs]
        tp = (
            f'{statistics.mean(t["tau_pos_mean"] for t in taus):.3g}'
            if taus[0].get('tau_pos_mean') is not None
            else '—'
        )
        neg_key = 'tau_topk_mean' if 'tau_topk_mean' in taus[0] else 'tau_neg_mean'
        tn = f'{statistics.mean(t[neg_key] for t in taus):.3g}' if neg_key in taus[0] else '—'
        lf = (
            f'{statistics.mean(r["loss_first"] for r in rs):.4g} → {statistics.mean(r["loss_last"] for r in rs):.4g}'
            if 'loss_first' in rs[0]
            else '—'
        )
        lines.append(
            f'| {m} | {len(rs)} | {col("knn")} | {col("fewshot5")} | {col("probe")} | {post} | {tp} | {tn} | {lf} |'
        )
    diffs = []
    for m, base in PAIRS.items():
        if m in by and base in by:
            a, b = {r['seed']: r for r in by[m]}, {r['seed']: r for r in by[base]}
            seeds = sorted(set(a) & set(b))
            for key in ('knn', 'fewshot5', 'probe'):
                d = [a[s][key] - b[s][key] for s in seeds]
                wins = sum(x > 0 for x in d)
                diffs.append(
                    f'| {m} − {base} | {key} | {_fmt(d) if len(d) > 1 else f"{d[0]:+.3f}"} | '
                    f'{wins}/{len(d)} |'
                )
    if diffs:
        lines += [
            '',
            '| paired difference (per seed) | metric | mean ± std | AMCL wins |',
            '|---|---|---|---|',
        ] + diffs
    return '\n'.join(lines)


def _job(args):
    kind, method, seed, kw = args
    _activate()
    if kind == 'ref':
        return reference_rows(seed, kw['dataset'], kw['device'], kw['threads'])
    return [train_one(method, seed, **kw)]


def run(
    methods=DEFAULT_METHODS,
    seeds=(0, 1, 2),
    dataset='mnist5k',
    epochs=30,
    optimizer='adam',
    device='cpu',
    jobs=1,
    threads=1,
    out=None,
    log=print,
    references=True,
) -> list[dict]:
    kw = dict(dataset=dataset, epochs=epochs, optimizer=optimizer, device=device, threads=threads)
    tasks = [('ref', None, s, kw) for s in seeds] if references else []
    tasks += [('train', m, s, kw) for m in methods for s in seeds]
    results = []
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context('spawn').Pool(jobs) as pool:
            for rows in pool.imap_unordered(_job, tasks):
                results += rows
                log(json.dumps(rows))
    else:
        for t in tasks:
            rows = _job(t)
            results += rows
            log(json.dumps(rows))
    order = ['raw_pixels', 'random_init', *methods]
    results.sort(key=lambda r: (order.index(r['method']), r['seed']))
    if out:
        with open(out, 'w') as f:
            json.dump(results, f, indent=1)
    return results


def parse_methods(text: str) -> tuple[str, ...]:
    names = tuple(m.strip() for m in text.split(',') if m.strip())
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise ValueError(f'unknown method(s) {bad}; choose from {sorted(METHODS)}')
    return names


def main(argv=None, prog='fw amcl bench'):
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument('--dataset', default='mnist5k', choices=['mnist5k', 'digits'])
    p.add_argument(
        '--methods', default=','.join(DEFAULT_METHODS), help=f'comma list of {sorted(METHODS)}'
    )
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--optimizer', default='adam', choices=['adam', 'sgd'])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--jobs', type=int, default=1, help='parallel worker processes')
    p.add_argument('--threads', type=int, default=1, help='torch threads per worker')
    p.add_argument('--out', default=None, help='write all per-seed results as JSON here')
    p.add_argument(
        '--no-references', action='store_true', help='skip the raw-pixel / random-init rows'
    )
    p.add_argument(
        '--json', action='store_true', help='print the per-seed results as JSON, not the table'
    )
    a = p.parse_args(argv)
    _activate()
    t = time.time()
    res = run(
        parse_methods(a.methods),
        tuple(range(a.seeds)),
        a.dataset,
        a.epochs,
        a.optimizer,
        a.device,
        a.jobs,
        a.threads,
        a.out,
        references=not a.no_references,
        log=(lambda *_: None) if a.json else print,
    )
    if a.json:
        print(json.dumps(res, indent=1))
        return res
    print(
        f'\n{a.dataset}, {a.epochs} epochs, optimiser {a.optimizer}, device {a.device}, '
        f'{a.seeds} seeds, {time.time() - t:.0f} s; frozen backbone features (offline), fixed 70/30 split\n'
    )
    print(table(res))
    return res
