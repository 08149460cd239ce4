"""SADA: scale-aware, box-level auto-augmentation of the DAMO-YOLO training recipe.

The paper does not describe it; the official configs apply it to every training image after
resize and flip (it comes from SA-AutoAug, Chen et al. 2021, "Scale-aware Automatic Augmentation
for Object Detection", CVPR). A searched policy vector (40 integers, the first 4 unused) decodes
into 5 sub-policies of (colour op, probability, level) + (geometric op, probability, level) and
two 3-way scale tables. Per image one sub-policy is drawn; each of its two ops fires with
probability ``p * t`` where ``t`` = training progress (0 -> 1 over the iterations before the last
no-augmentation epochs; off after). When it fires, each box is picked with probability
``box_prob * r[size class]`` (size classes split at 2048 / 10240 px^2 scaled by min(h, w)/800):

* colour op: computed on the whole image, blended back through a sum of Gaussians centred on
  the picked boxes (a per-size-class spread), so the change fades out around each box;
* geometric op: the box crop is flipped / rotated / sheared (or, for translations, copied to a
  shifted place, which adds a box with the same label) and blended into the image with a
  Gaussian centred on the crop. Boxes of hflip/rotate/shear are unchanged.

Added boxes are clipped to the image; empty ones are dropped.
"""

import math

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

# the searched policy of the official configs (box_prob 0.3, 5 sub-policies)
OFFICIAL_POLICY = (
    6, 9, 5, 3, 3, 4, 2, 4, 4, 4, 5, 2, 4, 1, 4, 2, 6, 4, 2, 2,
    2, 6, 2, 2, 2, 0, 5, 1, 3, 0, 8, 5, 2, 8, 7, 5, 1, 3, 3, 3,
)  # fmt: skip
COLOR_OPS = ('AutoContrast', 'Equalize', 'SolarizeAdd', 'Color', 'Contrast', 'Brightness',
             'Sharpness')  # fmt: skip
GEOMETRIC_OPS = ('hflip', 'rotate', 'shearX', 'shearY', 'translateX', 'translateY')
GAUSS_RATIOS = (0.2, 0.4, 0.6, 0.8, 1.0, 2, 4, 6, 8, 10)  # index -> spread factor
MAX_LEVEL = 10.0
FILL = (102, 115, 122)  # crop fill after rotate / shear (pixel mean, 0-255)
GRAY = (0.2989, 0.5870, 0.1140)  # R, G, B luma weights


def decode_policy(policy, num_subpolicies=5):
    """Policy vector -> (sub-policies [((colour op, p, level), (geo op, p, level)), ...],
    {'area': 3 ints, 'prob': 3 ints})."""
    v = list(policy)[4:]
    need = num_subpolicies * 6 + 6
    if len(v) < need:
        raise ValueError(f'SADA policy needs {need + 4} integers, got {len(policy)}')
    subs = []
    for i in range(num_subpolicies):
        c = v[6 * i : 6 * i + 6]
        subs.append(
            (
                (COLOR_OPS[c[0] % len(COLOR_OPS)], c[1] * 0.1, c[2]),
                (GEOMETRIC_OPS[c[3] % len(GEOMETRIC_OPS)], c[4] * 0.1, c[5]),
            )
        )
    t = v[num_subpolicies * 6 : num_subpolicies * 6 + 6]
    return subs, {'area': t[:3], 'prob': t[3:6]}


# ---- colour ops on float images in [0, 1], HxWx3 -------------------------------------------------
def _blend(a, b, factor):
    """a + factor * (b - a); clipped to [0, 1] when extrapolating."""
    if factor == 0.0:
        return a
    if factor == 1.0:
        return b
    out = a + factor * (b - a)
    return out if 0.0 < factor < 1.0 else np.clip(out, 0.0, 1.0)


def _gray(img, bgr):
    w = GRAY[::-1] if bgr else GRAY
    return (img * np.asarray(w, np.float32)).sum(-1, keepdims=True).repeat(3, -1)


