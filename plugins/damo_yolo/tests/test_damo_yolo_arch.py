"""Architecture: sizes, FLOPs, feature shapes, activation quirks, re-parameterisation."""

import copy

import pytest
import torch
import torch.nn as nn

from fw_damo_yolo.backbone import TinyNAS
from fw_damo_yolo.deploy import switch_to_deploy
from fw_damo_yolo.layers import CSPStage, RepConv, ResConvBlock, SPPBottleneck
from fw_damo_yolo.neck import GiraffeNeckV2

NECKS = {
    'T': ((96, 192, 384), (64, 128, 256), 1.0, 1.0, 'relu'),
    'S': ((128, 256, 512), (128, 256, 512), 1.0, 0.75, 'relu'),
    'M': ((128, 256, 512), (128, 256, 512), 1.5, 1.0, 'silu'),
}
# measured on the official definitions (the official definitions, 80 classes): train-mode /
# RepConv-deployed params, 2 x conv MACs
TRAIN_PARAMS = {'T': 8.876, 'S': 16.936, 'M': 29.242}
DEPLOY_PARAMS = {'T': 8.480, 'S': 16.252, 'M': 28.178}
PAPER_PARAMS = {'T': 8.5, 'S': 16.3, 'M': 28.2}
PAPER_GFLOPS = {'T': 18.1, 'S': 37.8, 'M': 61.8}


def _head_params(channels, num_classes=80, reg_max=16):
    return sum(
        c * 9 * (num_classes + 4 * (reg_max + 1)) + num_classes + 4 * (reg_max + 1) + 1
        for c in channels
    )  # + 1: the learnable Scale per level


def _params(m):
    return sum(p.numel() for p in m.parameters())


def _randomise_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d) and m.affine:
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


@pytest.mark.parametrize('arch', ['T', 'S', 'M'])
def test_param_counts_train_and_deploy(arch):
    ci, co, d, r, act = NECKS[arch]
    bb, neck = TinyNAS(arch), GiraffeNeckV2(ci, co, d, r, act)
    assert bb.out_channels == ci
    head = _head_params(co)
    train = (_params(bb) + _params(neck) + head) / 1e6
    assert abs(train - TRAIN_PARAMS[arch]) / TRAIN_PARAMS[arch] < 1e-3
    switch_to_deploy(bb)
    switch_to_deploy(neck)
    deploy = (_params(bb) + _params(neck) + head) / 1e6
    assert abs(deploy - DEPLOY_PARAMS[arch]) / DEPLOY_PARAMS[arch] < 1e-3
    assert abs(deploy - PAPER_PARAMS[arch]) / PAPER_PARAMS[arch] < 0.01


@pytest.mark.parametrize('arch', ['T', 'S', 'M'])
def test_flops_640_deployed(arch):
    """2 x MACs of backbone + neck + head convs at 1x3x640x640, deployed (mmengine's
    FlopAnalyzer)."""
    from mmengine.analysis import FlopAnalyzer

    torch.set_num_threads(1)
    ci, co, d, r, act = NECKS[arch]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.bb, self.neck = TinyNAS(arch), GiraffeNeckV2(ci, co, d, r, act)
            self.cls = nn.ModuleList(nn.Conv2d(c, 80, 3, padding=1) for c in co)
            self.reg = nn.ModuleList(nn.Conv2d(c, 68, 3, padding=1) for c in co)

        def forward(self, x):
            f = self.neck(self.bb(x))
            return [m(y) for m, y in zip(self.cls, f)] + [m(y) for m, y in zip(self.reg, f)]

    net = switch_to_deploy(Net().eval())
    fa = FlopAnalyzer(net, (torch.zeros(1, 3, 640, 640),))
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    conv = 2 * fa.by_operator()['conv'] / 1e9
    total = 2 * fa.total() / 1e9
    expected_conv = {'T': 18.01, 'S': 37.62, 'M': 61.62}[arch]
    assert abs(conv - expected_conv) / expected_conv < 0.005
    assert abs(total - PAPER_GFLOPS[arch]) / PAPER_GFLOPS[arch] < 0.03


