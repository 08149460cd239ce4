"""Data of SemiCD-VL: the LEVIR-CD / WHU-CD folder layout and UniMatch-style split files.

A data root holds ``A/<id>``, ``B/<id>`` (the two dates, RGB) and ``label/<id>`` (change label,
0/255); split files list ids, one per line: ``splits/<set>/<pct>/{labeled,unlabeled}.txt`` and
``splits/<set>/{val,test}.txt`` (the semi-supervised protocol of the paper, Sec. IV-A: 5/10/20/40 %
of the training pairs labeled).
"""

from __future__ import annotations

import math
import os
import os.path as osp
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from framework import FwError, mm_registries

from .roots import check_resolved

PCTS = ('5%', '10%', '20%', '40%')


def read_ids(path):
    path = Path(path)
    if not path.is_file():
        raise FwError(
            f'split file {path} not found; write one with `fw semicd_vl make-splits` '
            "or copy UniMatch's splits/<set>/<pct>/ files there"
        )
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
    """labeled = first floor(P·N) of a seeded permutation, unlabeled = the rest (both sorted by that
    order)."""
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
        raise FwError(
            f'{a} not found: expected the LEVIR-CD/WHU-CD layout root/A, root/B, root/label'
        )
    return sorted(p for p in os.listdir(a) if p.lower().endswith(('.png', '.jpg', '.tif')))


MODES = ('labeled', 'unlabeled', 'test')


class BiTemporalCDDataset(Dataset):
    """Bi-temporal change-detection pairs in the LEVIR-CD / WHU-CD folder layout.

    One entry per id of ``split_file``, each a results dict run through ``pipeline``.

    Args:
        data_root: folder with ``A/``, ``B/`` and ``label/``.
        split_file: id list, relative to ``data_root`` or absolute; or give ``ids``.
        ids: the ids themselves (instead of ``split_file``).
        mode: ``'labeled'`` (label and VL maps), ``'unlabeled'`` (VL maps; ``label/`` is never
            read) or ``'test'`` (label).
        pipeline: transforms, as objects or ``dict(type=...)`` configs.
        vl_seg_root: VLM building maps ``<vl_seg_root>/{A,B}/<id>`` (0, 1, 255 unsure), or None
            (with ``vl_change_root`` None too: no VLM maps, as the baselines).
        vl_change_root: VLM change maps ``<vl_change_root>/<id>`` (0, 1, 255 unsure), or None.
        num_samples: repeat the id list cyclically to this length (UniMatch repeats the labeled
            list to the size of the unlabeled one).
        label_mode: kept for configs written for the label loader (``'strict'``/``'threshold'``).
        prepare: ``'toy'`` generates the synthetic toy set at ``data_root`` on first use.
        test_mode, lazy_init: accepted for mmengine dataset configs; unused.
    """

    METAINFO = dict(classes=('unchanged', 'changed'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(
        self,
        data_root,
        split_file=None,
        ids=None,
        mode='labeled',
        pipeline=(),
        vl_seg_root=None,
        vl_change_root=None,
        num_samples=None,
        label_mode='strict',
        prepare=None,
        test_mode=False,
        lazy_init=False,
        **kwargs,
    ):
        check_resolved(data_root, 'data_root')
        check_resolved(vl_seg_root, 'vl_seg_root')
        check_resolved(vl_change_root, 'vl_change_root')
        if (vl_seg_root is None) != (vl_change_root is None):
            raise FwError(
                'give both vl_seg_root and vl_change_root (SemiCD-VL) or neither (the supervised '
                f'and FixMatch baselines); got vl_seg_root={vl_seg_root!r}, '
                f'vl_change_root={vl_change_root!r}'
            )
        if prepare == 'toy':  # CPU demo config: generate the synthetic set on first use
            from .toy import prepare_toy

            prepare_toy(data_root)
        elif prepare is not None:
            raise FwError(f"prepare must be None or 'toy', got {prepare!r}")
        if not osp.isdir(osp.join(data_root, 'A')):
            raise FwError(
                f'data_root {data_root!r} has no A/ folder: expected the LEVIR-CD/WHU-CD layout '
                '<data_root>/{A,B,label}/<id> with split files under it (set the config key '
                'data_root, e.g. --cfg-options data_root=/path/to/LEVIR-CD256)'
            )
        if mode not in MODES:
            raise FwError(f'mode must be one of {MODES}, got {mode!r}')
        self.data_root, self.mode = data_root, mode
        self.vl_seg_root, self.vl_change_root = vl_seg_root, vl_change_root
        self.label_mode = label_mode
        self.metainfo = dict(self.METAINFO)
        if ids is None:
            if split_file is None:
                raise FwError('BiTemporalCDDataset needs split_file= or ids=')
            sf = split_file if osp.isabs(split_file) else osp.join(data_root, split_file)
            ids = read_ids(sf)
        self.ids = list(ids)
        if num_samples is not None and num_samples > len(self.ids):
            self.ids = (self.ids * math.ceil(num_samples / len(self.ids)))[:num_samples]
        transforms = mm_registries('semicd_vl', 'mmseg').TRANSFORMS
        self.pipeline = [transforms.build(t) if isinstance(t, dict) else t for t in pipeline or ()]

    def __len__(self):
        return len(self.ids)

    def get_data_info(self, idx):
        i = self.ids[idx]
        info = dict(
            id=i,
            img_a_path=osp.join(self.data_root, 'A', i),
            img_b_path=osp.join(self.data_root, 'B', i),
            seg_fields=[],
        )
        if self.mode != 'unlabeled':
            info['label_path'] = osp.join(self.data_root, 'label', i)
        if self.vl_seg_root is not None:
            info['vl_a_path'] = osp.join(self.vl_seg_root, 'A', i)
            info['vl_b_path'] = osp.join(self.vl_seg_root, 'B', i)
        if self.vl_change_root is not None:
            info['vl_change_path'] = osp.join(self.vl_change_root, i)
        return info

    def __getitem__(self, idx):
        results = self.get_data_info(idx)
        for t in self.pipeline:
            results = t(results)
        return results
