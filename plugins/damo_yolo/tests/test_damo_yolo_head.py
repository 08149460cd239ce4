"""ZeroHead, losses and the assembled detector."""

import math

import pytest
import torch

pytest.importorskip('mmdet')

from mmdet.models.losses.gfocal_loss import (  # noqa: E402
    distribution_focal_loss,
    quality_focal_loss,
    quality_focal_loss_with_prob,
)
from mmdet.structures import DetDataSample  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

from fw_damo_yolo.detector import build_model  # noqa: E402


def _sample(boxes, labels, size=128):
    d = DetDataSample(
        metainfo=dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            scale_factor=(1.0, 1.0),
            pad_shape=(size, size),
            batch_input_shape=(size, size),
        )
    )
    d.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long),
    )
    d.ignored_instances = InstanceData(
        bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long)
    )
    return d


@pytest.fixture(scope='module')
def tiny_t():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = build_model('damo_yolo_t_shapes')  # width-scaled T, 3 classes
    return m


def test_qfl_hand_value_and_logit_form():
    p = torch.tensor([[0.6, 0.2]])
    logits = torch.log(p / (1 - p))
    target = (torch.tensor([0]), torch.tensor([0.75]))
    v = quality_focal_loss(logits, target, beta=2.0)
    assert abs(float(v) - 0.022700) < 1e-5
    # raw logits (mmdet convention, sigmoid inside) == probabilities (official head) for |logit| <
    # 15
    g = torch.Generator().manual_seed(0)
    lg = ((torch.rand(64, 5, generator=g) - 0.5) * 28).double()  # float32 sigmoid saturates near 1
    lab = torch.randint(0, 6, (64,), generator=g)
    score = torch.rand(64, generator=g).double()
    a = quality_focal_loss(lg, (lab, score))
    b = quality_focal_loss_with_prob(lg.sigmoid(), (lab, score))
    assert (a - b).abs().max() < 1e-5


def test_dfl_hand_value():
    v = distribution_focal_loss(torch.zeros(1, 17), torch.tensor([3.4]))
    assert abs(float(v) - math.log(17)) < 1e-5


def test_head_structure_and_priors(tiny_t):
    head = tiny_t.bbox_head
    assert head.prior_generator.offset == 0.0
    pri = head._priors(
        [torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 4, 4)]
    )
    assert pri[0].tolist() == [0.0, 0.0, 8.0, 8.0] and pri[1].tolist() == [8.0, 0.0, 8.0, 8.0]
    assert pri[256].tolist() == [0.0, 0.0, 16.0, 16.0]
    assert head.loss_cls.loss_weight == 1.0 and head.loss_bbox.loss_weight == 2.0
    assert head.loss_dfl.loss_weight == 0.25
    assert all(c.kernel_size == (3, 3) and c.out_channels == 68 for c in head.reg_convs)
    assert abs(float(head.cls_convs[0].bias[0]) + 4.59512) < 1e-4
    # decode: uniform bins -> expectation 8 bins * stride
    box = head.decode(pri[:1], torch.zeros(1, 4, 17))
    assert box.tolist() == [[-64.0, -64.0, 64.0, 64.0]]


def test_loss_weights_and_zero_positive_batch(tiny_t):
    m = tiny_t.train()
    x = torch.rand(2, 3, 128, 128) * 255
    samples = [_sample([[20, 30, 70, 90], [80, 80, 120, 124]], [0, 2]), _sample([], [])]
    losses = m.loss(x, samples)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_dfl'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    m.zero_grad()
    empty = m.loss(x, [_sample([], []), _sample([], [])])
    assert float(empty['loss_bbox']) == 0.0 and float(empty['loss_dfl']) == 0.0
    total = sum(empty.values())
    assert torch.isfinite(total)
    total.backward()
    g = m.bbox_head.reg_convs[0].weight.grad
    assert g is not None and float(g.abs().max()) == 0.0  # reg branch kept in the graph, zero grads
    assert float(m.bbox_head.cls_convs[0].weight.grad.abs().max()) > 0


def test_giou_weight_is_max_score(tiny_t, monkeypatch):
    head = tiny_t.bbox_head
    seen = {}
    orig = head.loss_bbox.forward

    def spy(pred, target, weight=None, avg_factor=None, **kw):
        seen['weight'], seen['avg'] = weight.detach().clone(), avg_factor
        return orig(pred, target, weight=weight, avg_factor=avg_factor, **kw)

    monkeypatch.setattr(head.loss_bbox, 'forward', spy)
    tiny_t.train()
    x = torch.rand(1, 3, 128, 128) * 255
    feats = tiny_t.extract_feat(x)
    cls, reg = head(feats)
    head.loss_by_feat(cls, reg, [_sample([[20, 30, 70, 90]], [1]).gt_instances], [{}])
    probs = torch.cat([c.permute(0, 2, 3, 1).reshape(-1, 3) for c in cls]).sigmoid().max(1)[0]
    w = seen['weight']
    assert len(w) > 0 and all(bool(torch.isclose(probs, v).any()) for v in w)
    assert seen['avg'] == max(float(w.sum()), 1.0)


def test_predict_rescale_and_deploy_equivalence(tiny_t):
    from fw_damo_yolo.deploy import deploy_copy

    m = tiny_t.eval()
    m.test_cfg.score_thr = 0.0  # keep boxes from an untrained model
    m.bbox_head.test_cfg.score_thr = 0.0
    x = torch.rand(1, 3, 128, 128) * 255
    s = _sample([], [])
    s.set_metainfo(dict(scale_factor=(0.5, 0.5), ori_shape=(256, 256)))
    with torch.no_grad():
        out = m.predict(x, [s], rescale=True)[0].pred_instances
        raw = m._forward(x)
        dep = deploy_copy(m)
        raw2 = dep._forward(x)
    assert len(out.bboxes) > 0 and len(out.bboxes) <= m.test_cfg.max_per_img
    for a, b in zip(raw[0] + raw[1], raw2[0] + raw2[1]):
        assert (a - b).abs().max() / a.abs().max().clamp(min=1) < 1e-4
    m.bbox_head.test_cfg.score_thr = 0.05
