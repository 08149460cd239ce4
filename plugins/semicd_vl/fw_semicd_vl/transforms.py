"""Paired (bi-temporal) transforms on numpy arrays.

A results dict carries ``img_a``/``img_b`` (H×W×3 uint8 RGB) and single-channel uint8 maps listed in
``results['seg_fields']`` (``gt``, ``ignore``, ``vl_a``, ``vl_b``, ``vl_change``). Every geometric
transform applies the *same* draw to both images and every registered map (images bilinear, maps
nearest, padding 0 for images and 255 for maps). Randomness comes from ``np.random`` so that
mmengine's seeding and worker seeding govern it.
"""

from __future__ import annotations

import cv2
import numpy as np

from framework import FwError

IMG_KEYS = ('img_a', 'img_b')


def _add_field(results, key):
    fields = results.setdefault('seg_fields', [])
    if key not in fields:
        fields.append(key)


class BaseTransform:
    """Minimal mmcv-compatible transform base (``__call__`` -> ``transform``)."""

    def __call__(self, results):
        return self.transform(results)

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items())
        return f'{type(self).__name__}({args})'


def read_rgb(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FwError(f'cannot read image {path}: the file is missing or not an image')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_map(path, what='map'):
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if m is None:
        raise FwError(f'missing {what}: expected a PNG at {path}')
    if m.ndim == 3:  # a 3-channel label: use channel 0 (identical channels in LEVIR/WHU releases)
        m = m[..., 0] if m.shape[2] != 4 else m[..., 0]
    return m


def map_cd_label(label, label_mode='strict', path=''):
    """0 -> 0, 255 -> 1. ``strict``: any other value raises; ``threshold``: >=128 -> 1."""
    label = np.asarray(label)
    if label_mode == 'threshold':
        return (label >= 128).astype(np.uint8)
    if label_mode != 'strict':
        raise FwError(f"label_mode must be 'strict' or 'threshold', got {label_mode!r}")
    bad = ~np.isin(label, (0, 255))
    if bad.any():
        vals = np.unique(label[bad])[:5].tolist()
        raise FwError(
            f'change label {path} has values {vals} besides 0/255; use '
            "label_mode='threshold' for JPEG-damaged labels"
        )
    return (label == 255).astype(np.uint8)


class LoadBiTemporalImages(BaseTransform):
    """Read ``img_a_path``/``img_b_path`` as RGB; add an all-valid ``ignore`` map (0 valid,
    255 padding)."""

    def transform(self, results):
        a, b = read_rgb(results['img_a_path']), read_rgb(results['img_b_path'])
        if a.shape != b.shape:
            raise FwError(f'A and B differ in size for {results.get("id")}: {a.shape} vs {b.shape}')
        results['img_a'], results['img_b'] = a, b
        results['ignore'] = np.zeros(a.shape[:2], np.uint8)
        _add_field(results, 'ignore')
        results['ori_shape'] = a.shape[:2]
        return results


class LoadCDLabel(BaseTransform):
    """Read ``label_path`` and map 255 -> 1.

    Args:
        label_mode: ``'strict'`` (any value besides 0/255 is an error) or ``'threshold'``
            (>= 128 -> 1, for JPEG-damaged labels); see :func:`map_cd_label`.
    """

    def __init__(self, label_mode='strict'):
        self.label_mode = label_mode

    def transform(self, results):
        path = results['label_path']
        results['gt'] = map_cd_label(read_map(path, 'change label'), self.label_mode, path)
        _add_field(results, 'gt')
        return results


class LoadVLPseudoLabels(BaseTransform):
    """Read the three VLM maps (``vl_a``, ``vl_b``: building 0/1/255; ``vl_change``: 0/1/255).

    A dataset without VLM roots (``vl_seg_root=vl_change_root=None``, the supervised and FixMatch
    baselines) gives no paths: nothing is read, and ``SemiCDVL`` in ``semicd_vl`` mode then
    raises a clear error naming the missing keys.
    """

    def transform(self, results):
        if not any(f'{k}_path' in results for k in ('vl_a', 'vl_b', 'vl_change')):
            return results
        for key in ('vl_a', 'vl_b', 'vl_change'):
            path = results[f'{key}_path']
            m = read_map(path, f'VLM pseudo-label {key} (see README "Pseudo-label format")')
            if m.shape != results['img_a'].shape[:2]:
                raise FwError(f'{path} is {m.shape}, image is {results["img_a"].shape[:2]}')
            results[key] = m.astype(np.uint8)
            _add_field(results, key)
        return results


class JointRandomRescale(BaseTransform):
    """Long side L -> randint(r0·L, r1·L) with ``ratio_range`` = (r0, r1) (UniMatch ``resize``);
    bilinear for images, nearest for maps."""

    def __init__(self, ratio_range=(0.8, 1.2)):
        self.ratio_range = tuple(ratio_range)

    def transform(self, results):
        h, w = results['img_a'].shape[:2]
        long_side = np.random.randint(
            int(max(h, w) * self.ratio_range[0]), int(max(h, w) * self.ratio_range[1]) + 1
        )
        if h > w:
            oh, ow = long_side, int(1.0 * w * long_side / h + 0.5)
        else:
            ow, oh = long_side, int(1.0 * h * long_side / w + 0.5)
        for k in IMG_KEYS:
            results[k] = cv2.resize(results[k], (ow, oh), interpolation=cv2.INTER_LINEAR)
        for k in results.get('seg_fields', []):
            results[k] = cv2.resize(results[k], (ow, oh), interpolation=cv2.INTER_NEAREST)
        return results


class JointRandomCrop(BaseTransform):
    """Pad bottom/right to ``size`` (images 0, maps 255), then one random crop for everything."""

    def __init__(self, size=256):
        self.size = int(size)

    def transform(self, results):
        s = self.size
        h, w = results['img_a'].shape[:2]
        ph, pw = max(s - h, 0), max(s - w, 0)
        if ph or pw:
            for k in IMG_KEYS:
                results[k] = np.pad(results[k], ((0, ph), (0, pw), (0, 0)), constant_values=0)
            for k in results.get('seg_fields', []):
                results[k] = np.pad(results[k], ((0, ph), (0, pw)), constant_values=255)
        h, w = results['img_a'].shape[:2]
        y = np.random.randint(0, h - s + 1)
        x = np.random.randint(0, w - s + 1)
        for k in list(IMG_KEYS) + list(results.get('seg_fields', [])):
            results[k] = np.ascontiguousarray(results[k][y : y + s, x : x + s])
        return results


class JointRandomFlip(BaseTransform):
    """Horizontal flip of everything with probability ``prob``."""

    def __init__(self, prob=0.5):
        self.prob = prob

    def transform(self, results):
        if np.random.rand() < self.prob:
            for k in list(IMG_KEYS) + list(results.get('seg_fields', [])):
                results[k] = np.ascontiguousarray(results[k][:, ::-1])
        return results


def color_jitter(img, brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25):
    """torchvision-like ColorJitter on uint8 RGB: factors U[1-x, 1+x], hue U[-h, h] turns, in a
    random order."""
    x = img.astype(np.float32)

    def gray(v):
        return (0.299 * v[..., 0] + 0.587 * v[..., 1] + 0.114 * v[..., 2])[..., None]

    ops = np.random.permutation(4)
    fb = np.random.uniform(1 - brightness, 1 + brightness)
    fc = np.random.uniform(1 - contrast, 1 + contrast)
    fs = np.random.uniform(1 - saturation, 1 + saturation)
    fh = np.random.uniform(-hue, hue)
    for op in ops:
        if op == 0:
            x = np.clip(x * fb, 0, 255)
        elif op == 1:
            x = np.clip((x - gray(x).mean()) * fc + gray(x).mean(), 0, 255)
        elif op == 2:
            x = np.clip(gray(x) + (x - gray(x)) * fs, 0, 255)
        else:
            hsv = cv2.cvtColor((x / 255.0).astype(np.float32), cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0] + fh * 360.0) % 360.0
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def gaussian_blur(img, sigma_range=(0.1, 2.0)):
    sigma = np.random.uniform(*sigma_range)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)


