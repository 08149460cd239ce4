"""Losses, FixMatch mask, loss composition, λ schedule, distance modes, metric."""

import os
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from fw_semicd_vl.loss import bcl_loss, masked_ce  # noqa: E402
from fw_semicd_vl.metric import ChangeDetectionMetric, cd_scores, confusion  # noqa: E402
from fw_semicd_vl.model import SemiCDVL, feature_distance  # noqa: E402


class Tiny(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.c = nn.ModuleList(
            [
                nn.Conv2d(3, c, 3, 4, 1),
                nn.Conv2d(c, c, 3, 2, 1),
                nn.Conv2d(c, c, 3, 2, 1),
                nn.Conv2d(c, c, 3, 1, 1),
            ]
        )

    def forward(self, x):
        out = []
        for conv in self.c:
            x = conv(x)
            out.append(x)
        return tuple(out)


def model(**kw):
    return SemiCDVL(
        Tiny(),
        dict(in_channels=[8] * 4, channels=8, vl_classes=2),
        aux_head=dict(in_channels=[8] * 4, channels=8),
        **kw,
    )


def ce_np(logits, target):
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    t = np.where(target == 255, 0, target)
    loss = -np.take_along_axis(logp, t[:, None], 1)[:, 0]
    return np.where(target == 255, 0.0, loss)


def bcl_none_np(d, t, m=2.0):
    v = t != 255
    return np.where(v & (t == 0), d**2, 0) + np.where(v & (t == 1), np.maximum(0, m - d) ** 2, 0)


def test_bcl_hand_values():
    d = torch.tensor([0.5, 1.5, 3.0, 0.2])
    t = torch.tensor([0, 1, 1, 255])
    np.testing.assert_allclose(bcl_loss(d, t, 2.0, 'none').numpy(), [0.25, 0.25, 0, 0], atol=1e-7)
    assert abs(bcl_loss(d, t, 2.0, 'mean').item() - 0.374969) < 1e-6


def test_ce_all_vs_mean_differ_by_valid_fraction():
    torch.manual_seed(0)
    logits, t = torch.randn(2, 2, 5, 5), torch.randint(0, 2, (2, 5, 5))
    t[0, :2] = 255
    frac = (t != 255).float().mean()
    torch.testing.assert_close(
        masked_ce(logits, t, 'mean_all'), masked_ce(logits, t, 'mean') * frac
    )
    torch.testing.assert_close(
        masked_ce(logits, t, 'mean'), nn.functional.cross_entropy(logits, t, ignore_index=255)
    )


def test_fixmatch_mask_exact():
    """1×4×4 map: confidences 0.949 / 0.951 and one padded pixel; only confident unpadded pixels
    count,
    the denominator is Σ valid (15)."""
    m = model(semi_mode='fixmatch')
    conf = torch.full((1, 4, 4), 0.949)
    conf[0, ::2] = 0.951  # rows 0 and 2 confident (8 px)
    ign = torch.zeros(1, 4, 4, dtype=torch.long)
    ign[0, 0, 0] = 255  # a confident but padded pixel
    torch.manual_seed(1)
    pred_s, pl_s = torch.randn(1, 2, 4, 4), torch.randint(0, 2, (1, 4, 4))
    pred_x, gt_x = torch.randn(1, 2, 4, 4), torch.randint(0, 2, (1, 4, 4))
    out = m.compose_losses(
        dict(pred_x=pred_x, gt_x=gt_x, pred_s=pred_s, pl_s=pl_s, conf_s=conf, ign_s=ign)
    )
    ce = ce_np(pred_s.numpy(), pl_s.numpy())[0]
    keep = np.zeros((4, 4), bool)
    keep[::2] = True
    keep[0, 0] = False
    hand_s = ce[keep].sum() / 15.0
    assert keep.sum() == 7
    assert abs(out['l_s'].item() - hand_s) < 1e-6
    hand_x = ce_np(pred_x.numpy(), gt_x.numpy()).mean()
    assert abs(out['loss'].item() - 0.5 * (hand_x + hand_s)) < 1e-6


def test_lambda_schedule():
    m = model()
    assert m.vl_lambda_at(0, 1000) == pytest.approx(0.1)
    assert m.vl_lambda_at(500, 1000) == pytest.approx(0.05)
    assert m.vl_lambda_at(1000, 1000) == pytest.approx(0.0)
    m.set_progress(250, 1000)
    assert m.vl_lambda_at() == pytest.approx(0.075)


def fixed_tensors(n=2, h=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    lab = lambda: torch.randint(0, 2, (n, h, h), generator=g)  # noqa: E731

    def with255(x):
        x = x.clone()
        x[:, 0, :3] = 255
        return x

    t = dict(
        pred_x=r(n, 2, h, h),
        gt_x=with255(lab()),
        pred_s=r(n, 2, h, h),
        pl_s=lab(),
        conf_s=torch.rand(n, h, h, generator=g) * 0.1 + 0.9,
        ign_s=with255(torch.zeros(n, h, h).long()),
    )
    for k in ('vl', 'seg_a', 'seg_b'):
        for s in 'xws':
            t[f'{k}_{s}'] = r(n, 2, h, h)
    for s in 'xws':
        t[f'd_{s}'] = r(n, h, h).abs() * 2
        for k in ('vl_change', 'vl_a', 'vl_b'):
            t[f'{k}_{s}'] = with255(lab())
    return t


def test_loss_composition_against_hand_formula():
    t = fixed_tensors()
    m = model()
    T_ = 1000
    for it, lam in ((0, 0.1), (500, 0.05), (1000, 0.0)):
        m.set_progress(it, T_)
        got = m.compose_losses(t)['loss'].item()
        a = {k: v.numpy() for k, v in t.items()}
        valid = a['ign_s'] != 255
        keep = (a['conf_s'] >= 0.95) & valid
        mean = lambda p, q: ce_np(p, q).sum() / (q != 255).sum()  # noqa: E731
        allm = lambda p, q: ce_np(p, q).sum() / q.size  # noqa: E731
        l_x = mean(a['pred_x'], a['gt_x'])
        l_s = (ce_np(a['pred_s'], a['pl_s']) * keep).sum() / valid.sum()
        dx, gx = a['d_x'], a['gt_x']
        v = gx != 255
        l_cx = ((dx**2) * v * (gx == 0)).sum() / ((v * (gx == 0)).sum() + 1e-4) + (
            (np.maximum(0, 2 - dx) ** 2) * v * (gx == 1)
        ).sum() / ((v * (gx == 1)).sum() + 1e-4)
        l_cs = (bcl_none_np(a['d_s'], a['pl_s']) * keep).sum() / valid.sum()
        vl = (
            mean(a['vl_x'], a['vl_change_x'])
            + allm(a['vl_s'], a['vl_change_s'])
            + allm(a['vl_w'], a['vl_change_w'])
        )
        seg = (
            0.5 * (mean(a['seg_a_x'], a['vl_a_x']) + mean(a['seg_b_x'], a['vl_b_x']))
            + 0.5 * (allm(a['seg_a_s'], a['vl_a_s']) + allm(a['seg_b_s'], a['vl_b_s']))
            + 0.5 * (allm(a['seg_a_w'], a['vl_a_w']) + allm(a['seg_b_w'], a['vl_b_w']))
        )
        hand = 0.5 * (l_x + l_s) + 0.1 * 0.5 * (l_cx + l_cs) + lam / 6 * (vl + seg)
        assert got == pytest.approx(hand, rel=1e-5), (it, got, hand)
    m.semi_mode = 'fixmatch'
    assert m.compose_losses(t)['loss'].item() == pytest.approx(0.5 * (l_x + l_s), rel=1e-5)
    m.semi_mode = 'supervised'
    assert m.compose_losses(t)['loss'].item() == pytest.approx(l_x, rel=1e-5)


def test_semi_forward_cutmix_one_box_for_images_and_all_targets():
    torch.manual_seed(0)
    m = model()
    n, h = 2, 16
    seen, outs = [], []
    real = m.forward_all

    def spy(img, aux=False, dist=False):
        seen.append(img.clone())
        r = real(img, aux, dist)
        outs.append((m.training, r['pred'].detach().clone()))
        return r

    m.forward_all = spy

    def batch(strong):
        d = dict(
            img=torch.rand(n, 6, h, h) * 255,
            gt=torch.randint(0, 2, (n, h, h)),
            ignore=torch.randint(0, 2, (n, h, h)) * 255,
            **{k: torch.randint(0, 2, (n, h, h)) for k in ('vl_a', 'vl_b', 'vl_change')},
        )
        if strong:
            d['img_s'] = torch.rand(n, 6, h, h) * 255
            d['cutmix_box'] = torch.zeros(n, h, h, dtype=torch.long)
            d['cutmix_box'][:, 3:9, 5:12] = 1
        return d

    x, u, o = batch(False), batch(True), batch(True)
    m.train()
    t = m.semi_forward(x, u, o)
    box = u['cutmix_box'] == 1
    exp_s = torch.where(box.unsqueeze(1), m.normalize(o['img_s']), m.normalize(u['img_s']))
    torch.testing.assert_close(
        seen[-1], exp_s
    )  # both dates (all 6 channels) take o inside the one box
    for k in ('vl_change', 'vl_a', 'vl_b'):
        torch.testing.assert_close(t[f'{k}_s'], torch.where(box, o[k], u[k]))
    torch.testing.assert_close(t['ign_s'], torch.where(box, o['ignore'], u['ignore']))
    assert outs[0][0] is False  # the mix partner's pseudo-labels come from an eval-mode pass
    torch.testing.assert_close(seen[0], m.normalize(o['img']))
    conf_o, pl_o = outs[0][1].softmax(1).max(1)
    torch.testing.assert_close(t['pl_s'][box], pl_o[box])
    torch.testing.assert_close(t['conf_s'][box], conf_o[box])
    assert t['d_s'].shape == (n, h, h) and t['vl_s'].shape == (n, 2, h, h)


def test_distance_modes():
    torch.manual_seed(0)
    qa, qb = torch.randn(2, 5, 3, 4), torch.randn(2, 5, 3, 4)  # C=5, h=3, w=4: the two maps differ
    d = feature_distance(qa, qb, (3, 4), 'per_pixel')
    torch.testing.assert_close(d, (qa - qb).pow(2).sum(1).sqrt(), atol=1e-4, rtol=1e-4)
    off = feature_distance(
        qa, qb, (5, 3), 'official'
    )  # (channel,row) map at its own size: no stretch
    torch.testing.assert_close(off, (qa - qb + 1e-6).pow(2).sum(3).sqrt(), atol=1e-5, rtol=1e-5)
    assert feature_distance(qa, qb, (12, 16), 'official').shape == (2, 12, 16)
    assert model().dist_mode == 'per_pixel'


def test_metric_hand_and_identity():
    rng = np.random.RandomState(0)
    pred, gt = rng.randint(0, 2, (3, 20, 20)), rng.randint(0, 2, (3, 20, 20))
    gt[:, :2] = 255
    m = ChangeDetectionMetric()
    m.process(
        None, [dict(pred=torch.from_numpy(p), gt=torch.from_numpy(g)) for p, g in zip(pred, gt)]
    )
    s = m.compute_metrics(m.results)
    v = gt != 255
    tp = ((pred == 1) & (gt == 1)).sum()
    fp = ((pred == 1) & (gt == 0)).sum()
    fn = ((pred == 0) & (gt == 1) & v).sum()
    assert s['IoU_c'] == pytest.approx(100 * tp / (tp + fp + fn))
    assert s['Precision_c'] == pytest.approx(100 * tp / (tp + fp))
    assert s['Recall_c'] == pytest.approx(100 * tp / (tp + fn))
    iou = s['IoU_c'] / 100
    assert s['F1_c'] / 100 == pytest.approx(2 * iou / (1 + iou))
    assert confusion(pred, gt).sum() == v.sum()
    assert cd_scores(confusion(np.zeros(4), np.zeros(4)))['IoU_c'] == 0.0


def test_metric_equals_mmseg_iou_metric():
    pytest.importorskip('mmseg.evaluation')
    from mmseg.evaluation import IoUMetric

    rng = np.random.RandomState(1)
    pred, gt = rng.randint(0, 2, (4, 16, 16)), rng.randint(0, 2, (4, 16, 16))
    gt[:, 0] = 255
    ours = ChangeDetectionMetric()
    ours.process(None, [dict(pred=p, gt=g) for p, g in zip(pred, gt)])
    s = ours.compute_metrics(ours.results)
    ref = IoUMetric(iou_metrics=['mIoU', 'mFscore'])
    ref.dataset_meta = dict(classes=('unchanged', 'changed'))
    ref.process(
        None,
        [
            dict(
                pred_sem_seg=dict(data=torch.from_numpy(p)[None]),
                gt_sem_seg=dict(data=torch.from_numpy(g)[None]),
            )
            for p, g in zip(pred, gt)
        ],
    )
    res = ref.compute_metrics(ref.results)
    assert s['mIoU'] == pytest.approx(res['mIoU'], abs=0.01)
    assert s['OA'] == pytest.approx(res['aAcc'], abs=0.01)


def test_strong_bn_update_option_keeps_running_stats():
    torch.manual_seed(0)
    m = model(strong_bn_update=False)
    n, h = 2, 16

    def batch(strong):
        d = dict(
            img=torch.rand(n, 6, h, h) * 255,
            gt=torch.randint(0, 2, (n, h, h)),
            ignore=torch.zeros(n, h, h, dtype=torch.long),
            **{k: torch.randint(0, 2, (n, h, h)) for k in ('vl_a', 'vl_b', 'vl_change')},
        )
        if strong:
            d['img_s'] = torch.rand(n, 6, h, h) * 255
            d['cutmix_box'] = torch.zeros(n, h, h, dtype=torch.long)
        return d

    bn = m.decode_head.fuse.bn
    calls = []
    real = m.forward_all

    def spy(img, aux=False, dist=False):
        r = real(img, aux, dist)
        calls.append(bn.running_mean.clone())
        return r

    m.forward_all = spy
    m.train()
    m.semi_forward(batch(False), batch(True), batch(True))
    assert not torch.equal(calls[0], calls[1])  # x ‖ u_w updates the running stats
    assert torch.equal(calls[1], calls[2])  # the strong pair does not
    assert bn.momentum == 0.1


@pytest.mark.parametrize('mode', ['pixelratio', 'pixelavg'])
def test_conf_modes_match_the_official_formulas(mode):
    """Issue 14 item 5: the released code's ``confidence_weighted_loss`` written out per pixel in
    numpy loops. pixelratio: image n's whole loss (padded pixels too) times its confident share;
    pixelavg: the batch's summed loss times each image's mean valid confidence, summed over n;
    both over Σ valid. Two images with different shares/confidences and padding tell them apart
    from the masked per-image forms."""
    from fw_semicd_vl.loss import confidence_weighted

    rng = np.random.RandomState(3)
    loss = rng.rand(2, 4, 5).astype(np.float32)
    conf = rng.uniform(0.9, 1.0, (2, 4, 5)).astype(np.float32)
    valid = np.ones((2, 4, 5), bool)
    valid[0, 0, :] = False  # image 0: one padded row
    valid[1, :, 4] = False  # image 1: one padded column
    keep = (conf >= 0.95) & valid
    total_valid = 0
    for n in range(2):
        total_valid += int(valid[n].sum())
    hand = 0.0
    for n in range(2):
        nv = float(valid[n].sum())
        if mode == 'pixelratio':
            hand += float(keep[n].sum()) / nv * float(loss[n].sum())
        else:
            hand += float(loss.sum()) * float((conf[n] * valid[n]).sum()) / nv
    hand /= total_valid
    got = confidence_weighted(
        torch.from_numpy(loss),
        torch.from_numpy(conf),
        torch.from_numpy(keep),
        torch.from_numpy(valid),
        mode,
    )
    assert abs(got.item() - hand) < 1e-5 * max(1.0, abs(hand))
