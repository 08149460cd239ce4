"""``fw projhead bench``: pre- vs post-projection probe under the shift, every head x seed side by side.

Each run is ``fw train projhead <config> --seed S`` (a separate process, ``--jobs`` at a time, one torch
thread each); the final validation metrics are read back from the run's ``scalars.json`` and printed as
the README's table: mean ± std over seeds of the probe accuracy and worst-group accuracy on h (pre) and
z (post), and the trained classifier for CE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

CONFIGS = tuple(
    f'{m}_mnist5k_shift_{h}' for m in ('supcon', 'ce') for h in ('none', 'mlp', 'fixed')
)


def final_metrics(work_dir) -> dict:
    """The last validation record of the newest run in ``work_dir`` (its ``vis_data/scalars.json``)."""
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'no scalars.json under {work_dir}: did the run fail? see its log')
    rows = [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]
    vals = [r for r in rows if any(k.endswith('/acc') for k in r)]
    if not vals:
        raise ValueError(f'{files[-1]} has no validation metrics')
    return vals[-1]


def run_one(config: str, seed: int, out_dir: str, options=()) -> dict:
    work_dir = os.path.join(out_dir, config, f'seed{seed}')
    cmd = [
        sys.executable,
        '-m',
        'framework.cli',
        'train',
        'projhead',
        config,
        '--seed',
        str(seed),
        '--work-dir',
        work_dir,
        *[a for o in options for a in ('--cfg-options', o)],
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    t = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{proc.stderr[-2000:]}')
    return dict(
        config=config, seed=seed, wall_s=round(time.time() - t, 1), metrics=final_metrics(work_dir)
    )


def _ms(values) -> str:
    return f'{np.mean(values):.3f} ± {np.std(values):.3f}' if values else '–'


def table(results, frac: str = '1') -> str:
    rows = [
        '| training | head | n | pre (h) acc | post (z) acc | pre worst-group | post worst-group '
        '| trained classifier |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for config in dict.fromkeys(r['config'] for r in results):
        rs = [r['metrics'] for r in results if r['config'] == config]
        method, head = config.split('_mnist5k_shift_')
        same = head == 'none'  # no head: z = h
        cell = lambda rep, m: _ms([r[f'{rep}/frac{frac}/wd0.0001/{m}'] for r in rs])  # noqa: E731
        clf = _ms([r['classifier/acc'] for r in rs if 'classifier/acc' in r])
        rows.append(
            f'| {"SupCon" if method == "supcon" else "CE"} | {head} | {len(rs)} | '
            f'{cell("pre", "acc")} | {"= pre" if same else cell("post", "acc")} | '
            f'{cell("pre", "worst_group_acc")} | '
            f'{"= pre" if same else cell("post", "worst_group_acc")} | {clf} |'
        )
    return '\n'.join(rows)


def main(argv=None, prog='fw projhead bench'):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument('--configs', default=','.join(CONFIGS))
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--jobs', type=int, default=1, help='runs in parallel')
    ap.add_argument('--out', default='work_dirs/projhead/bench', help='work dirs of the runs')
    ap.add_argument(
        '--cfg-options',
        dest='options',
        action='append',
        default=[],
        help='KEY=VALUE passed to every run (repeatable)',
    )
    ap.add_argument('--json', action='store_true', help='print the per-run metrics as JSON')
    a = ap.parse_args(argv)
    jobs = [(c, int(s)) for c in a.configs.split(',') for s in a.seeds.split(',')]
    t = time.time()
    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        results = list(pool.map(lambda j: run_one(j[0], j[1], a.out, a.options), jobs))
    if a.json:
        print(json.dumps(results, indent=1))
        return results
    print(
        f'{len(results)} runs in {time.time() - t:.0f} s (wall per run: '
        f'{min(r["wall_s"] for r in results):.0f}-{max(r["wall_s"] for r in results):.0f} s); '
        f'overrides {a.options}'
    )
    for frac in ('1', '0.1'):
        print(
            f'\nprobe fitted on the probe split with {float(frac):.0%} of its labels, scored on the '
            f'decorrelated test split (mean ± std over seeds):\n'
        )
        print(table(results, frac))
    return results
