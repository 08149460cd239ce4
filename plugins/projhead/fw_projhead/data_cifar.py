"""Real-scale data (spec §5, §8), read from torchvision's on-disk formats; nothing downloads.

- ``CIFAR100Coarse``: ``cifar-100-python/{train,test}``; ``labels`` = the 20 superclasses read from
  the pickles' ``coarse_labels`` (not from a hand-typed table), ``probe_labels`` = the 100 fine ones.
- ``CIFAR10``: ``cifar-10-batches-py/`` (``framework.data.load_cifar``).
- ``MNISTOnCIFAR10``: CIFAR-10 images with an MNIST digit (``MNIST/raw/*-ubyte``) blended in: the
  digit is resized to 16x16, zero-padded by 8 to 32x32, repeated to 3 channels; inside the digit
  mask the pixel is (1 - s) * cifar + s * digit (s = 0.7), outside it is cifar. ``render(idx, drop)``
  leaves the digit out where ``drop`` is True (DropDigit restores the CIFAR pixels). Label = digit.
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_TRAIN_SPLITS = ('pretrain', 'probe', 'train')


def _fw_error(msg):
    try:
        from framework.errors import FwError
    except ImportError:
        return FileNotFoundError(msg)
    return FwError(msg)


def _is_train(split: str) -> bool:
    if split not in _TRAIN_SPLITS + ('test',):
        raise ValueError(f"split must be one of {_TRAIN_SPLITS + ('test',)}, got '{split}'")
    return split in _TRAIN_SPLITS


class _ImageSet(Dataset):
    mean, std = CIFAR_MEAN, CIFAR_STD

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {'img': self.images[i], 'label': self.labels[i]}
        if hasattr(self, 'probe_labels'):
            item['probe_label'] = self.probe_labels[i]
        return item


class CIFAR10(_ImageSet):
    """CIFAR-10 as uint8 [N, 3, 32, 32] (pretrain/probe = train split, test = test split)."""

    def __init__(self, data_root: str, split: str = 'pretrain', limit: int | None = None):
        from framework.data import load_cifar
        x, y = load_cifar(data_root, 'cifar10', train=_is_train(split))
        self.images = torch.from_numpy(x[:limit]).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(y[:limit])
        self.num_classes = 10


def read_cifar100(root, train: bool):
    """(uint8 [N, 32, 32, 3], fine int64 [N], coarse int64 [N]) from ``cifar-100-python/``."""
    path = Path(root) / 'cifar-100-python' / ('train' if train else 'test')
    if not path.is_file():
        raise _fw_error(f'CIFAR-100 not found: expected {path} (torchvision layout '
                        f'cifar-100-python/{{train,test,meta}}); put it there and set data_root')
    with open(path, 'rb') as f:
        d = pickle.load(f, encoding='bytes')
    x = np.asarray(d[b'data'], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(d[b'fine_labels'], np.int64), np.asarray(d[b'coarse_labels'], np.int64)


class CIFAR100Coarse(_ImageSet):
    """CIFAR-100 trained on the 20 superclasses, probed on the 100 fine labels (coarse-to-fine)."""

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
            raise _fw_error(f'MNIST not found: expected {base / name} (torchvision layout '
                            f'MNIST/raw/*-ubyte); put it there and set mnist_root')
        raw = (gzip.open if path.suffix == '.gz' else open)(path, 'rb').read()
        out.append(np.frombuffer(raw, dtype=np.uint8, offset=offset))
    return out[0].reshape(-1, 28, 28), out[1].astype(np.int64)


class MNISTOnCIFAR10(_ImageSet):
    """MNIST digits on CIFAR-10 images (see module docstring); label = digit, ``s`` = digit opacity.

    Image i of a split is paired with MNIST digit i of the same split (cycled if there are fewer).
    """

    def __init__(self, data_root: str, mnist_root: str | None = None, split: str = 'pretrain',
                 s: float = 0.7, limit: int | None = None):
        from framework.data import load_cifar
        train = _is_train(split)
        x, cifar_y = load_cifar(data_root, 'cifar10', train=train)
        digits, digit_y = read_mnist_raw(mnist_root or data_root, train)
        n = len(x) if limit is None else min(limit, len(x))
        j = np.arange(n) % len(digits)
        d = torch.from_numpy(digits[j].astype(np.float32) / 255.0)[:, None]
        d = F.pad(F.interpolate(d, size=(16, 16), mode='bilinear', align_corners=False), (8,) * 4)
        self.cifar = torch.from_numpy(x[:n]).permute(0, 3, 1, 2).contiguous()  # uint8
        self.digits = (d.clamp(0, 1) * 255).to(torch.uint8)                      # [n, 1, 32, 32]
        self.labels = torch.from_numpy(digit_y[j])
        self.cifar_labels = torch.from_numpy(cifar_y[:n])
        self.s, self.num_classes = float(s), 10

    @property
    def images(self):
        return self.render(torch.arange(len(self.labels)))

    def render(self, idx, drop=None) -> torch.Tensor:
        """Float images in 0..1 of ``idx``; the digit is left out where ``drop`` is True."""
        c = self.cifar[idx].float() / 255.0
        d = self.digits[idx].float() / 255.0
        mask = (d > 0).float()
        if drop is not None:
            mask = mask * (~drop.bool()).float().view(-1, 1, 1, 1)
        return (1 - mask) * c + mask * ((1 - self.s) * c + self.s * d)
