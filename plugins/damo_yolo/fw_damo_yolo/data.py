"""Synthetic 'shapes' detection set written in exact COCO json format with images on disk.

Three classes (rectangle, ellipse, triangle) of random colours on textured or noise backgrounds,
1-4 objects per image, 8-64 px, polygon segmentations. Edge cases in the train split: an image with
no objects, a crowd annotation (``iscrowd=1``, uncompressed RLE), a box smaller than 2 px, a box
touching the image border, and a non-square image; the val split has an empty and a non-square
image.

Layout::

    ROOT/annotations/instances_train.json   ROOT/train/000001.png ...
    ROOT/annotations/instances_val.json     ROOT/val/000001.png ...

``ShapesCocoDataset`` reads the set as mmdet's ``CocoDataset`` (it is one), writing it first
when it is missing.
"""

import json
import os

import cv2
import numpy as np
from mmdet.datasets import CocoDataset

from framework import FwError

CLASSES = ('rectangle', 'ellipse', 'triangle')


def _background(rng, h, w):
    kind = rng.integers(3)
    if kind == 0:  # noise
        img = rng.integers(0, 256, (h, w, 3)).astype(np.float32)
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 2.0)))
    elif kind == 1:  # stripes / sinusoid texture
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        f1, f2 = rng.uniform(0.05, 0.4, 2)
        base = rng.uniform(40, 200, 3)
        tex = np.sin(xx * f1 + yy * f2 * rng.choice([-1, 1]))[..., None]
        img = base + 45 * tex + rng.normal(0, 10, (h, w, 3))
    else:  # smooth gradient with noise
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = np.linspace(0, 1, w)[None, :, None]
        img = c0 * (1 - t) + c1 * t + rng.normal(0, 20, (h, w, 3))
        img = np.broadcast_to(img, (h, w, 3)).copy()
    return np.clip(img, 0, 255).astype(np.uint8)


def _polygon(rng, cls, x, y, w, h):
    """Polygon (N, 2) float inside the box [x, y, x+w, y+h] touching all four sides."""
    if cls == 0:
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)
    if cls == 1:
        t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        return np.stack([x + w / 2 + w / 2 * np.cos(t), y + h / 2 + h / 2 * np.sin(t)], 1)
    apex = x + w * rng.uniform(0.2, 0.8)
    if rng.random() < 0.5:
        return np.array([[apex, y], [x + w, y + h], [x, y + h]], np.float64)
    return np.array([[x, y], [x + w, y], [apex, y + h]], np.float64)


def _colour(rng, img, poly):
    """A colour that contrasts with the local background."""
    x1, y1 = np.floor(poly.min(0)).astype(int)
    x2, y2 = np.ceil(poly.max(0)).astype(int)
    patch = img[max(y1, 0) : y2 + 1, max(x1, 0) : x2 + 1]
    mean = patch.reshape(-1, 3).mean(0) if patch.size else np.full(3, 128.0)
    for _ in range(20):
        c = rng.integers(0, 256, 3)
        if np.abs(c - mean).sum() > 180:
            break
    return tuple(int(v) for v in c)


def _draw(img, poly, colour):
    pts = np.round(poly * 16).astype(np.int32)  # sub-pixel precision (shift=4)
    cv2.fillPoly(img, [pts], colour, lineType=cv2.LINE_AA, shift=4)


def _rle(mask):
    """Uncompressed COCO RLE (column-major, starts with a run of zeros)."""
    flat = mask.astype(np.uint8).flatten(order='F')
    counts, prev, run = [], 0, 0
    for v in flat:
        if v != prev:
            counts.append(run)
            run, prev = 0, v
        run += 1
    counts.append(run)
    return {'counts': [int(c) for c in counts], 'size': [int(mask.shape[0]), int(mask.shape[1])]}


def _iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def _place(rng, h, w, boxes, min_size, max_size):
    for _ in range(50):
        bw, bh = rng.uniform(min_size, max_size, 2)
        bw, bh = min(bw, w - 1), min(bh, h - 1)
        x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        box = (x, y, bw, bh)
        if all(_iou(box, b) < 0.2 for b in boxes):
            return box
    return None


def _ann(ann_id, img_id, cls, poly, crowd_mask=None):
    x1, y1 = poly.min(0)
    x2, y2 = poly.max(0)
    ann = {
        'id': ann_id,
        'image_id': img_id,
        'category_id': cls + 1,
        'bbox': [
            round(float(x1), 2),
            round(float(y1), 2),
            round(float(x2 - x1), 2),
            round(float(y2 - y1), 2),
        ],
        'iscrowd': 0,
    }
    if crowd_mask is not None:
        ann['iscrowd'] = 1
        ann['segmentation'] = _rle(crowd_mask)
        ann['area'] = float(crowd_mask.sum())
    else:
        ann['segmentation'] = [[round(float(v), 2) for v in poly.reshape(-1)]]
        ann['area'] = round(float(cv2.contourArea(poly.astype(np.float32))), 2)
    return ann