def test_neck_depth_rounding():
    assert GiraffeNeckV2(*NECKS['M']).n == 4  # round(4.5) == 4 (banker's rounding)
    assert GiraffeNeckV2(*NECKS['T']).n == 3


def test_activation_quirks():
    t = TinyNAS('T')
    spp = [m for m in t.modules() if isinstance(m, SPPBottleneck)]
    assert (
        len(spp) == 1
        and isinstance(spp[0].conv1.act, nn.SiLU)
        and isinstance(spp[0].conv2.act, nn.SiLU)
    )
    assert isinstance(t.stem.conv.act, nn.ReLU)
    assert all(isinstance(b.act, nn.ReLU) for b in t.modules() if isinstance(b, ResConvBlock))
    m = TinyNAS('M')
    for w in m.stages:
        for conv in (w.down, w.conv_short, w.conv_main, w.conv_out):
            assert isinstance(conv.act, nn.ReLU)  # CSP wrappers are ReLU in the SiLU model
        assert all(isinstance(b.act, nn.SiLU) for b in w.blocks)
    assert isinstance(m.stages[-1].spp.conv1.act, nn.SiLU)
    # RepConv inside ResConvBlock has no activation; no identity branch anywhere
    rc = [x for x in t.modules() if isinstance(x, RepConv)]
    assert rc and all(not hasattr(x, 'rbr_identity') for x in rc)


def test_feature_shapes_640():
    torch.set_num_threads(1)
    for arch, channels in (('T', (64, 128, 256)), ('S', (128, 256, 512))):
        ci, co, d, r, act = NECKS[arch]
        bb, neck = TinyNAS(arch).eval(), GiraffeNeckV2(ci, co, d, r, act).eval()
        with torch.no_grad():
            outs = neck(bb(torch.zeros(1, 3, 640, 640)))
        assert [tuple(o.shape[1:]) for o in outs] == [
            (channels[0], 80, 80),
            (channels[1], 40, 40),
            (channels[2], 20, 20),
        ]
        assert sum(o.shape[2] * o.shape[3] for o in outs) == 8400


@pytest.mark.parametrize('stride', [1, 2])
def test_repconv_fusion_exact(stride):
    torch.manual_seed(0)
    m = RepConv(8, 16, 3, stride, act='relu')
    _randomise_bn(m)
    m.eval()
    x = torch.randn(2, 8, 15, 15)
    with torch.no_grad():
        ref = m(x)
        m.switch_to_deploy()
        out = m(x)
    assert m.deploy and not hasattr(m, 'rbr_dense') and m.rbr_reparam.bias is not None
    assert (ref - out).abs().max() < 1e-5


@pytest.mark.parametrize('arch', ['T', 'M'])
def test_backbone_neck_deploy_equivalence(arch):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ci, co, d, r, act = NECKS[arch]
    net = nn.Sequential(TinyNAS(arch), GiraffeNeckV2(ci, co, d, r, act))
    _randomise_bn(net)
    net.eval()
    x = torch.rand(1, 3, 128, 128) * 255
    with torch.no_grad():
        ref = net(x)
        dep = switch_to_deploy(copy.deepcopy(net))
        out = dep(x)
        fused_all = switch_to_deploy(copy.deepcopy(net), fuse_bn=True)
        out2 = fused_all(x)
    for a, b, c in zip(ref, out, out2):
        scale = a.abs().max().clamp(min=1.0)
        assert ((a - b).abs().max() / scale) < 1e-4
        assert ((a - c).abs().max() / scale) < 1e-4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused_all.modules())


def test_csp_stage_concat_width():
    s = CSPStage(96, 1.0, 64, 3, 'relu')
    assert s.conv3.conv.in_channels == 32 + 3 * 32
