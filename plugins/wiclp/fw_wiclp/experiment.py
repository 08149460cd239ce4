"""The shapes attribute-binding experiment behind ``fw wiclp binding`` (CPU stand-in for Table 1).

Stage A (cached) trains the base model; stage B trains CLP and WiCLP on ``comp_train`` renders for
each seed through ``fw train``; every arm then samples the same seeded noise per (prompt, sample)
and the attribute judge scores the images. Records go to ``OUT/records_<arm>_seed<k>.json`` (a rerun
skips arms already done, so seeds can run in parallel processes) and the table to
``OUT/summary.json``.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from .metric import RECORD_METRICS

ARMS = {
    'clp': 'wiclp_shapes_clp_cpu',
    'wiclp': 'wiclp_shapes_wiclp_cpu',
    'wiclp3': 'wiclp_shapes_wiclp3_cpu',
}
SPLITS = ('single', 'comp_train', 'comp_val')


def evaluate(
    model,
    split: str,
    samples_per_prompt: int = 4,
    batch: int = 96,
    res: int = 16,
    judge_seed: int = 0,
) -> list[dict]:
    """Generate every (prompt, sample) of ``split`` with its fixed noise and judge it."""
    from .cache import cached_judge
    from .metric import binding_records
    from .shapes import ShapePrompts

    judge = cached_judge(res, judge_seed)
    items = ShapePrompts(split, samples_per_prompt).items
    records = []
    model.eval()
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        images = model.generate([i['prompt'] for i in chunk], [i['noise_seed'] for i in chunk])
        samples = [
            dict(i, colours=i['colours'].tolist(), shapes=i['shapes'].tolist()) for i in chunk
        ]
        records += binding_records(judge, images * 2 - 1, samples)
    return records


def _base_model(seed_unet: int = 0):
    from framework import MODELS, load_config

    cfg = load_config('wiclp', ARMS['wiclp'])
    model_cfg = cfg.model.to_dict()
    model_cfg['projector'] = None
    model_cfg['diffusion']['unet_seed'] = seed_unet
    return MODELS.build(model_cfg)


def _train_arm(arm: str, seed: int, out: Path, steps: int | None):
    from framework import build_runner, load_config

    options = [f'train_cfg.max_iters={steps}'] if steps else []
    cfg = load_config(
        'wiclp',
        ARMS[arm],
        work_dir=str(out / f'{arm}_seed{seed}'),
        seed=seed,
        cfg_options=options,
        resume=True,
    )
    cfg.train_dataloader.dataset.seed = seed
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # evaluated below, all splits
    runner = build_runner(cfg)
    runner.train()
    return getattr(runner.model, 'module', runner.model)


def run_arm(
    arm: str, seed: int, out: Path, steps: int | None = None, samples_per_prompt: int = 4
) -> dict:
    """Train (stage B) and evaluate one arm for one seed; ``arm='base'`` is the frozen model."""
    path = out / f'records_{arm}_seed{seed}.json'
    if path.is_file():
        return json.loads(path.read_text())
    t0, c0 = time.time(), time.process_time()
    model = _base_model() if arm == 'base' else _train_arm(arm, seed, out, steps)
    t1, c1 = time.time(), time.process_time()
    result = dict(
        arm=arm,
        seed=seed,
        train_wall_s=t1 - t0,
        train_cpu_s=c1 - c0,
        records={s: evaluate(model, s, samples_per_prompt) for s in SPLITS},
    )
    result.update(eval_wall_s=time.time() - t1, eval_cpu_s=time.process_time() - c1)
    path.write_text(json.dumps(result))
    return result


def _per_prompt(records, key):
    by_prompt = {}
    for r in records:
        by_prompt.setdefault(r['prompt_index'], []).append(r[key])
    return np.array([np.mean(by_prompt[k]) for k in sorted(by_prompt)])


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0):
    """95% CI of mean(b - a) resampling prompts (pairs kept together)."""
    rng = random.Random(seed)
    diffs = b - a
    means = sorted(
        float(np.mean([diffs[rng.randrange(len(diffs))] for _ in diffs])) for _ in range(n)
    )
    return means[int(0.025 * n)], means[int(0.975 * n)]


def summarise(out: Path) -> dict:
    """Mean over seeds per arm and split, with a paired bootstrap CI of the gain over base."""
    results = [json.loads(p.read_text()) for p in sorted(out.glob('records_*_seed*.json'))]
    base = [r for r in results if r['arm'] == 'base']
    if not base:
        return {}
    base = base[0]
    summary = {}
    for arm in sorted({r['arm'] for r in results}):
        runs = [r for r in results if r['arm'] == arm]
        row = dict(
            seeds=[r['seed'] for r in runs],
            train_cpu_s=float(np.mean([r['train_cpu_s'] for r in runs])),
        )
        for split in SPLITS:
            for key in RECORD_METRICS:
                per_seed = [float(np.mean([x[key] for x in r['records'][split]])) for r in runs]
                row[f'{split}/{key}'] = float(np.mean(per_seed))
                row[f'{split}/{key}_seeds'] = per_seed
            if arm != 'base' and split != 'single':
                for key in ('binding', 'colour_binding', 'shape_binding'):
                    a = _per_prompt(base['records'][split], key)
                    b = np.mean([_per_prompt(r['records'][split], key) for r in runs], axis=0)
                    row[f'{split}/{key}_gain_ci95'] = paired_bootstrap(a, b)
        summary[arm] = row
    (out / 'summary.json').write_text(json.dumps(summary, indent=1))
    return summary


def table(summary: dict) -> str:
    """Markdown table: per split, binding (colour and shape) / colour binding / shape binding,
    single-object accuracy, and the gain in binding over base with its paired 95% CI."""
    lines = [
        '| arm | seeds | comp_train binding | comp_train colour / shape | comp_val binding | '
        'comp_val colour / shape | single-object acc. | gain comp_train (95% CI) | '
        'gain comp_val (95% CI) |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    base = summary['base']

    def gain(row, split):
        ci = row.get(f'{split}/binding_gain_ci95')
        if not ci:
            return '-'
        diff = row[f'{split}/binding'] - base[f'{split}/binding']
        return f'{diff:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]'

    for arm, row in summary.items():
        cells = [arm, str(len(row['seeds']))]
        for split in ('comp_train', 'comp_val'):
            cells += [
                f'{row[f"{split}/binding"]:.3f}',
                f'{row[f"{split}/colour_binding"]:.3f} / {row[f"{split}/shape_binding"]:.3f}',
            ]
        cells += [f'{row["single/binding"]:.3f}', gain(row, 'comp_train'), gain(row, 'comp_val')]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(
    out: str,
    seeds=(0, 1, 2),
    arms=('clp', 'wiclp'),
    steps: int | None = None,
    samples_per_prompt: int = 4,
) -> dict:
    torch.set_num_threads(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run_arm('base', 0, out, samples_per_prompt=samples_per_prompt)
    for seed in seeds:
        for arm in arms:
            run_arm(arm, seed, out, steps, samples_per_prompt)
    return summarise(out)
