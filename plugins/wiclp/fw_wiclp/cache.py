"""Cached artefacts of the shapes experiment: the attribute judge and the stage-A base UNet.

Both live under ``${FW_CACHE_DIR:-~/.cache/fw}/wiclp/`` as plain tensor state dicts (loaded with
``weights_only=True``), keyed by everything that determines them, and are written atomically.
The base UNet is trained through ``fw train wiclp wiclp_shapes_base_cpu`` (the mmengine Runner)
the first time a stage-B config needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from framework import FwError, atomic_replace

BASE_CONFIG = 'wiclp_shapes_base_cpu'


def cache_dir() -> Path:
    root = Path(os.environ.get('FW_CACHE_DIR') or Path.home() / '.cache' / 'fw') / 'wiclp'
    root.mkdir(parents=True, exist_ok=True)
    return root


def _save(state: dict, path: Path) -> None:
    tmp = path.with_name(f'.{path.name}.tmp')
    torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, tmp)
    atomic_replace(tmp, path)


def cached_judge(res: int = 16, seed: int = 0):
    """The attribute judge for ``res``, trained on first use (about a minute on one core)."""
    from .judge import AttributeJudge, train_judge

    path = cache_dir() / f'judge_res{res}_seed{seed}.pt'
    judge = AttributeJudge()
    if path.is_file():
        judge.load_state_dict(torch.load(path, map_location='cpu', weights_only=True))
        return judge.eval()
    judge, _ = train_judge(res, seed)
    _save(judge.state_dict(), path)
    return judge


def base_unet_path(
    res: int, text_seed: int, unet_seed: int, steps: int, prediction_type: str = 'epsilon'
) -> Path:
    kind = '' if prediction_type == 'epsilon' else f'_{prediction_type}'
    return cache_dir() / f'shapes_base_res{res}_text{text_seed}_unet{unet_seed}_it{steps}{kind}.pt'


def cached_base_unet(
    res: int, text_seed: int, unet_seed: int, steps: int, prediction_type: str = 'epsilon'
) -> str:
    """Path of the stage-A UNet weights; trains them with the Runner when absent."""
    path = base_unet_path(res, text_seed, unet_seed, steps, prediction_type)
    if path.is_file():
        return str(path)
    from framework import activate, build_runner, load_config

    activate('wiclp')
    work_dir = cache_dir() / 'work' / path.stem
    cfg = load_config(
        'wiclp',
        BASE_CONFIG,
        work_dir=str(work_dir),
        seed=unet_seed,
        cfg_options=[f'train_cfg.max_iters={steps}'],
        resume=True,
    )
    cfg.model.diffusion.update(
        res=res, text_seed=text_seed, unet_seed=unet_seed, prediction_type=prediction_type
    )
    cfg.train_dataloader.dataset.update(res=res, seed=unet_seed)
    runner = build_runner(cfg)
    runner.train()
    model = getattr(runner.model, 'module', runner.model)
    if not model.train_unet:
        raise FwError(f'{BASE_CONFIG} must train the UNet (model.train_unet=True)')
    _save(model.parts.unet.state_dict(), path)
    return str(path)
