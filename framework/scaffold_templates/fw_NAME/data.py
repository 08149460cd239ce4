"""The data: generated here, so the demo needs no download."""
import numpy as np
import torch
from torch.utils.data import Dataset


class GaussianClusters(Dataset):
    """``num_classes`` Gaussian clusters in ``dim`` dimensions, generated from ``seed``.

    The cluster centres come from ``seed`` alone, so the train and val splits share them; the
    points of each split come from ``seed`` and the split name.

    Args:
        size: number of points.
        dim: dimension of each point.
        num_classes: number of clusters (= classes).
        spread: standard deviation of the points around their centre.
        split: ``'train'`` or ``'val'``.
        seed: seed of the centres and the points.
    """

    def __init__(self, size=2000, dim=16, num_classes=4, spread=1.0, split='train', seed=0):
        rng = np.random.default_rng(seed)
        centres = rng.normal(0.0, 2.0, size=(num_classes, dim))
        rng = np.random.default_rng([seed, 0 if split == 'train' else 1])
        self.labels = rng.integers(0, num_classes, size=size)
        self.points = (centres[self.labels] + rng.normal(0.0, spread, size=(size, dim)))
        self.points = torch.as_tensor(self.points, dtype=torch.float32)
        self.labels = torch.as_tensor(self.labels, dtype=torch.long)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return dict(inputs=self.points[i], labels=self.labels[i])
