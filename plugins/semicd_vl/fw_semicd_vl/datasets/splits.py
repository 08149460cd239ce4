"""UniMatch-style split files: ``splits/<set>/<pct>/{labeled,unlabeled}.txt`` and ``splits/<set>/test.txt``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import FwError

PCTS = ('5%', '10%', '20%', '40%')


def read_ids(path):
    path = Path(path)
    if not path.is_file():
        raise FwError(f'split file {path} not found; write one with `fw semicd_vl make-splits` '
                      'or copy UniMatch\'s splits/<set>/<pct>/ files there')
    ids = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not ids:
        raise FwError(f'split file {path} is empty')
    return ids


def write_ids(path, ids):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(f'{i}\n' for i in ids))


def pct_value(pct):
    return float(str(pct).rstrip('%')) / 100.0


def make_splits(ids, pct, seed=0):
    """labeled = first floor(P·N) of a seeded permutation, unlabeled = the rest (both sorted by that order)."""
    ids = sorted(ids)
    perm = np.random.RandomState(seed).permutation(len(ids))
    n_lab = int(np.floor(pct_value(pct) * len(ids)))
    if n_lab < 1:
        raise FwError(f'{pct} of {len(ids)} training ids is less than one labeled pair')
    lab = [ids[i] for i in perm[:n_lab]]
    unl = [ids[i] for i in perm[n_lab:]]
    return lab, unl


def write_splits(split_dir, train_ids, pcts=PCTS, seed=0, test_ids=None, val_ids=None):
    """Write ``<split_dir>/<pct>/{labeled,unlabeled}.txt`` (+ ``test.txt``/``val.txt``)."""
    split_dir = Path(split_dir)
    for pct in pcts:
        lab, unl = make_splits(train_ids, pct, seed)
        write_ids(split_dir / pct / 'labeled.txt', lab)
        write_ids(split_dir / pct / 'unlabeled.txt', unl)
    if test_ids is not None:
        write_ids(split_dir / 'test.txt', test_ids)
    if val_ids is not None:
        write_ids(split_dir / 'val.txt', val_ids)
    return split_dir


def list_image_ids(data_root):
    a = Path(data_root) / 'A'
    if not a.is_dir():
        raise FwError(f'{a} not found: expected the LEVIR-CD/WHU-CD layout root/A, root/B, root/label')
    return sorted(p for p in os.listdir(a) if p.lower().endswith(('.png', '.jpg', '.tif')))
