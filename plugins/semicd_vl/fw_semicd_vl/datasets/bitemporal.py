"""``BiTemporalCDDataset``: LEVIR-CD / WHU-CD folder layout (root/A, root/B, root/label) + split files."""
from __future__ import annotations

import math
import os.path as osp

from torch.utils.data import Dataset

from ..errors import FwError
from .splits import read_ids
from .transforms import build_pipeline

MODES = ('labeled', 'unlabeled', 'test')


class BiTemporalCDDataset(Dataset):
    """One entry per id of ``split_file`` (or ``ids``).

    modes: ``labeled`` (label + VL maps), ``unlabeled`` (VL maps, never ``label/``), ``test`` (label).
    ``num_samples`` repeats the id list cyclically to that length (labeled list -> |U|, as UniMatch).
    ``vl_seg_root``/``vl_change_root``: disk pseudo-labels (``<vl_seg_root>/{A,B}/<id>``,
    ``<vl_change_root>/<id>``); when None the VL keys are not provided.
    """

    METAINFO = dict(classes=('unchanged', 'changed'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self, data_root, split_file=None, ids=None, mode='labeled', pipeline=(),
                 vl_seg_root=None, vl_change_root=None, num_samples=None, label_mode='strict',
                 prepare=None, test_mode=False, lazy_init=False, **kwargs):
        if prepare == 'toy':  # CPU demo config: generate the synthetic set on first use
            from .toy import prepare_toy
            prepare_toy(data_root)
        elif prepare is not None:
            raise FwError(f"prepare must be None or 'toy', got {prepare!r}")
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
        self.pipeline = build_pipeline(pipeline)

    def __len__(self):
        return len(self.ids)

    def get_data_info(self, idx):
        i = self.ids[idx]
        info = dict(id=i, img_a_path=osp.join(self.data_root, 'A', i),
                    img_b_path=osp.join(self.data_root, 'B', i), seg_fields=[])
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
