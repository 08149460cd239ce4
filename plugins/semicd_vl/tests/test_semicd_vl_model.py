"""Sizes, shapes and the mmseg backbone (ResNet-50 setting of the paper)."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from fw_semicd_vl.backbone import ResNetV1cLite  # noqa: E402
from fw_semicd_vl.head import LightHead  # noqa: E402
from fw_semicd_vl.model import SemiCDVL  # noqa: E402

R50_CH = [256, 512, 1024, 2048]


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def mmseg_models():
    try:
        import mmseg.models  # noqa: F401  (needs mmcv's compiled ops)
        from mmseg.models.backbones import ResNetV1c

        return ResNetV1c
    except Exception as e:  # noqa: BLE001
        pytest.skip(f'mmseg.models does not import here ({type(e).__name__}: {e})')


def test_head_sizes_match_the_paper_setting():
    assert n_params(LightHead(R50_CH, 256, 2, vl_classes=2)) == 1_248_772  # change head with DPH
    assert n_params(LightHead(R50_CH, 256, 2)) == 1_248_258  # aux head (no h_vl)


def test_shapes_small():
    torch.set_num_threads(1)
    bb = ResNetV1cLite(18, stem_channels=32, base_channels=16)
    ch = [16, 32, 64, 128]
    m = SemiCDVL(
        bb,
        dict(in_channels=ch, channels=32, vl_classes=2),
        aux_head=dict(in_channels=ch, channels=32),
    )
    x = torch.randn(2, 6, 64, 64)
    out = m.forward_all(x, aux=True, dist=True)
    for k in ('pred', 'vl', 'seg_a', 'seg_b'):
        assert out[k].shape == (2, 2, 64, 64), k
    assert out['d'].shape == (2, 64, 64)
    two = SemiCDVL(
        ResNetV1cLite(18, stem_channels=32, base_channels=16),
        dict(in_channels=ch, channels=32, vl_classes=2),
        aux_head=dict(in_channels=ch, channels=32),
        aux_shared=False,
    )
    assert n_params(two) - n_params(m) == n_params(
        m.aux_head
    )  # aux_shared=False builds a second decoder


def test_lite_backbone_equals_mmseg_resnetv1c():
    ResNetV1c = mmseg_models()
    torch.manual_seed(0)
    kw = dict(
        depth=18,
        stem_channels=32,
        base_channels=16,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
    )
    ref, lite = ResNetV1c(**kw), ResNetV1cLite(**kw)
    sd_ref, sd_lite = ref.state_dict(), lite.state_dict()
    assert [(k, v.shape) for k, v in sd_ref.items()] == [(k, v.shape) for k, v in sd_lite.items()]
    lite.load_state_dict(sd_ref)
    ref.eval(), lite.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(ref(x), lite(x)):
        torch.testing.assert_close(a, b)


def test_r50_sizes_and_shapes():
    ResNetV1c = mmseg_models()
    torch.set_num_threads(1)
    bb = ResNetV1c(
        depth=50,
        stem_channels=128,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
        style='pytorch',
    )
    assert n_params(bb) == 23_631_808
    assert len([k for k in bb.state_dict() if not k.endswith('num_batches_tracked')]) == 275
    m = SemiCDVL(
        bb,
        dict(in_channels=R50_CH, channels=256, vl_classes=2),
        aux_head=dict(in_channels=R50_CH, channels=256),
    )
    assert n_params(m) == 26_128_838
    m.eval()
    with torch.no_grad():
        out = m.forward_all(torch.randn(1, 6, 256, 256), aux=True, dist=True)
    assert out['pred'].shape == out['vl'].shape == out['seg_a'].shape == (1, 2, 256, 256)
    assert out['d'].shape == (1, 256, 256)


def test_convert_backbone_file_275_tensors(tmp_path):
    ResNetV1c = mmseg_models()
    from framework import FwError
    from fw_semicd_vl.convert import convert_file

    ref = ResNetV1c(
        depth=50,
        stem_channels=128,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
    )
    # a UniMatch-style deep-stem state dict: conv1 = Sequential(conv,bn,relu,conv,bn,relu,conv),
    # bn1, fc
    ren = {
        'stem.0': 'conv1.0',
        'stem.1': 'conv1.1',
        'stem.3': 'conv1.3',
        'stem.4': 'conv1.4',
        'stem.6': 'conv1.6',
        'stem.7': 'bn1',
    }
    src = {}
    for k, v in ref.state_dict().items():
        head = '.'.join(k.split('.')[:2])
        src[ren.get(head, head) + k[len(head) :] if head in ren else k] = torch.randn_like(
            v.float()
        ).to(v.dtype)
    src['fc.weight'] = torch.randn(1000, 2048)
    torch.save(src, tmp_path / 'resnet50.pth')
    n = convert_file(tmp_path / 'resnet50.pth', tmp_path / 'out.pth', 50)
    assert n == 275
    out = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert torch.equal(out['stem.7.weight'], src['bn1.weight'])
    assert torch.equal(out['layer4.2.conv3.weight'], src['layer4.2.conv3.weight'])
    del src['layer4.2.bn3.bias']
    torch.save(src, tmp_path / 'bad.pth')
    with pytest.raises(FwError, match='274'):
        convert_file(tmp_path / 'bad.pth', tmp_path / 'out2.pth', 50)


def test_head_init_matches_the_official_mmseg_head():
    """Issue 14 item 4: the official LightHead is an mmseg BaseDecodeHead made of mmcv
    ConvModules (Kaiming-normal fan_out convs) whose init config draws ``conv_seg`` from N(0, 0.01).
    A reference head of that shape is built here from mmseg/mmcv and initialised by mmengine;
    the weight std of every layer of ours must agree with it (PyTorch's default conv init is
    2.4-6.9x smaller on the laterals)."""
    mmseg_models()
    from mmcv.cnn import ConvModule
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead

    class RefHead(BaseDecodeHead):  # the official head's layers, mmseg's own init
        def __init__(self):
            super().__init__(
                R50_CH,
                256,
                num_classes=2,
                dropout_ratio=0.0,
                norm_cfg=dict(type='BN'),
                in_index=[0, 1, 2, 3],
                input_transform='multiple_select',
            )
            self.convs = torch.nn.ModuleList(
                ConvModule(c, 256, 1, norm_cfg=dict(type='BN')) for c in R50_CH
            )
            self.fusion_conv = ConvModule(1024, 256, 1, norm_cfg=dict(type='BN'))
            self.conv_seg_for_vl = torch.nn.Conv2d(256, 2, 1)

        def forward(self, inputs):
            raise NotImplementedError

    from mmengine.registry import DefaultScope
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):  # mmseg builds its loss by name
        ref = RefHead()
    ref.init_weights()
    ours = LightHead(R50_CH, 256, 2, vl_classes=2)
    pairs = [(a.conv.weight, b.conv.weight) for a, b in zip(ours.lateral, ref.convs)]
    pairs += [
        (ours.fuse.conv.weight, ref.fusion_conv.conv.weight),
        (ours.conv_seg.weight, ref.conv_seg.weight),
        (ours.conv_seg_vl.weight, ref.conv_seg_for_vl.weight),
    ]
    for w_ours, w_ref in pairs:
        ratio = w_ours.std().item() / w_ref.std().item()
        assert 0.85 < ratio < 1.15, (tuple(w_ours.shape), ratio)
    assert abs(ours.lateral[3].conv.weight.std().item() - (2 / 256) ** 0.5) < 0.002
    assert abs(ours.conv_seg.weight.std().item() - 0.01) < 0.001
    assert torch.all(ours.conv_seg.bias == 0) and torch.all(ours.fuse.bn.weight == 1)
