"""Pre- vs post-projection probe accuracy under a distribution shift (projhead plugin).

Runs ``pretrain_and_probe`` for every (config, head, seed) -- by default SupCon and CE on
SpuriousBackgroundMNIST5k with no head, an MLP head and the fixed reweighting head, 3 seeds -- and
prints a markdown table of mean +- std over seeds. Works on a CPU or a GPU (device auto), needs only
torch + numpy (+ framework.data for MNIST-5k), not mmengine.

    PYTHONPATH=.:plugins/projhead python tools/bench/projhead_shift_table.py --jobs 2
    ... --set dataset.rho_train=0.8 --set epochs=30 --out shift.json
"""
from __future__ import annotations

import argparse
import ast
import json
import multiprocessing as mp
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for p in (ROOT, os.path.join(ROOT, 'plugins', 'projhead')):
    if p not in sys.path:
        sys.path.insert(0, p)


def _one(job):
    import torch
    from fw_projhead.engine import pretrain_and_probe
    torch.set_num_threads(1)
    cfg, seed, tag = job
    t = time.time()
    r = pretrain_and_probe(cfg, seed=seed, log=lambda *_: None)
    r['tag'], r['wall_s'] = tag, round(time.time() - t, 1)
    print(f"done {tag} seed {seed} in {r['wall_s']}s on {r['device']}", flush=True)
    return r


def _ms(v):
    return f'{np.mean(v):.3f} ± {np.std(v):.3f}'


def table(results, frac='1') -> str:
    rows = ['| method | head | n | pre acc | post acc | pre worst-group | post worst-group | '
            'trained classifier acc |', '|---|---|---|---|---|---|---|---|']
    keys = sorted({(r['tag'], r['head']) for r in results}, key=lambda k: k)
    for tag, head in keys:
        rs = [r for r in results if r['tag'] == tag and r['head'] == head]
        pre = [r['probe'][f'pre/frac{frac}/wd0.0001'] for r in rs]
        post = [r['probe'][f'post/frac{frac}/wd0.0001'] for r in rs]
        same = rs[0]['post_is_pre']
        clf = [r['classifier']['acc'] for r in rs if 'classifier' in r]
        rows.append(f"| {tag} | {head} | {len(rs)} | {_ms([p['acc'] for p in pre])} | "
                    f"{'= pre' if same else _ms([p['acc'] for p in post])} | "
                    f"{_ms([p['worst_group_acc'] for p in pre])} | "
                    f"{'= pre' if same else _ms([p['worst_group_acc'] for p in post])} | "
                    f"{_ms(clf) if clf else '-'} |")
    return '\n'.join(rows)


def main(argv=None):
    from fw_projhead.run import config_path, load_plain_config, set_option
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--configs', default='supcon_mnist5k_shift,ce_mnist5k_shift')
    ap.add_argument('--heads', default='none,mlp,fixed')
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--set', action='append', default=[], help='key=value config override')
    ap.add_argument('--jobs', type=int, default=1)
    ap.add_argument('--out', default=None)
    a = ap.parse_args(argv)
    jobs = []
    for name in a.configs.split(','):
        base = load_plain_config(config_path(name))
        for kv in a.set:
            k, v = kv.split('=', 1)
            try:
                v = ast.literal_eval(v)
            except (ValueError, SyntaxError):
                pass
            set_option(base, k, v)
        for head in a.heads.split(','):
            for seed in map(int, a.seeds.split(',')):
                cfg = dict(base, head=head)
                jobs.append((cfg, seed, base['method']))
    t = time.time()
    if a.jobs > 1:
        with mp.get_context('spawn').Pool(a.jobs) as pool:
            results = pool.map(_one, jobs, chunksize=1)
    else:
        results = [_one(j) for j in jobs]
    cfg0 = jobs[0][0]
    print(f"\n{len(results)} runs in {time.time() - t:.0f}s; dataset {cfg0['dataset']}; "
          f"epochs {cfg0['epochs']}; overrides {a.set}")
    for frac in ('1', '0.1'):
        print(f'\nlinear probe on the probe split, label fraction {frac}, scored on the shifted '
              f'test split (mean ± std over seeds):\n')
        print(table(results, frac))
    if a.out:
        with open(a.out, 'w') as f:
            json.dump({'overrides': a.set, 'results': results}, f, indent=1)


if __name__ == '__main__':
    main()
