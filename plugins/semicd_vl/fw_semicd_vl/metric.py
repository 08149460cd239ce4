"""``ChangeDetectionMetric``: one 2×2 confusion matrix over all evaluated pixels (255 ignored)."""

from __future__ import annotations

import numpy as np
from mmengine.evaluator import BaseMetric


def confusion(pred, gt, ignore_index=255):
    pred, gt = np.asarray(pred).reshape(-1), np.asarray(gt).reshape(-1)
    m = gt != ignore_index
    return np.bincount(2 * gt[m].astype(np.int64) + pred[m].astype(np.int64), minlength=4).reshape(
        2, 2
    )


def cd_scores(cm):
    """cm[gt, pred]. Changed-class IoU/F1/precision/recall, OA, unchanged IoU, mIoU; all ×100."""
    tn, fp, fn, tp = (float(v) for v in np.asarray(cm).reshape(-1))
    div = lambda a, b: a / b if b > 0 else 0.0  # noqa: E731
    iou_c, iou_u = div(tp, tp + fp + fn), div(tn, tn + fp + fn)
    s = dict(
        IoU_c=iou_c,
        F1_c=div(2 * tp, 2 * tp + fp + fn),
        Precision_c=div(tp, tp + fp),
        Recall_c=div(tp, tp + fn),
        OA=div(tp + tn, tp + tn + fp + fn),
        IoU_u=iou_u,
        mIoU=(iou_c + iou_u) / 2,
    )
    return {k: 100.0 * v for k, v in s.items()}


class ChangeDetectionMetric(BaseMetric):
    """Changed-class IoU/F1/precision/recall, OA, unchanged IoU and mIoU (×100) from one confusion
    matrix over all evaluated pixels; keys ``cd/IoU_c``, ``cd/F1_c``, ...

    Args:
        ignore_index: label value left out (255: padding / unsure).
        collect_device: where results are gathered in distributed evaluation.
        prefix: metric-name prefix (default ``'cd'``).
    """

    default_prefix = 'cd'

    def __init__(self, ignore_index=255, collect_device='cpu', prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index

    def process(self, data_batch, data_samples):
        for s in data_samples:
            pred, gt = s['pred'], s['gt']
            pred = pred.cpu().numpy() if hasattr(pred, 'cpu') else pred
            gt = gt.cpu().numpy() if hasattr(gt, 'cpu') else gt
            self.results.append(confusion(pred, gt, self.ignore_index))

    def compute_metrics(self, results):
        return cd_scores(np.sum(results, axis=0))
