"""``SyntheticOracleGenerator`` -- TESTS AND CPU DEMOS ONLY.

It reads the instance masks that ``make-toy-cd`` writes beside its data (``_oracle/{A,B}/<id>.png``)
and
so derives its labels from ground truth. It refuses to run on a root without the synthetic marker
file;
no result on real data may use it.
"""

from __future__ import annotations

import os.path as osp
import zlib

import cv2
import numpy as np

from framework import FwError

from .vlm import DEFAULT_FOREGROUND, DEFAULT_PROMPTS, VLMOutput

MARKER = 'FW_SYNTHETIC_DATA'
BUILDING, GRASS = 1, 3


class SyntheticOracleGenerator:
    wants_meta = True

    def __init__(
        self,
        data_root,
        radius=1,
        drop_p=0.1,
        fp_blobs=0.5,
        lowconf_blobs=1.0,
        seed=0,
        prompts=DEFAULT_PROMPTS,
        foreground=DEFAULT_FOREGROUND,
    ):
        if not osp.isfile(osp.join(data_root, MARKER)):
            raise FwError(
                f'SyntheticOracleGenerator reads ground truth and only runs on data made by '
                f'`fw semicd_vl make-toy-cd` (no {MARKER} file in {data_root})'
            )
        self.data_root, self.radius, self.drop_p = data_root, radius, drop_p
        self.fp_blobs, self.lowconf_blobs, self.seed = fp_blobs, lowconf_blobs, seed
        self.prompts, self.foreground = tuple(prompts), tuple(foreground)

    def _rng(self, meta):
        return np.random.RandomState(
            zlib.crc32(f'{self.seed}/{meta["date"]}/{meta["id"]}'.encode())
        )

    def __call__(self, image_rgb, meta=None):
        if meta is None:
            raise FwError('SyntheticOracleGenerator needs meta={"id", "date"}')
        path = osp.join(self.data_root, '_oracle', meta['date'], meta['id'])
        inst_map = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if inst_map is None:
            raise FwError(f'oracle instance map missing: {path}')
        rng = self._rng(meta)
        h, w = inst_map.shape
        k = np.ones((2 * self.radius + 1, 2 * self.radius + 1), np.uint8)
        masks = []
        for iid in np.unique(inst_map):
            if iid == 0 or rng.rand() < self.drop_p:
                continue
            m = (inst_map == iid).astype(np.uint8)
            if self.radius > 0:
                m = cv2.erode(m, k) if rng.rand() < 0.5 else cv2.dilate(m, k)
            if m.any():
                masks.append(m.astype(bool))
        for _ in range(rng.poisson(self.fp_blobs)):  # false-positive buildings
            bh, bw = rng.randint(3, 8, size=2)
            y, x = rng.randint(0, h - bh), rng.randint(0, w - bw)
            m = np.zeros((h, w), bool)
            m[y : y + bh, x : x + bw] = True
            masks.append(m)
        fg = np.zeros((h, w), bool)
        for m in masks:
            fg |= m
        probs = rng.uniform(0.0, 0.02, size=(len(self.prompts), h, w)).astype(np.float32)
        top = rng.uniform(0.85, 0.99, size=(h, w)).astype(np.float32)
        probs[BUILDING][fg] = top[fg]
        probs[GRASS][~fg] = top[~fg]
        for _ in range(rng.poisson(self.lowconf_blobs)):  # unsure regions: max prob < 0.8
            r = rng.randint(2, 6)
            cy, cx = rng.randint(0, h), rng.randint(0, w)
            yy, xx = np.ogrid[:h, :w]
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            probs[:, blob] = np.minimum(probs[:, blob], rng.uniform(0.3, 0.75))
        probs /= np.maximum(probs.sum(0, keepdims=True), 1.0)
        instances = [(m, BUILDING, float(rng.uniform(0.3, 0.95))) for m in masks]
        return VLMOutput(probs, instances)