def make_split(root, split, n, size, rng, min_size=8, max_size=64, edge_cases=True):
    img_dir = os.path.join(root, split)
    os.makedirs(img_dir, exist_ok=True)
    images, anns = [], []
    ann_id = 1
    for i in range(n):
        img_id = i + 1
        h, w = size, size
        special = None
        if edge_cases:
            special = {0: 'empty', 1: 'non_square'}.get(i)
            if split == 'train':
                special = {0: 'empty', 1: 'crowd', 2: 'tiny', 3: 'border', 4: 'non_square'}.get(i)
        if special == 'non_square':
            h = int(size * 3 // 4)
        img = _background(rng, h, w)
        n_obj = 0 if special == 'empty' else int(rng.integers(1, 5))
        boxes, objs = [], []
        for _ in range(n_obj):
            box = _place(rng, h, w, boxes, min_size, min(max_size, h - 2))
            if box is None:
                continue
            boxes.append(box)
            objs.append((int(rng.integers(3)), box))
        if special == 'border' and objs:
            cls, (x, y, bw, bh) = objs[0]
            objs[0] = (cls, (0.0, y, bw, bh))  # touches the left border
        for cls, (x, y, bw, bh) in objs:
            poly = _polygon(rng, cls, x, y, bw, bh)
            _draw(img, poly, _colour(rng, img, poly))
            anns.append(_ann(ann_id, img_id, cls, poly))
            ann_id += 1
        if special == 'tiny':
            x, y = float(rng.uniform(10, w - 12)), float(rng.uniform(10, h - 12))
            poly = _polygon(rng, 0, x, y, 1.5, 1.5)
            _draw(img, poly, _colour(rng, img, poly))
            anns.append(_ann(ann_id, img_id, 0, poly))
            ann_id += 1
        if special == 'crowd':
            mask = np.zeros((h, w), np.uint8)
            cls = int(rng.integers(3))
            crowd_polys = []
            for k in range(3):  # a small group of touching objects, annotated as one crowd region
                x0 = 10 + 14 * k
                poly = _polygon(rng, cls, x0, h - 30.0, 12, 12)
                crowd_polys.append(poly)
                col = _colour(rng, img, poly)
                _draw(img, poly, col)
                cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
            allp = np.concatenate(crowd_polys)
            anns.append(_ann(ann_id, img_id, cls, allp, crowd_mask=mask))
            ann_id += 1
        fname = f'{img_id:06d}.png'
        cv2.imwrite(os.path.join(img_dir, fname), img)
        images.append(
            {
                'id': img_id,
                'file_name': fname,
                'width': int(w),
                'height': int(h),
                'license': 1,
                'date_captured': '',
            }
        )
    coco = {
        'info': {
            'description': 'fw damo_yolo synthetic shapes',
            'version': 'shapes v1',
            'year': 2026,
            'contributor': 'fw',
            'date_created': '',
        },
        'licenses': [{'id': 1, 'name': 'CC0', 'url': ''}],
        'images': images,
        'annotations': anns,
        'categories': [
            {'id': k + 1, 'name': c, 'supercategory': 'shape'} for k, c in enumerate(CLASSES)
        ],
    }
    os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
    path = os.path.join(root, 'annotations', f'instances_{split}.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def make_shapes_coco(root, n_train=256, n_val=32, size=160, seed=0, min_size=8, max_size=64):
    """Write both splits; returns {split: json path}. Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    out = {'train': make_split(root, 'train', n_train, size, rng, min_size, max_size)}
    out['val'] = make_split(
        root, 'val', n_val, size, np.random.default_rng(seed + 1), min_size, max_size
    )
    return out


def ensure_shapes_coco(root, **kwargs):
    """Generate the set if its json files are missing (used by the CPU config)."""
    paths = [os.path.join(root, 'annotations', f'instances_{s}.json') for s in ('train', 'val')]
    if all(os.path.isfile(p) for p in paths):
        return dict(zip(('train', 'val'), paths))
    return make_shapes_coco(root, **kwargs)


class ShapesCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` over the generated shapes set.

    Args:
        *args, **kwargs: ``CocoDataset`` arguments (``data_root``, ``ann_file``, ...).
        generate: ``make_shapes_coco`` arguments (n_train, n_val, size, seed); the set is written
            to ``data_root`` when its json files are absent. None: the set must exist.
    """

    METAINFO = {'classes': CLASSES, 'palette': [(220, 20, 60), (0, 128, 255), (60, 180, 75)]}

    def __init__(self, *args, generate=None, **kwargs):
        root = kwargs.get('data_root') or ''
        if generate is not None:
            if not root:
                raise FwError('ShapesCocoDataset(generate=...) needs data_root')
            ensure_shapes_coco(root, **generate)
        elif root and not os.path.isdir(root):
            raise FwError(
                f'shapes data root {root!r} does not exist; create it with '
                f'`fw damo_yolo make-shapes-coco --out {root}` (or pass '
                f'generate=dict(...))'
            )
        super().__init__(*args, **kwargs)
