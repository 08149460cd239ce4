"""``fw train projhead <config>``: dispatch on the config's ``task``.

- ``theory``: the linear-network experiment (``theory_report.run_theory``), plots in the work dir.
- ``theory_relu``: the ReLU "absent feature" experiment (``theory_relu.run_relu``).
- ``pretrain``: SupCon / SimCLR / CE pretraining + pre/post probe (``engine.pretrain_and_probe``);
  the seed is ``--seed`` (``randomness.seed``), else the first of the config's ``seeds``.
"""
from __future__ import annotations

import json
import os


def _plain(cfg) -> dict:
    return cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)


def summarise_probe(result: dict) -> list[str]:
    lines = []
    for key, v in result['probe'].items():
        if isinstance(v, dict):
            lines.append(f"  {key:28s} acc {v['acc']:.4f}  worst-group {v['worst_group_acc']:.4f}")
    if 'classifier' in result:
        c = result['classifier']
        lines.append(f"  {'trained classifier (on z)':28s} acc {c['acc']:.4f}  "
                     f"worst-group {c['worst_group_acc']:.4f}")
    return lines


def train_from_config(cfg, log=print):
    c = _plain(cfg)
    task = c.get('task', 'pretrain')
    work_dir = c.get('work_dir') or os.path.join('work_dirs', 'projhead', 'run')
    os.makedirs(work_dir, exist_ok=True)
    if task == 'theory':
        from .theory_report import run_theory
        t = c.get('theory', {})
        return run_theory(n_layers=t.get('n_layers', 2), kappas=tuple(t.get('kappas', ())),
                          seeds=tuple(t.get('seeds', (0, 1, 2, 3, 4))), steps=t.get('steps'),
                          out_dir=work_dir, plot=t.get('plot', True), log=log)
    if task == 'theory_relu':
        from .theory_relu import run_relu
        t = c.get('theory_relu', {})
        results = [run_relu(seed=s, steps=t.get('steps', 3000), log=log)
                   for s in t.get('seeds', (0,))]
        with open(os.path.join(work_dir, 'theory_relu.json'), 'w') as f:
            json.dump(results, f, indent=1)
        return results
    if task == 'pretrain':
        from .engine import pretrain_and_probe
        seed = (c.get('randomness') or {}).get('seed')
        if seed is None:
            seed = (c.get('seeds') or [0])[0]
        result = pretrain_and_probe(c, seed=int(seed), work_dir=work_dir, log=log)
        log(f"[projhead] {c.get('method')} head={c.get('head')} seed={seed}: linear probe "
            f"(pre = h, post = z; probe fit on the 'probe' split, scored on 'test'):")
        for line in summarise_probe(result):
            log(line)
        log(f'[projhead] wrote {work_dir}/metrics.json and model.pth')
        return result
    raise ValueError(f"config task must be theory, theory_relu or pretrain, got '{task}'")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not v.get('_delete_'):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def load_plain_config(path: str) -> dict:
    """Read one of this plugin's python configs without mmengine (``_base_`` lists and dict
    merging as mmengine does for them); used by the benchmark scripts on machines without it."""
    ns: dict = {}
    with open(path) as f:
        exec(compile(f.read(), path, 'exec'), ns)
    cfg = {k: v for k, v in ns.items() if not k.startswith('__') and k != '_base_'}
    merged: dict = {}
    for base in ns.get('_base_', []):
        merged = _merge(merged, load_plain_config(os.path.join(os.path.dirname(path), base)))
    return _merge(merged, cfg)


def config_path(name: str) -> str:
    """Path of a packaged config by name (``supcon_mnist5k_shift``) or a file path."""
    if name.endswith('.py') and os.path.isfile(name):
        return name
    path = os.path.join(os.path.dirname(__file__), 'configs', name + '.py')
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no config '{name}' in fw_projhead/configs; "
                                f'`fw configs projhead` lists them')
    return path


def set_option(cfg: dict, key: str, value) -> None:
    """``a.b=c`` style override on a plain dict config."""
    parts = key.split('.')
    node = cfg
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
