"""Channel-wise distillation loss and its weight schedule; pure torch."""

import torch
import torch.nn as nn

from fw_damo_yolo.loss import CWDFeatureLoss, cwd, cwd_weight


def _identity_align(loss):
    for conv in loss.align:
        nn.init.zeros_(conv.bias)
        with torch.no_grad():
            conv.weight.zero_()
            conv.weight[:, :, 0, 0].copy_(torch.eye(conv.out_channels, conv.in_channels))


def test_identical_features_give_zero():
    torch.manual_seed(0)
    loss = CWDFeatureLoss((4, 8), (4, 8))
    _identity_align(loss)
    feats = [torch.randn(2, 4, 6, 6), torch.randn(2, 8, 3, 3)]
    assert float(loss(feats, feats)) < 1e-6


def test_permuted_spatial_map_is_positive_and_hand_value():
    torch.manual_seed(0)
    t = torch.randn(2, 4, 5, 5)
    s = t.flatten(2)[..., torch.randperm(25)].reshape_as(t)
    assert float(cwd(s, t)) > 1e-3
    # hand value: one channel, two positions; KL(softmax(T) || softmax(S))
    T = torch.tensor([[[[0.0, 1.0]]]])
    S = torch.tensor([[[[1.0, 0.0]]]])
    pt = torch.softmax(T.flatten(), 0)
    ps = torch.softmax(S.flatten(), 0)
    assert abs(float(cwd(S, T)) - float((pt * (pt.log() - ps.log())).sum())) < 1e-6


def test_norm_uses_batch_statistics_in_eval():
    loss = CWDFeatureLoss((4,), (4,)).eval()
    assert all(not n.track_running_stats and not n.affine for n in loss.norm)
    x = torch.randn(2, 4, 3, 3) * 5 + 3
    y = loss.norm[0](x)
    assert abs(float(y.mean())) < 1e-5  # normalised with the batch's own statistics
    assert len(list(loss.norm[0].buffers())) == 0


def test_weight_schedule():
    assert cwd_weight(0, 100) == 1.0
    assert abs(cwd_weight(50, 100) - 0.55) < 1e-9
    assert abs(cwd_weight(100, 100) - 0.1) < 1e-9
    assert cwd_weight(25, 100) > cwd_weight(75, 100)


def test_align_conv_learns():
    torch.manual_seed(0)
    loss = CWDFeatureLoss((4,), (6,))
    teacher = [torch.randn(4, 6, 4, 4)]
    student = [torch.randn(4, 4, 4, 4)]
    opt = torch.optim.SGD(loss.parameters(), lr=0.5)
    first = float(loss(student, teacher))
    for _ in range(30):
        opt.zero_grad()
        v = loss(student, teacher)
        v.backward()
        opt.step()
    assert float(v) < first
