"""``fw report WORK_DIR``: the logged scalars of every run in a work dir as one PNG and a summary.

Reads mmengine's ``*/vis_data/scalars.json`` (one per run; a resumed run replaces the steps it
repeats), groups the series into panels (losses, learning rate, validation metrics by prefix,
other training series by prefix, e.g. a plugin's temperatures) and writes ``report.png``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from .errors import FwError

SKIP = {'epoch', 'iter', 'step', 'time', 'data_time', 'memory'}


def read_runs(work_dir: Path) -> tuple[dict, dict, list[Path]]:
    """(train rows by iteration, validation rows by step, run folders) of all runs, oldest first."""
    runs = sorted(p.parent.parent for p in work_dir.glob('*/vis_data/scalars.json'))
    if not runs:
        raise FwError(
            f'{work_dir} holds no logged scalars (*/vis_data/scalars.json); is it the '
            f'--work-dir of a `fw train` run?'
        )
    train, val = {}, {}
    for run in runs:
        for line in (run / 'vis_data' / 'scalars.json').read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                (train if 'iter' in row else val)[row['step']] = row
    return dict(sorted(train.items())), dict(sorted(val.items())), runs


def _panels(rows: dict, validation: bool) -> dict[str, list[str]]:
    keys = sorted(
        {
            k
            for row in rows.values()
            for k, v in row.items()
            if k not in SKIP and isinstance(v, (int, float))
        }
    )
    panels: dict[str, list[str]] = {}
    for key in keys:
        if validation:
            group = 'val: ' + re.split(r'[/_]', key)[0]
        elif key.startswith('loss'):
            group = 'loss'
        elif key.endswith('lr'):
            group = 'learning rate'
        else:
            group = re.split(r'[/_]', key)[0]
        panels.setdefault(group, []).append(key)
    return panels


def _wall_seconds(runs: list[Path]) -> float:
    total = 0.0
    for run in runs:
        try:
            start = datetime.strptime(run.name, '%Y%m%d_%H%M%S').timestamp()
        except ValueError:
            continue
        ends = [p.stat().st_mtime for p in run.rglob('*') if p.is_file()]
        total += max(ends, default=start) - start
    return total


def report(work_dir: str) -> dict:
    """Write WORK_DIR/report.png; return the summary (``text`` holds its lines)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    work = Path(work_dir)
    if not work.is_dir():
        raise FwError(f'work dir {work_dir} does not exist')
    train, val, runs = read_runs(work)
    by_epoch = any('epoch' in r for r in train.values())
    groups = [(name, keys, train, 'iteration') for name, keys in _panels(train, False).items()]
    val_x = 'epoch' if by_epoch else 'iteration'
    if len(val) > 1:  # one validation (at the end) is a table in the summary, not a curve
        groups += [(name, keys, val, val_x) for name, keys in _panels(val, True).items()]
    order = {'loss': 0, 'learning rate': 1}
    groups.sort(key=lambda g: (order.get(g[0], 2 if g[0].startswith('val') else 3), g[0]))
    cols = 2 if len(groups) > 1 else 1
    nrows = -(-len(groups) // cols) or 1
    plt.rcParams.update({'font.size': 11})
    fig, axes = plt.subplots(nrows, cols, figsize=(7 * cols, 3.6 * nrows), squeeze=False)
    for ax, (name, keys, rows, xlabel) in zip(axes.flat, groups):
        for key in keys[:10]:
            points = [(step, r[key]) for step, r in rows.items() if key in r]
            ax.plot(
                *zip(*points), marker='o' if len(points) < 30 else None, markersize=3, label=key
            )
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel('learning rate' if name == 'learning rate' else 'value')
        if name == 'learning rate' and all(r.get(k, 1) > 0 for r in rows.values() for k in keys):
            ax.set_yscale('log')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc='best')
    for ax in list(axes.flat)[len(groups) :]:
        ax.axis('off')
    fig.suptitle(f'{work.name}: {max(train, default=0)} iterations, {len(runs)} run(s)')
    fig.tight_layout()
    png = work / 'report.png'
    fig.savefig(png, dpi=110)
    plt.close(fig)

    last_train = list(train.values())[-1] if train else {}
    last_val = list(val.values())[-1] if val else {}
    final = {
        k: v
        for k, v in {**last_train, **last_val}.items()
        if k not in SKIP and isinstance(v, (int, float))
    }
    checkpoints = sorted(p.name for p in work.glob('*.pth'))
    result = {
        'work_dir': str(work),
        'png': str(png),
        'runs': [r.name for r in runs],
        'iterations': max(train, default=0),
        'final': final,
        'checkpoints': checkpoints,
        'wall_seconds': round(_wall_seconds(runs), 1),
    }
    width = max((len(k) for k in final), default=0)
    result['text'] = (
        [
            f'{work}: {len(runs)} run(s), {result["iterations"]} iterations, '
            f'{result["wall_seconds"]:.0f} s wall',
            'final values:',
        ]
        + [f'  {k:<{width}}  {v:.4g}' for k, v in final.items()]
        + [f'checkpoints: {", ".join(checkpoints) or "(none)"}', f'plots: {png}']
    )
    return result
