"""Disk formats.

Training format (a): ``<vl_seg_root>/{A,B}/<id>`` uint8 PNG (0 not building, 1 building, 255
unsure) and ``<vl_change_root>/<id>`` uint8 PNG (0 no change, 1 change event, 255 unsure);
optional ``meta.json``.
Raw generator output (input of ``ceg``): ``<raw>/{A,B}/<stem>.npy`` (K×H×W class probabilities in
prompt order) and ``<raw>/{A,B}/<stem>.json`` (list of {"category_id", "score", "segmentation":
COCO RLE}). ``gen-pseudo`` stores the probabilities as float32, the precision at which the
official CEG compares them with the 0.8 plane: float16 would move values within 2.4e-4 of 0.8
across the threshold. Files written elsewhere as float16 are read as they are.
"""

from __future__ import annotations

import json
import os.path as osp
from pathlib import Path

import cv2
import numpy as np

from framework import FwError

from .ceg import ceg
from .vlm import DEFAULT_FOREGROUND, VLMOutput


def _rle_encode(mask):
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _rle_decode(rle):
    from pycocotools import mask as mask_utils

    rle = dict(rle)
    if isinstance(rle['counts'], list):
        rle = mask_utils.frPyObjects(rle, *rle['size'])
    elif isinstance(rle['counts'], str):
        rle['counts'] = rle['counts'].encode('ascii')
    return mask_utils.decode(rle).astype(bool)


def write_raw(raw_root, date, image_id, out: VLMOutput):
    stem = osp.splitext(image_id)[0]
    d = Path(raw_root) / date
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / f'{stem}.npy', np.asarray(out.probs, np.float32))
    inst = [
        {'category_id': int(k), 'score': float(s), 'segmentation': _rle_encode(m)}
        for m, k, s in out.instances
    ]
    (d / f'{stem}.json').write_text(json.dumps(inst))


def read_raw(raw_root, date, image_id):
    stem = osp.splitext(image_id)[0]
    d = Path(raw_root) / date
    npy, js = d / f'{stem}.npy', d / f'{stem}.json'
    for p in (npy, js):
        if not p.is_file():
            raise FwError(f'raw generator output missing: expected {p}')
    probs = np.load(npy).astype(np.float32)
    inst = [
        (_rle_decode(r['segmentation']), int(r['category_id']), float(r['score']))
        for r in json.loads(js.read_text())
    ]
    return VLMOutput(probs, inst)


class DiskPseudoLabels:
    """Paths, reading and writing of format (a)."""

    def __init__(self, vl_seg_root, vl_change_root):
        self.vl_seg_root, self.vl_change_root = str(vl_seg_root), str(vl_change_root)

    def paths(self, image_id):
        return dict(
            vl_a=osp.join(self.vl_seg_root, 'A', image_id),
            vl_b=osp.join(self.vl_seg_root, 'B', image_id),
            vl_change=osp.join(self.vl_change_root, image_id),
        )

    def load(self, image_id):
        out = {}
        for k, p in self.paths(image_id).items():
            m = cv2.imread(p, cv2.IMREAD_UNCHANGED)
            if m is None:
                raise FwError(
                    f'VLM pseudo-label missing: expected {p} (every training id needs '
                    'seg A, seg B and change maps)'
                )
            out[k] = m
        return out

    def write(self, image_id, s_a, s_b, c):
        for k, m in zip(('vl_a', 'vl_b', 'vl_change'), (s_a, s_b, c)):
            p = self.paths(image_id)[k]
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(p, np.asarray(m, np.uint8)):
                raise FwError(f'cannot write {p}')

    def write_meta(self, meta):
        for root in (self.vl_seg_root, self.vl_change_root):
            Path(root).mkdir(parents=True, exist_ok=True)
            (Path(root) / 'meta.json').write_text(json.dumps(meta, indent=1))


def ceg_from_raw(raw_root, ids, vl_seg_root, vl_change_root, foreground=DEFAULT_FOREGROUND, **opts):
    """Raw generator output -> format (a) for every id."""
    disk = DiskPseudoLabels(vl_seg_root, vl_change_root)
    for i in ids:
        disk.write(
            i, *ceg(read_raw(raw_root, 'A', i), read_raw(raw_root, 'B', i), foreground, **opts)
        )
    disk.write_meta(dict(source='ceg', raw_root=str(raw_root), foreground=list(foreground), **opts))
    return disk


def generate_pseudo_labels(generator, data_root, ids, out_dir, **ceg_opts):
    """Run ``generator`` on A and B of every id, write raw output to ``out_dir/raw`` and format (a)
    to ``out_dir/seg`` (vl_seg_root) and ``out_dir/change`` (vl_change_root)."""
    from .transforms import read_rgb

    out_dir = Path(out_dir)
    wants_meta = getattr(generator, 'wants_meta', False)
    for i in ids:
        for date in ('A', 'B'):
            img = read_rgb(osp.join(data_root, date, i))
            meta = dict(id=i, date=date, data_root=str(data_root))
            out = generator(img, meta=meta) if wants_meta else generator(img)
            write_raw(out_dir / 'raw', date, i, out)
    fg = tuple(getattr(generator, 'foreground', DEFAULT_FOREGROUND))
    disk = ceg_from_raw(out_dir / 'raw', ids, out_dir / 'seg', out_dir / 'change', fg, **ceg_opts)
    disk.write_meta(
        dict(
            generator=type(generator).__name__,
            prompts=list(getattr(generator, 'prompts', ())),
            foreground=list(fg),
            **ceg_opts,
        )
    )
    return disk
