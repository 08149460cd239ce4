"""``fw wiclp generate``: PNGs from a config's model, optionally a side-by-side comparison grid.

The projector is read from the checkpoint itself (``projector.proj.*``: CLP; ``projector.conv.*``:
WiCLP with the kernel's window), so one config serves every arm; without ``--ckpt`` the model has
no projection (the base model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from framework import MODELS, FwError


def projector_from_checkpoint(path: str) -> tuple[str, torch.nn.Module]:
    """(label, projector with the checkpoint's weights)."""
    from framework import load_checkpoint
    from framework.checkpoint import trusted

    from .neck import CLP, MLPSkip, WiCLP

    with trusted(path):  # a file the user named on the command line
        state = load_checkpoint(path, map_location='cpu')
    state = state.get('state_dict', state)
    state = {
        k.removeprefix('module.').removeprefix('projector.'): v
        for k, v in state.items()
        if k.removeprefix('module.').startswith('projector.')
    }
    if 'proj.weight' in state:
        module, label = CLP(state['proj.weight'].shape[0]), 'CLP'
        if 'net.0.weight' in state:
            raise FwError(f'{path}: unexpected projector keys {sorted(state)}')
    elif 'conv.weight' in state:
        w = state['conv.weight']
        module, label = WiCLP(w.shape[0], window=w.shape[-1]), f'WiCLP w={w.shape[-1]}'
    elif 'net.0.weight' in state:
        module, label = (
            MLPSkip(state['net.2.weight'].shape[0], state['net.0.weight'].shape[0]),
            'MLPSkip',
        )
    else:
        raise FwError(
            f'{path} holds no projector weights (keys projector.*); give a checkpoint '
            f'written by `fw train wiclp <config>`'
        )
    module.load_state_dict(state)
    return label, module.eval()


def build(config: str, switch_off_t=None, steps=None):
    from framework import load_config

    cfg = load_config('wiclp', config)
    model_cfg = cfg.model.to_dict()
    model_cfg['projector'] = None
    model_cfg['train_unet'] = False
    sampling = dict(model_cfg.get('sampling') or {})
    if switch_off_t is not None:
        sampling['switch_off_t'] = switch_off_t
    if steps is not None:
        sampling['num_inference_steps'] = steps
    model_cfg['sampling'] = sampling
    return MODELS.build(model_cfg).eval()


def to_pil(image: torch.Tensor, scale: int) -> Image.Image:
    array = (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    pil = Image.fromarray(array)
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)


def grid(columns: dict[str, list[Image.Image]], seeds, title: str) -> Image.Image:
    """Columns = arms, rows = seeds, a label above each column and before each row."""
    cell = next(iter(columns.values()))[0].size
    pad, top, left = 4, 34, 56
    width = left + len(columns) * (cell[0] + pad)
    height = top + len(seeds) * (cell[1] + pad)
    canvas = Image.new('RGB', (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title[:110], fill=(0, 0, 0))
    for c, (label, images) in enumerate(columns.items()):
        x = left + c * (cell[0] + pad)
        draw.text((x, 18), label, fill=(0, 0, 0))
        for r, image in enumerate(images):
            canvas.paste(image, (x, top + r * (cell[1] + pad)))
    for r, seed in enumerate(seeds):
        draw.text((4, top + r * (cell[1] + pad) + cell[1] // 2 - 5), f'seed {seed}', fill=(0, 0, 0))
    return canvas


def run(
    config, prompt, ckpts, out, seeds, switch_off_t=None, steps=None, compare=False, scale=None
) -> list[str]:
    model = build(config, switch_off_t, steps)
    arms = [('no projection', None)] if (compare or not ckpts) else []
    arms += [projector_from_checkpoint(c) for c in ckpts]
    if compare and len(arms) < 2:
        raise FwError('--compare needs at least one --ckpt (e.g. a CLP and a WiCLP checkpoint)')
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    columns, paths = {}, []
    for label, projector in arms:
        model.projector = projector
        images = model.generate([prompt] * len(seeds), seeds)
        scale_ = scale or max(1, 256 // images.shape[-1])
        columns[label] = [to_pil(img, scale_) for img in images]
        slug = label.lower().replace(' ', '_').replace('=', '')
        for seed, pil in zip(seeds, columns[label]):
            path = out / f'{slug}_seed{seed}.png'
            pil.save(path)
            paths.append(str(path))
    if compare:
        t_s = model.sampling['switch_off_t']
        path = out / 'compare.png'
        grid(columns, seeds, f'{prompt!r}  (T_s={t_s})').save(path)
        paths.append(str(path))
    return paths
