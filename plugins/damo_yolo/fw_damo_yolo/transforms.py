"""Data transforms of the DAMO-YOLO recipe on top of mmdet 3.3's."""

import random

import cv2
import numpy as np
from mmdet.datasets.transforms import MixUp, RandomAffine
from mmdet.structures.bbox import autocast_box_type


class MixUpP(MixUp):
    """mmdet ``MixUp`` applied with probability ``prob`` (wrapping MixUp in RandomApply would break
    ``get_indexes`` of MultiImageMixDataset)."""

    def __init__(self, *args, prob=0.15, **kwargs):
        super().__init__(*args, **kwargs)
        assert 0.0 <= prob <= 1.0
        self.prob = prob

    def transform(self, results):
        if random.random() >= self.prob:
            results.pop('mix_results', None)
            return results
        return super().transform(results)


def box_candidates(
    before, after, scale, wh_thr=2.0, ar_thr=20.0, area_thr=0.1, min_area=4.0, eps=1e-16
):
    """Boolean mask of boxes (x1y1x2y2 arrays) that survive an affine with scale ``scale``."""
    w1, h1 = before[:, 2] - before[:, 0], before[:, 3] - before[:, 1]
    w2, h2 = after[:, 2] - after[:, 0], after[:, 3] - after[:, 1]
    ar = np.maximum(w2 / (h2 + eps), h2 / (w2 + eps))
    return (
        (w2 > wh_thr)
        & (h2 > wh_thr)
        & (w2 * h2 / (w1 * h1 * scale**2 + eps) > area_thr)
        & (ar < ar_thr)
        & (w2 * h2 > min_area)
    )


class RandomAffineDAMO(RandomAffine):
    """mmdet ``RandomAffine`` plus the official box-candidate filter: after the warp keep boxes with
    w, h > ``min_bbox_size`` px, area ratio (vs. the scaled original) > ``min_area_ratio``,
    aspect < ``max_aspect_ratio`` and area > ``min_area``."""

    def __init__(
        self,
        *args,
        min_bbox_size=2.0,
        min_area_ratio=0.1,
        max_aspect_ratio=20.0,
        min_area=4.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.min_bbox_size = min_bbox_size
        self.min_area_ratio = min_area_ratio
        self.max_aspect_ratio = max_aspect_ratio
        self.min_area = min_area

    def _sample(self, height, width):
        rot = self._get_rotation_matrix(
            random.uniform(-self.max_rotate_degree, self.max_rotate_degree)
        )
        scale = random.uniform(*self.scaling_ratio_range)
        sc = self._get_scaling_matrix(scale)
        shear = self._get_shear_matrix(
            random.uniform(-self.max_shear_degree, self.max_shear_degree),
            random.uniform(-self.max_shear_degree, self.max_shear_degree),
        )
        tx = random.uniform(-self.max_translate_ratio, self.max_translate_ratio) * width
        ty = random.uniform(-self.max_translate_ratio, self.max_translate_ratio) * height
        return self._get_translation_matrix(tx, ty) @ shear @ rot @ sc, scale

    @autocast_box_type()
    def transform(self, results):
        img = results['img']
        height = img.shape[0] + self.border[1] * 2
        width = img.shape[1] + self.border[0] * 2
        warp, scale = self._sample(height, width)
        results['img'] = cv2.warpPerspective(
            img, warp, dsize=(width, height), borderValue=self.border_val
        )
        results['img_shape'] = results['img'].shape[:2]
        bboxes = results['gt_bboxes']
        if len(bboxes):
            before = bboxes.tensor.numpy().copy()
            bboxes.project_(warp)
            if self.bbox_clip_border:
                bboxes.clip_([height, width])
            keep = bboxes.is_inside([height, width]).numpy()
            keep &= box_candidates(
                before,
                bboxes.tensor.numpy(),
                scale,
                self.min_bbox_size,
                self.max_aspect_ratio,
                self.min_area_ratio,
                self.min_area,
            )
            results['gt_bboxes'] = bboxes[keep]
            results['gt_bboxes_labels'] = results['gt_bboxes_labels'][keep]
            results['gt_ignore_flags'] = results['gt_ignore_flags'][keep]
        return results