def _equalize_channel(ch):
    """PIL-style histogram equalisation of one channel (values 0..1)."""
    v = np.clip(ch * 255.0, 0, 255).astype(np.int64)
    hist = np.bincount(v.ravel(), minlength=256).astype(np.float64)
    nz = hist[hist > 0]
    step = (nz.sum() - nz[-1]) // 255
    if step == 0:
        return ch
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate([[0.0], lut[:-1]]), 0, 255)
    return (lut[v] / 255.0).astype(ch.dtype)


def _autocontrast_channel(ch):
    lo, hi = ch.min(), ch.max()
    return np.clip((ch - lo) / (hi - lo), 0.0, 1.0) if hi > lo else ch


def color_op(name, img, level, bgr=True):
    """The whole-image colour op ``name`` at ``level`` (0..10)."""
    f = level / MAX_LEVEL * 1.8 + 0.1
    if name == 'AutoContrast':
        return np.stack([_autocontrast_channel(img[..., c]) for c in range(3)], -1)
    if name == 'Equalize':
        return np.stack([_equalize_channel(img[..., c]) for c in range(3)], -1)
    if name == 'SolarizeAdd':  # add ~110/256 * level/10 below the threshold 0.5
        added = np.clip(img + level / MAX_LEVEL * 0.4296875, 0.0, 1.0)
        return np.where(img <= 0.5, added, img)
    if name == 'Color':
        return _blend(_gray(img, bgr), img, f)
    if name == 'Contrast':
        return _blend(np.full_like(img, _gray(img, bgr)[..., 0].mean()), img, max(f, 1e-6))
    if name == 'Brightness':
        return _blend(np.zeros_like(img), img, f)
    if name == 'Sharpness':
        k = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0
        blurred = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)
        return _blend(blurred, img, f)
    raise ValueError(f'unknown SADA colour op {name!r}; one of {COLOR_OPS}')


# ---- Gaussian blending maps ------------------------------------------------------------------------
def gaussian_map(h, w, boxes, spreads):
    """Sum over boxes (x1, y1, x2, y2) of exp(-d^2 / 2 sigma^2) on an h x w grid, with per-axis
    sigma = (box side / image side) * sqrt(spread * h * w / (2 pi)), centred on the box centre."""
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    g = np.zeros((h, w), np.float32)
    for (x1, y1, x2, y2), s in zip(boxes, spreads):
        bh, bw = y2 - y1, x2 - x1
        r = math.sqrt(s * h * w / (2 * math.pi))
        sy, sx = max(bh / h * r, 1e-6), max(bw / w * r, 1e-6)
        cy, cx = y1 + bh // 2, x1 + bw // 2
        g += np.exp(-((rows - cy) ** 2 / (2 * sy**2) + (cols - cx) ** 2 / (2 * sx**2)))
    return g


def color_spread(area, splits, area_table):
    """Gaussian spread of a box of ``area`` px^2 for colour blending (the 'area' scale table)."""
    r = [GAUSS_RATIOS[i] for i in area_table]
    if area < splits[0]:
        return r[0] * splits[0] / area
    if area < splits[1]:
        return r[1] * (splits[0] + splits[1]) / 2.0 / area
    if area < splits[2]:
        return r[2] * splits[2] / area
    return r[2]


# ---- geometric ops on box crops ------------------------------------------------------------------
def _warp_crop(crop, angle=0.0, shear=(0.0, 0.0)):
    """Rotate (degrees) / shear (degrees, x and y) a crop about its centre; bilinear, FILL."""
    h, w = crop.shape[:2]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    sh = np.array(
        [[1.0, math.tan(math.radians(shear[0]))], [math.tan(math.radians(shear[1])), 1.0]]
    )
    m = rot @ sh
    t = np.array([cx, cy]) - m @ np.array([cx, cy])
    mat = np.hstack([m, t[:, None]]).astype(np.float32)
    fill = tuple(float(c) / 255.0 for c in FILL)
    return cv2.warpAffine(crop, mat, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)  # fmt: skip


