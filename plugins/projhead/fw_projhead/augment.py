"""Batch augmentations on tensors (CPU or GPU), applied per view inside the training loop.

``translate``: random shifts with replicated edges (MNIST-5k). ``simclr``: a tensor version of the
SimCLR CIFAR recipe: random resized crop (scale 0.2..1, via one affine grid per batch), horizontal
flip, colour jitter (brightness/contrast/saturation 0.4, p = 0.8) and grayscale (p = 0.2); hue jitter
is left out. ``crop_flip``: pad-4 random crop + flip (supervised CIFAR training).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .data import random_translate


def _rand(n, lo, hi, device, generator):
    return torch.rand(n, generator=generator).to(device) * (hi - lo) + lo


def resized_crop_flip(x, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), flip=True, generator=None):
    n, dev = x.shape[0], x.device
    area = _rand(n, *scale, dev, generator)
    logr = _rand(n, math.log(ratio[0]), math.log(ratio[1]), dev, generator)
    r = torch.exp(logr)
    sw, sh = torch.sqrt(area * r).clamp(max=1.0), torch.sqrt(area / r).clamp(max=1.0)
    tx = (_rand(n, -1, 1, dev, generator)) * (1 - sw)
    ty = (_rand(n, -1, 1, dev, generator)) * (1 - sh)
    sgn = torch.ones(n, device=dev)
    if flip:
        sgn = torch.where(torch.rand(n, generator=generator).to(dev) < 0.5, -sgn, sgn)
    theta = torch.zeros(n, 2, 3, device=dev, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = sw * sgn, tx
    theta[:, 1, 1], theta[:, 1, 2] = sh, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='reflection', align_corners=False)


def colour_jitter(x, strength=0.4, p=0.8, p_gray=0.2, generator=None):
    n, dev = x.shape[0], x.device
    apply = (torch.rand(n, generator=generator) < p).to(dev).view(n, 1, 1, 1)
    b = _rand(n, 1 - strength, 1 + strength, dev, generator).view(n, 1, 1, 1)
    c = _rand(n, 1 - strength, 1 + strength, dev, generator).view(n, 1, 1, 1)
    s = _rand(n, 1 - strength, 1 + strength, dev, generator).view(n, 1, 1, 1)
    y = x * b
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    y = (y - mean) * c + mean
    gray = 0.299 * y[:, :1] + 0.587 * y[:, 1:2] + 0.114 * y[:, 2:3]
    y = (y - gray) * s + gray
    x = torch.where(apply, y.clamp(0, 1), x)
    to_gray = (torch.rand(n, generator=generator) < p_gray).to(dev).view(n, 1, 1, 1)
    g = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
    return torch.where(to_gray, g, x)


def crop_flip(x, pad=4, generator=None):
    n, dev = x.shape[0], x.device
    x = random_translate(x, pad, generator)
    flip = (torch.rand(n, generator=generator) < 0.5).to(dev).view(n, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def augment(x: torch.Tensor, cfg: dict | None, generator=None) -> torch.Tensor:
    """Apply the augmentation named by ``cfg['kind']`` (translate, crop_flip, simclr; None or 'none':
    unchanged) with the other keys of ``cfg`` as its parameters."""
    cfg = dict(cfg or {})
    kind = cfg.pop('kind', 'none')
    if kind == 'none':
        return x
    if kind == 'translate':
        return random_translate(x, cfg.get('max_shift', 2), generator)
    if kind == 'crop_flip':
        return crop_flip(x, cfg.get('pad', 4), generator)
    if kind == 'simclr':
        x = resized_crop_flip(x, tuple(cfg.get('scale', (0.2, 1.0))), generator=generator)
        return colour_jitter(
            x, cfg.get('jitter', 0.4), cfg.get('p_jitter', 0.8), cfg.get('p_gray', 0.2), generator
        )
    raise ValueError(f"unknown augmentation '{kind}'; expected none, translate, crop_flip, simclr")
