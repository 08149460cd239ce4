"""Tiny random samples written in the exact on-disk formats the real loaders read (torchvision's
CIFAR-10/100 python pickles, MNIST raw idx-ubyte files): for tests and GPU smoke runs only."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def write_fake_cifar10(root, n_train_per_batch=20, n_test=20, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    base = Path(root) / 'cifar-10-batches-py'
    base.mkdir(parents=True, exist_ok=True)
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    for name in names:
        n = n_test if name == 'test_batch' else n_train_per_batch
        d = {
            b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b'labels': rng.integers(0, 10, n).tolist(),
            b'batch_label': name.encode(),
        }
        with open(base / name, 'wb') as f:
            pickle.dump(d, f)
    return base


def write_fake_cifar100(root, n_train=100, n_test=40, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    base = Path(root) / 'cifar-100-python'
    base.mkdir(parents=True, exist_ok=True)
    for name, n in (('train', n_train), ('test', n_test)):
        fine = rng.integers(0, 100, n)
        d = {
            b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b'fine_labels': fine.tolist(),
            b'coarse_labels': (fine // 5).tolist(),
            b'filenames': [b'x.png'] * n,
        }
        with open(base / name, 'wb') as f:
            pickle.dump(d, f)
    with open(base / 'meta', 'wb') as f:
        pickle.dump(
            {
                b'fine_label_names': [b'c%d' % i for i in range(100)],
                b'coarse_label_names': [b'c%d' % i for i in range(20)],
            },
            f,
        )
    return base


def write_fake_mnist(root, n_train=100, n_test=40, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    base = Path(root) / 'MNIST' / 'raw'
    base.mkdir(parents=True, exist_ok=True)
    for pre, n in (('train', n_train), ('t10k', n_test)):
        img = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        lab = rng.integers(0, 10, n).astype(np.uint8)
        (base / f'{pre}-images-idx3-ubyte').write_bytes(
            struct.pack('>IIII', 2051, n, 28, 28) + img.tobytes()
        )
        (base / f'{pre}-labels-idx1-ubyte').write_bytes(struct.pack('>II', 2049, n) + lab.tobytes())
    return base