def paste_blend(dst, crop, y1, x1):
    """Blend ``crop`` into ``dst`` at (y1, x1) with a Gaussian centred on the crop (spread 1);
    the part outside ``dst`` is cut off."""
    h, w = dst.shape[:2]
    y2, x2 = min(y1 + crop.shape[0], h), min(x1 + crop.shape[1], w)
    if y2 <= y1 or x2 <= x1:
        return
    region = dst[y1:y2, x1:x2]
    c = crop[: y2 - y1, : x2 - x1]
    g = gaussian_map(y2 - y1, x2 - x1, [(0, 0, x2 - x1, y2 - y1)], [1.0])[..., None]
    dst[y1:y2, x1:x2] = g * c + (1 - g) * region


def geometric_op(name, img, level, boxes, labels, picked, rng):
    """Apply geometric op ``name`` to the crops of the ``picked`` boxes; returns (image, extra
    boxes (K, 4), extra labels (K,)) for translations."""
    h, w = img.shape[:2]
    sign = -1.0 if rng.random() < 0.5 else 1.0
    angle = sign * level / MAX_LEVEL * 30 if name == 'rotate' else 0.0
    shear = (sign * level / MAX_LEVEL * 15 if name == 'shearX' else 0.0,
             sign * level / MAX_LEVEL * 15 if name == 'shearY' else 0.0)  # fmt: skip
    tx = sign * level / MAX_LEVEL * 120.0 if name == 'translateX' else 0.0
    ty = sign * level / MAX_LEVEL * 120.0 if name == 'translateY' else 0.0
    out = img.copy()
    new_boxes, new_labels = [], []
    for i in np.flatnonzero(picked):
        x1, y1, x2, y2 = boxes[i]
        cx1, cy1 = int(max(x1, 0)), int(max(y1, 0))
        cx2, cy2 = int(min(x2, w)), int(min(y2, h))
        if cx1 >= cx2 or cy1 >= cy2:
            continue
        crop = img[cy1:cy2, cx1:cx2]
        if name == 'hflip':
            crop = crop[:, ::-1]
        elif name in ('rotate', 'shearX', 'shearY'):
            crop = _warp_crop(np.ascontiguousarray(crop), angle, shear)
        # translations copy the crop to a place shifted by (tx, ty), kept inside the image
        dx = int(min(max(cx2 + tx, 0), w)) - cx2
        dy = int(min(max(cy2 + ty, 0), h)) - cy2
        px, py = int(min(max(cx1 + tx, 0), w)), int(min(max(cy1 + ty, 0), h))
        paste_blend(out, crop, py, px)
        if dx or dy:
            new_boxes.append([x1 + dx, y1 + dy, x2 + dx, y2 + dy])
            new_labels.append(labels[i])
    return out, np.asarray(new_boxes, np.float32).reshape(-1, 4), np.asarray(new_labels)


