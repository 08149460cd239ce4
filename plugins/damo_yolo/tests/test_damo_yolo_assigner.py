"""AlignOTA on hand-made cases on a stride-8 8x8 grid of priors at (8i, 8j)."""

import math

import pytest
import torch

pytest.importorskip('mmdet')

from mmengine.structures import InstanceData  # noqa: E402

from fw_damo_yolo.assigner import (  # noqa: E402
    AlignOTAAssigner,
    align_ota_assign,
    candidate_masks,
    pairwise_cost,
)

C = 2  # classes


def grid():
    ys, xs = torch.meshgrid(torch.arange(8.0) * 8, torch.arange(8.0) * 8, indexing='ij')
    return torch.stack(
        [xs.flatten(), ys.flatten(), torch.full((64,), 8.0), torch.full((64,), 8.0)], 1
    )


def preds_towards(priors, gt, seed=0, jitter=6.0):
    """Decoded boxes: the GT shifted by a prior-dependent, distinct offset (distinct IoUs)."""
    g = torch.Generator().manual_seed(seed)
    shift = torch.rand(priors.size(0), 4, generator=g) * jitter - jitter / 2
    return gt[None].expand(priors.size(0), 4) + shift


def scores(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, C, generator=g) * 0.8 + 0.1


def run(priors, bboxes, probs, gt_bboxes, gt_labels):
    a = AlignOTAAssigner()
    res = a.assign(
        InstanceData(priors=priors, bboxes=bboxes, scores=probs),
        InstanceData(bboxes=gt_bboxes, labels=gt_labels),
    )
    return res


def full_cost(priors, bboxes, probs, gt_bboxes, gt_labels):
    from mmdet.structures.bbox import bbox_overlaps

    in_gt, in_ctr = candidate_masks(priors, gt_bboxes)
    valid = (in_gt | in_ctr).any(1)
    ious = bbox_overlaps(bboxes[valid], gt_bboxes)
    c_cls, c_iou = pairwise_cost(probs[valid], ious, gt_labels, C)
    cost = c_cls + c_iou + 1e8 * (~(in_gt & in_ctr)[valid]).float()
    return valid, ious, cost


def test_one_box_candidates_and_dynamic_k():
    priors = grid()
    gt = torch.tensor([[16.0, 16.0, 48.0, 48.0]])
    in_gt, in_ctr = candidate_masks(priors, gt)
    xy = priors[:, :2]
    both = (in_gt & in_ctr)[:, 0]
    assert both.sum() == 9
    assert set(map(tuple, xy[both].tolist())) == {
        (x, y) for x in (24.0, 32.0, 40.0) for y in (24.0, 32.0, 40.0)
    }
    valid = (in_gt | in_ctr)[:, 0]
    assert valid.sum() == 25
    assert set(xy[valid, 0].tolist()) == {16.0, 24.0, 32.0, 40.0, 48.0}

    bboxes = preds_towards(priors, gt[0])
    probs = scores(64)
    res = run(priors, bboxes, probs, gt, torch.tensor([0]))
    v, ious, cost = full_cost(priors, bboxes, probs, gt, torch.tensor([0]))
    k = int(ious[:, 0].topk(10).values.sum())
    assert len(set(ious[:, 0].tolist())) == ious.size(0)  # distinct IoUs
    pos = (res.gt_inds > 0).nonzero().flatten()
    assert len(pos) == k and 1 <= k <= 9
    # the k lowest-cost valid priors, all inside box and centre here
    v_idx = v.nonzero().flatten()
    expected = v_idx[cost[:, 0].topk(k, largest=False).indices]
    assert set(pos.tolist()) == set(expected.tolist())
    assert both[pos].all()
    assert (res.labels[pos] == 0).all() and (res.labels[res.gt_inds == 0] == -1).all()
    # max_overlaps = IoU with the matched GT
    pos_in_valid = torch.searchsorted(v_idx, pos)
    assert torch.allclose(res.max_overlaps[pos], ious[pos_in_valid, 0])
    assert (res.max_overlaps[res.gt_inds == 0] == 0).all()


def test_no_box_all_negative():
    priors = grid()
    res = run(
        priors,
        preds_towards(priors, torch.tensor([0.0, 0, 8, 8])),
        scores(64),
        torch.zeros(0, 4),
        torch.zeros(0, dtype=torch.long),
    )
    assert (res.gt_inds == 0).all() and (res.labels == -1).all() and (res.max_overlaps == 0).all()
    assert res.num_gts == 0