class StrongPhotometric(BaseTransform):
    """Strong view ``img_a_s``/``img_b_s``: colour jitter and Gaussian blur, drawn per date.

    Args:
        jitter_prob: probability of colour jitter (UniMatch: 0.8).
        blur_prob: probability of a Gaussian blur with sigma U(0.1, 2) (UniMatch: 0.5).
        brightness, contrast, saturation: jitter factors drawn from U(1 - x, 1 + x).
        hue: hue shift drawn from U(-hue, hue) turns.
    """

    def __init__(
        self, jitter_prob=0.8, blur_prob=0.5, brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25
    ):
        self.jitter_prob, self.blur_prob = jitter_prob, blur_prob
        self.jitter = dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue)

    def transform(self, results):
        for k in IMG_KEYS:
            img = results[k].copy()
            if np.random.rand() < self.jitter_prob:
                img = color_jitter(img, **self.jitter)
            if np.random.rand() < self.blur_prob:
                img = gaussian_blur(img)
            results[k + '_s'] = img
        return results


def cutmix_box(size, prob=0.5, size_min=0.02, size_max=0.4, ratio_1=0.3, ratio_2=1 / 0.3):
    """UniMatch's box: area U(min,max)·size², aspect U(r1,r2), redrawn until inside. uint8 H×W."""
    mask = np.zeros((size, size), np.uint8)
    if np.random.rand() > prob:
        return mask
    area = np.random.uniform(size_min, size_max) * size * size
    while True:
        ratio = np.random.uniform(ratio_1, ratio_2)
        w, h = int(np.sqrt(area / ratio)), int(np.sqrt(area * ratio))
        x, y = np.random.randint(0, size + 1), np.random.randint(0, size + 1)
        if x + w <= size and y + h <= size:
            break
    mask[y : y + h, x : x + w] = 1
    return mask


class CutMixBox(BaseTransform):
    """Draw the unlabeled sample's CutMix box (one box, later used for A, B and every target).

    Args:
        prob: probability that a box is drawn (else the box is empty).
    """

    def __init__(self, prob=0.5):
        self.prob = prob

    def transform(self, results):
        results['cutmix_box'] = cutmix_box(results['img_a'].shape[0], self.prob)
        return results


class PackBiTemporalInputs(BaseTransform):
    """To tensors: ``img`` 6×H×W float (A‖B, RGB 0..255), optional ``img_s``, maps as int64."""

    MAPS = ('gt', 'ignore', 'vl_a', 'vl_b', 'vl_change', 'cutmix_box')

    def transform(self, results):
        import torch

        out = {'id': results.get('id', '')}

        def stack(a, b):
            return torch.from_numpy(
                np.concatenate([a, b], axis=2).transpose(2, 0, 1).copy()
            ).float()

        out['img'] = stack(results['img_a'], results['img_b'])
        if 'img_a_s' in results:
            out['img_s'] = stack(results['img_a_s'], results['img_b_s'])
        for k in self.MAPS:
            if k in results:
                out[k] = torch.from_numpy(np.ascontiguousarray(results[k])).long()
        return out