class SADA(BaseTransform):
    """Scale-aware box-level auto-augmentation (official DAMO-YOLO recipe, after resize + flip).

    Args:
        policy: the searched 40-integer policy vector (default: the official one).
        num_subpolicies: sub-policies encoded in it (5).
        box_prob: base probability of picking a box (0.3).
        scale_splits: box-area splits in px^2 at an 800 px short side (2048, 10240, 51200),
            rescaled by min(h, w) / 800.
        max_iters: training iterations before the no-augmentation epochs; the op probabilities
            ramp linearly from 0 to their policy value over them and SADA is off after.
            None: full strength always.
        batch_size: images per process and iteration; num_workers: dataloader workers per
            process. Each worker counts its own calls; the iteration is estimated as
            ``calls * num_workers / batch_size`` (as the official code does).
        start_iter: iteration to start counting from (resumed runs).
        bgr: the image channel order (mmdet loads BGR) for the luma weights.
    """

    def __init__(
        self,
        policy=OFFICIAL_POLICY,
        num_subpolicies=5,
        box_prob=0.3,
        scale_splits=(2048, 10240, 51200),
        max_iters=None,
        batch_size=32,
        num_workers=8,
        start_iter=0,
        bgr=True,
    ):
        self.subpolicies, self.scale_tables = decode_policy(policy, num_subpolicies)
        self.box_prob = box_prob
        self.scale_splits = tuple(scale_splits)
        self.max_iters = max_iters
        self.batch_size = batch_size
        self.num_workers = max(num_workers, 1)
        self.start_iter = start_iter
        self.bgr = bgr
        self.calls = 0

    def progress(self):
        """Fraction of the augmentation phase done (can exceed 1 once it is over)."""
        if self.max_iters is None:
            return 1.0
        it = self.start_iter + self.calls * self.num_workers / self.batch_size
        return it / self.max_iters

    def _box_probs(self, boxes, splits, table):
        r = np.asarray(table, np.float64)
        r = r / r.sum()
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        cls = np.where(area < splits[0], 0, np.where(area < splits[1], 1, 2))
        return np.where(area > 0, self.box_prob * r[cls], 0.0)

    def transform(self, results):
        t = self.progress()
        self.calls += 1
        if t > 1.0 or 'gt_bboxes' not in results:
            return results
        rng = np.random
        (c_op, c_p, c_lvl), (g_op, g_p, g_lvl) = self.subpolicies[
            rng.randint(len(self.subpolicies))
        ]
        img0 = results['img']
        h, w = img0.shape[:2]
        splits = [s * min(h, w) / 800 for s in self.scale_splits]
        gt = results['gt_bboxes']
        boxes = np.asarray(gt.tensor if hasattr(gt, 'tensor') else gt, np.float32).reshape(-1, 4)
        labels = np.asarray(results['gt_bboxes_labels'])
        img = img0.astype(np.float32) / 255.0
        changed = False
        if rng.random() < c_p * t and len(boxes):  # colour op, Gaussian-blended around boxes
            picked = rng.random(len(boxes)) < self._box_probs(
                boxes, splits, self.scale_tables['area']
            )
            if picked.any():
                sel = boxes[picked]
                areas = (sel[:, 2] - sel[:, 0]) * (sel[:, 3] - sel[:, 1])
                spreads = [color_spread(a, splits, self.scale_tables['area']) for a in areas]
                g = np.clip(gaussian_map(h, w, sel, spreads), 0, 1)[..., None]
                img = img * (1 - g) + color_op(c_op, img, c_lvl, self.bgr) * g
                changed = True
        if rng.random() < g_p * t and len(boxes):  # geometric op on box crops
            picked = rng.random(len(boxes)) < self._box_probs(
                boxes, splits, self.scale_tables['prob']
            )
            if picked.any():
                img, nb, nl = geometric_op(g_op, img, g_lvl, boxes, labels, picked, rng)
                changed = True
                if len(nb):
                    self._add_boxes(results, nb, nl, w, h)
        if changed:
            img = img * 255.0
            results['img'] = (np.clip(np.rint(img), 0, 255).astype(img0.dtype)
                              if img0.dtype == np.uint8 else img.astype(img0.dtype))  # fmt: skip
        return results

    @staticmethod
    def _add_boxes(results, new_boxes, new_labels, w, h):
        """Append boxes clipped to the image, dropping empty ones."""
        new_boxes[:, 0::2] = new_boxes[:, 0::2].clip(0, w)
        new_boxes[:, 1::2] = new_boxes[:, 1::2].clip(0, h)
        keep = (new_boxes[:, 2] > new_boxes[:, 0]) & (new_boxes[:, 3] > new_boxes[:, 1])
        new_boxes, new_labels = new_boxes[keep], new_labels[keep]
        if not len(new_boxes):
            return
        gt = results['gt_bboxes']
        if hasattr(gt, 'cat'):
            results['gt_bboxes'] = gt.cat([gt, type(gt)(new_boxes)])
        else:
            results['gt_bboxes'] = np.concatenate([gt, new_boxes]).astype(np.float32)
        results['gt_bboxes_labels'] = np.concatenate(
            [results['gt_bboxes_labels'], new_labels.astype(results['gt_bboxes_labels'].dtype)]
        )
        if 'gt_ignore_flags' in results:
            results['gt_ignore_flags'] = np.concatenate(
                [results['gt_ignore_flags'], np.zeros(len(new_boxes), bool)]
            )

    def __repr__(self):
        return (f'{self.__class__.__name__}(box_prob={self.box_prob}, '
                f'max_iters={self.max_iters}, subpolicies={self.subpolicies})')  # fmt: skip