def test_point_on_border_is_outside():
    priors = torch.tensor([[16.0, 32.0, 8.0, 8.0], [17.0, 32.0, 8.0, 8.0], [48.0, 48.0, 8.0, 8.0]])
    in_gt, in_ctr = candidate_masks(priors, torch.tensor([[16.0, 16.0, 48.0, 48.0]]))
    assert in_gt[:, 0].tolist() == [False, True, False]
    # the centre square (half-side 20 around 32 -> (12, 52)) is strict as well
    in_gt, in_ctr = candidate_masks(
        torch.tensor([[12.0, 32.0, 8.0, 8.0], [13.0, 32.0, 8.0, 8.0]]),
        torch.tensor([[16.0, 16.0, 48.0, 48.0]]),
    )
    assert in_ctr[:, 0].tolist() == [False, True]


def test_prior_claimed_by_two_boxes_goes_to_lower_cost():
    priors = grid()
    gts = torch.tensor([[16.0, 16.0, 48.0, 48.0], [24.0, 24.0, 56.0, 56.0]])
    labels = torch.tensor([0, 1])
    # every prior predicts the box halfway between both GTs: high IoU with both, so both pick it
    mid = (gts[0] + gts[1]) / 2
    bboxes = preds_towards(priors, mid, seed=3, jitter=4.0)
    probs = scores(64, seed=4)
    v, ious, cost = full_cost(priors, bboxes, probs, gts, labels)
    v_idx = v.nonzero().flatten()
    ks = ious.topk(10, dim=0).values.sum(0).int().clamp(min=1)
    picks = [
        set(v_idx[cost[:, g].topk(int(ks[g]), largest=False).indices].tolist()) for g in range(2)
    ]
    contested = picks[0] & picks[1]
    assert contested, 'the case must have a prior picked by both GTs'
    res = run(priors, bboxes, probs, gts, labels)
    for p in contested:
        j = int((v_idx == p).nonzero())
        assert res.gt_inds[p] == int(cost[j].argmin()) + 1
    for g in range(2):
        # each GT keeps its uncontested picks and gets no replacement for the ones it lost
        won = {p for p in contested if res.gt_inds[p] == g + 1}
        assert (
            set((res.gt_inds == g + 1).nonzero().flatten().tolist()) == (picks[g] - contested) | won
        )
    assert set(res.labels[res.gt_inds == 2].tolist()) <= {1}


def test_k_larger_than_in_both_takes_outside_priors():
    priors = grid()
    gt = torch.tensor([[20.0, 20.0, 36.0, 36.0]])
    in_gt, in_ctr = candidate_masks(priors, gt)
    both = (in_gt & in_ctr)[:, 0]
    valid = (in_gt | in_ctr)[:, 0]
    assert both.sum() == 4 and valid.sum() == 16
    bboxes = gt.expand(64, 4).clone()  # IoU 1 everywhere -> k = 10 > 4
    res = run(priors, bboxes, scores(64), gt, torch.tensor([1]))
    pos = res.gt_inds > 0
    assert pos.sum() == 10
    assert (pos & both).sum() == 4  # all in-both priors first (INF penalty), then 6 from outside
    assert (pos & ~both & valid).sum() == 6 and not (pos & ~valid).any()


def test_hand_cost_values():
    probs = torch.tensor([[0.5, 0.1]])
    ious = torch.tensor([[0.8]])
    c_cls, c_iou = pairwise_cost(probs, ious, torch.tensor([0]), 2, iou_weight=1.0)
    assert abs(float(c_cls) - 0.063437) < 1e-6
    assert abs(float(c_iou) - 0.223143) < 1e-6
    c_cls, c_iou = pairwise_cost(probs, ious, torch.tensor([0]), 2)  # default weights 1 : 3
    assert abs(float(c_cls + c_iou) - 0.732867) < 1e-5
    # paper variant: linear IoU cost, power 1
    c_cls, c_iou = pairwise_cost(
        probs, ious, torch.tensor([0]), 2, iou_cost='linear', cls_power=1.0, iou_weight=1.0
    )
    assert abs(float(c_iou) + 0.8) < 1e-6
    expect = -(0.8 * math.log(0.5) + 0.2 * math.log(0.5)) * 0.3 - math.log(0.9) * 0.1
    assert abs(float(c_cls) - expect) < 1e-6


def test_function_and_class_agree_and_detach():
    priors = grid()
    gt = torch.tensor([[16.0, 16.0, 48.0, 48.0]])
    bboxes = preds_towards(priors, gt[0]).requires_grad_()
    probs = scores(64).requires_grad_()
    res = run(priors, bboxes, probs, gt, torch.tensor([0]))
    inds, labels, ov = align_ota_assign(
        probs.detach(), priors, bboxes.detach(), gt, torch.tensor([0])
    )
    assert torch.equal(res.gt_inds, inds) and torch.equal(res.labels, labels)
    assert not res.max_overlaps.requires_grad
