"""Change event generation (CEG): two per-date VLM outputs -> building maps and a change map.

1. s_t = argmax over the K planes plus a constant plane ``conf_plane``; foreground -> 1, other -> 0,
   constant plane wins -> 255 (ties go to the first plane, i.e. the class).
2. Instances of the foreground classes; an instance is changed when its mask IoU with every instance
   of the other date is <= ``inst_iou_thr`` (0.0: no overlap at all); an empty date makes all
   instances of the other date changed. c_inst = union of changed masks.
3. ``mixed``: 255 where s_A or s_B is 255; else 1 where s_A != s_B and c_inst; else 0.
   ``instance``: c_inst (255 where unsure); ``pixel``: s_A != s_B (255 where unsure).
"""

from __future__ import annotations

import numpy as np

from framework import FwError

from .vlm import DEFAULT_FOREGROUND

MODES = ('mixed', 'instance', 'pixel')


def single_date_label(probs, foreground=DEFAULT_FOREGROUND, conf_plane=0.8):
    probs = np.asarray(probs, np.float32)
    k, h, w = probs.shape
    stacked = np.concatenate([probs, np.full((1, h, w), conf_plane, np.float32)], 0)
    win = np.argmax(stacked, 0)  # np.argmax returns the first maximum: ties go to the class
    s = np.isin(win, list(foreground)).astype(np.uint8)
    s[win == k] = 255
    return s


def mask_iou(ma, mb):
    """IoU matrix between two lists of boolean masks (equals pycocotools.mask.iou with iscrowd
    0)."""
    if len(ma) == 0 or len(mb) == 0:
        return np.zeros((len(ma), len(mb)), np.float64)
    a = np.stack([m.reshape(-1) for m in ma]).astype(np.float64)
    b = np.stack([m.reshape(-1) for m in mb]).astype(np.float64)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def _fg_masks(instances, foreground, score_thr):
    return [
        np.asarray(m, bool)
        for m, k, s in instances
        if int(k) in foreground and (score_thr is None or s >= score_thr)
    ]


def instance_change(
    inst_a, inst_b, shape, foreground=DEFAULT_FOREGROUND, inst_iou_thr=0.0, score_thr=None
):
    ma, mb = _fg_masks(inst_a, foreground, score_thr), _fg_masks(inst_b, foreground, score_thr)
    c = np.zeros(shape, bool)
    if not ma:
        changed = mb
    elif not mb:
        changed = ma
    else:
        iou = mask_iou(ma, mb)
        changed = [m for m, v in zip(ma, iou.max(1)) if v <= inst_iou_thr]
        changed += [m for m, v in zip(mb, iou.max(0)) if v <= inst_iou_thr]
    for m in changed:
        c |= m
    return c


def ceg(
    out_a,
    out_b,
    foreground=DEFAULT_FOREGROUND,
    conf_plane=0.8,
    inst_iou_thr=0.0,
    mode='mixed',
    score_thr=None,
):
    """Return (s_A, s_B, c) as uint8 maps with values {0, 1, 255}."""
    if mode not in MODES:
        raise FwError(f'CEG mode must be one of {MODES}, got {mode!r}')
    s_a = single_date_label(out_a.probs, foreground, conf_plane)
    s_b = single_date_label(out_b.probs, foreground, conf_plane)
    unsure = (s_a == 255) | (s_b == 255)
    if mode == 'pixel':
        c = (s_a != s_b).astype(np.uint8)
    else:
        c_inst = instance_change(
            out_a.instances, out_b.instances, s_a.shape, foreground, inst_iou_thr, score_thr
        )
        c = (
            c_inst.astype(np.uint8)
            if mode == 'instance'
            else ((s_a != s_b) & c_inst).astype(np.uint8)
        )
    c[unsure] = 255
    return s_a, s_b, c
