"""AlignOTA assigner (Xu et al. 2022, Sec. 2.3, Eq. 2; as the official code).

``align_ota_assign`` is the math on plain tensors; ``AlignOTAAssigner`` wraps it in mmdet's
``BaseAssigner`` / ``AssignResult`` interface.
"""

import torch
import torch.nn.functional as F
from mmdet.models.task_modules.assigners.assign_result import AssignResult
from mmdet.models.task_modules.assigners.base_assigner import BaseAssigner
from mmdet.structures.bbox import bbox_overlaps

INF = 1e8
EPS = 1e-7


def candidate_masks(priors, gt_bboxes, center_radius=2.5):
    """in_gt[p, g]: prior point strictly inside box g; in_ctr[p, g]: strictly inside the square of
    half-side r*stride around the box centre. priors: (N, 4) = (x, y, stride_w, stride_h)."""
    px, py = priors[:, 0:1], priors[:, 1:2]
    sx, sy = priors[:, 2:3], priors[:, 3:4]
    x1, y1, x2, y2 = (gt_bboxes[:, i][None] for i in range(4))
    in_gt = (px - x1 > 0) & (py - y1 > 0) & (x2 - px > 0) & (y2 - py > 0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rx, ry = center_radius * sx, center_radius * sy
    in_ctr = (
        (px - (cx - rx) > 0) & (py - (cy - ry) > 0) & ((cx + rx) - px > 0) & ((cy + ry) - py > 0)
    )
    return in_gt, in_ctr


def pairwise_cost(
    scores,
    ious,
    gt_labels,
    num_classes,
    iou_cost='log',
    cls_power=2.0,
    iou_weight=3.0,
    cls_weight=1.0,
):
    """Cost terms for valid priors. scores (V, C) probabilities, ious (V, G). Returns (cls, iou)
    costs."""
    if iou_cost == 'log':
        c_iou = -torch.log(ious + EPS)
    elif iou_cost == 'linear':
        c_iou = -ious
    else:
        raise ValueError(f"iou_cost must be 'log' or 'linear', got {iou_cost!r}")
    V, G = ious.shape
    onehot = F.one_hot(gt_labels.long(), num_classes).to(scores.dtype)  # (G, C)
    target = onehot[None] * ious[..., None]  # (V, G, C)
    p = scores[:, None, :].expand(V, G, num_classes)
    with torch.autocast(device_type=scores.device.type, enabled=False):
        bce = F.binary_cross_entropy(p.float(), target.float(), reduction='none')
    c_cls = (bce * (target - p).abs().pow(cls_power)).sum(-1)
    return cls_weight * c_cls, iou_weight * c_iou


def align_ota_assign(
    scores,
    priors,
    bboxes,
    gt_bboxes,
    gt_labels,
    center_radius=2.5,
    candidate_topk=10,
    iou_weight=3.0,
    cls_weight=1.0,
    iou_cost='log',
    cls_power=2.0,
):
    """Returns (gt_inds 1-based with 0 = negative, labels (-1 negative), max_overlaps), each
    (N,)."""
    N = priors.size(0)
    G = gt_bboxes.size(0)
    device = priors.device
    gt_inds = torch.zeros(N, dtype=torch.long, device=device)
    labels = torch.full((N,), -1, dtype=torch.long, device=device)
    max_overlaps = torch.zeros(N, dtype=torch.float32, device=device)
    if G == 0 or N == 0:
        return gt_inds, labels, max_overlaps
    in_gt, in_ctr = candidate_masks(priors, gt_bboxes, center_radius)
    valid = (in_gt | in_ctr).any(1)
    n_valid = int(valid.sum())
    if n_valid == 0:
        return gt_inds, labels, max_overlaps
    v_bboxes = bboxes[valid].float()
    ious = bbox_overlaps(v_bboxes, gt_bboxes.float())  # (V, G)
    c_cls, c_iou = pairwise_cost(
        scores[valid].float(),
        ious,
        gt_labels,
        scores.size(1),
        iou_cost,
        cls_power,
        iou_weight,
        cls_weight,
    )
    both = in_gt[valid] & in_ctr[valid]
    cost = c_cls + c_iou + INF * (~both).float()

    # dynamic k
    topk = min(candidate_topk, n_valid)
    topk_ious, _ = torch.topk(ious, topk, dim=0)
    ks = torch.clamp(topk_ious.sum(0).int(), min=1)
    matching = torch.zeros_like(cost, dtype=torch.bool)
    for g in range(G):
        _, idx = torch.topk(cost[:, g], k=int(ks[g]), largest=False)
        matching[idx, g] = True
    multi = matching.sum(1) > 1
    if multi.any():
        best = cost[multi].argmin(1)
        matching[multi] = False
        matching[multi.nonzero(as_tuple=True)[0], best] = True
    fg = matching.any(1)
    matched_gt = matching[fg].float().argmax(1)
    v_idx = valid.nonzero(as_tuple=True)[0]
    pos = v_idx[fg]
    gt_inds[pos] = matched_gt + 1
    labels[pos] = gt_labels[matched_gt].long()
    max_overlaps[pos] = ious[fg, matched_gt]
    return gt_inds, labels, max_overlaps


class AlignOTAAssigner(BaseAssigner):
    """AlignOTA (Xu et al. 2022, Sec. 2.3, Eq. 2), an mmdet assigner. ``pred_instances`` needs
    ``priors`` (N, 4: x, y, stride_w, stride_h), ``bboxes`` (decoded, pixels) and ``scores``
    (**probabilities**, N x C); all treated as detached.

    cost = cls_weight * sum_c BCE(p_c, y_c) |y_c - p_c|^cls_power + iou_weight * C_iou, with the
    soft target y = IoU at the GT class; each GT takes its k lowest-cost priors, k from the sum of
    its top IoUs (dynamic k, SimOTA style).

    Args:
        center_radius: candidate priors lie within this many strides of a GT centre (2.5).
        candidate_topk: top IoUs summed for the dynamic k (10).
        iou_weight: weight of the IoU cost (3.0; the paper writes 1).
        cls_weight: weight of the classification cost (1.0).
        iou_cost: ``'log'`` (-log IoU, official code) or ``'linear'`` (-IoU, the paper).
        cls_power: power of |y - p| in the classification cost (2, official code; the paper 1).
    """

    def __init__(
        self,
        center_radius=2.5,
        candidate_topk=10,
        iou_weight=3.0,
        cls_weight=1.0,
        iou_cost='log',
        cls_power=2.0,
    ):
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.iou_weight = iou_weight
        self.cls_weight = cls_weight
        self.iou_cost = iou_cost
        self.cls_power = cls_power

    @torch.no_grad()
    def assign(self, pred_instances, gt_instances, gt_instances_ignore=None, **kwargs):
        gt_bboxes = gt_instances.bboxes
        gt_labels = gt_instances.labels
        if hasattr(gt_bboxes, 'tensor'):
            gt_bboxes = gt_bboxes.tensor
        gt_inds, labels, overlaps = align_ota_assign(
            pred_instances.scores.detach(),
            pred_instances.priors,
            pred_instances.bboxes.detach(),
            gt_bboxes,
            gt_labels,
            self.center_radius,
            self.candidate_topk,
            self.iou_weight,
            self.cls_weight,
            self.iou_cost,
            self.cls_power,
        )
        return AssignResult(gt_bboxes.size(0), gt_inds, overlaps, labels=labels)
