"""convert-official: state dicts named as the official DAMO-YOLO code names them (generated here
from the official constructors' naming rules and the official TinyNAS structure files, not from
fw's modules) map onto fw's detector, load strictly and keep their outputs."""

import json

import pytest
import torch

pytest.importorskip('mmdet')

from click.testing import CliRunner  # noqa: E402

# ---- the official naming rules -------------------------------------------------------------------
# TinyNAS structure files of the official repository (nas_backbones/tinynas_L{20,25,35,45}_*.txt):
# (in, out, btn, stride, L) per stage after the stem, stem width, block type, variant
OFFICIAL = {
    'T': dict(
        stem=24,
        variant='res',
        stages=[
            (24, 64, 24, 2, 2),
            (64, 96, 64, 2, 2),
            (96, 192, 96, 2, 2),
            (192, 192, 152, 1, 2),
            (192, 384, 192, 2, 1),
        ],
        neck=dict(depth=1.0, ratio=1.0, cin=(96, 192, 384), cout=(64, 128, 256)),
    ),
    'S': dict(
        stem=32,
        variant='res',
        stages=[
            (32, 128, 24, 2, 1),
            (128, 128, 88, 2, 5),
            (128, 256, 128, 2, 3),
            (256, 256, 120, 1, 2),
            (256, 512, 144, 2, 1),
        ],
        neck=dict(depth=1.0, ratio=0.75, cin=(128, 256, 512), cout=(128, 256, 512)),
    ),
    'M': dict(
        stem=32,
        variant='csp',
        stages=[
            (32, 128, 64, 2, 2),
            (128, 128, 64, 2, 4),
            (128, 256, 256, 2, 4),
            (256, 256, 256, 1, 4),
            (256, 512, 256, 2, 3),
        ],
        neck=dict(depth=1.5, ratio=1.0, cin=(128, 256, 512), cout=(128, 256, 512)),
    ),
    'L': dict(
        stem=32,
        variant='csp',
        stages=[
            (32, 128, 96, 2, 3),
            (128, 128, 96, 2, 5),
            (128, 256, 384, 2, 5),
            (256, 256, 384, 1, 5),
            (256, 512, 384, 2, 4),
        ],
        neck=dict(depth=2.0, ratio=1.0, cin=(128, 256, 512), cout=(128, 256, 512)),
    ),
}


def _bn(p, c):
    return {
        f'{p}.weight': (c,),
        f'{p}.bias': (c,),
        f'{p}.running_mean': (c,),
        f'{p}.running_var': (c,),
        f'{p}.num_batches_tracked': (),
    }


def conv_kx_bn(p, cin, cout, k):  # tinynas ConvKXBN: conv1 / bn1
    return {f'{p}.conv1.weight': (cout, cin, k, k), **_bn(f'{p}.bn1', cout)}


def conv_bn_act(p, cin, cout, k):  # core.ops ConvBNAct: conv / bn
    return {f'{p}.conv.weight': (cout, cin, k, k), **_bn(f'{p}.bn', cout)}


def rep_conv(p, cin, cout):
    return {
        f'{p}.rbr_dense.conv.weight': (cout, cin, 3, 3),
        **_bn(f'{p}.rbr_dense.bn', cout),
        f'{p}.rbr_1x1.conv.weight': (cout, cin, 1, 1),
        **_bn(f'{p}.rbr_1x1.bn', cout),
    }


def res_block(p, cin, cout, btn, stride, kxkx):
    out = {
        **conv_kx_bn(f'{p}.conv1', cin, btn, 3 if kxkx else 1),
        **rep_conv(f'{p}.conv2', btn, cout),
    }
    if cin != cout and stride != 2:
        out.update(conv_kx_bn(f'{p}.residual_proj', cin, cout, 1))
    return out


def spp(p, c):
    return {
        **conv_bn_act(f'{p}.conv1', c, c // 2, 1),
        **conv_bn_act(f'{p}.conv2', c // 2 * 4, c, 1),
    }


def official_backbone(arch):
    a = OFFICIAL[arch]
    n_stages = len(a['stages'])
    if a['variant'] == 'res':  # TinyNAS_res: block_list.0 Focus, block_list.i SuperResStem
        keys = conv_bn_act('backbone.block_list.0.conv', 3 * 4, a['stem'], 3)
        for i, (cin, cout, btn, s, n) in enumerate(a['stages'], start=1):
            j = 0
            for b in range(n):
                p = f'backbone.block_list.{i}.block_list.{j}'
                keys.update(res_block(p, cin if b == 0 else cout, cout, btn, s if b == 0 else 1, 0))
                j += 1
                if b == 0 and i == n_stages:  # with_spp on the last stage
                    keys.update(spp(f'backbone.block_list.{i}.block_list.{j}', cout))
                    j += 1
        return keys
    # TinyNAS_csp: csp_stage.0 Focus; CSPStem per stage, wrappers over stages 1, 2, 3+4, 5
    keys = conv_bn_act('backbone.csp_stage.0.conv', 3 * 4, a['stem'], 3)
    stems = []
    for cin, cout, btn, s, n in a['stages']:
        half = cout // 2
        nb = n - 1 if s == 2 else n
        stems.append([(cin // 2 if (s == 1 and b == 0) else half, half, btn) for b in range(nb)])
    for k, group in enumerate([[0], [1], [2, 3], [4]], start=1):
        cin = a['stages'][group[0]][0]
        hidden = a['stages'][group[0]][1] // 2
        cout = a['stages'][group[-1]][1]
        p = f'backbone.csp_stage.{k}'
        keys.update(conv_kx_bn(f'{p}.downsampler.conv', cin, hidden * 2, 3))
        if k == 4:
            keys.update(spp(f'{p}.spp', hidden * 2))
        blocks = [blk for g in group for blk in stems[g]]
        for j, (bi, bo, btn) in enumerate(blocks):
            keys.update(res_block(f'{p}.convstem.{j}', bi, bo, btn, 1, 1))
        keys.update(conv_kx_bn(f'{p}.conv_start.conv', hidden * 2, hidden, 1))
        keys.update(conv_kx_bn(f'{p}.conv_shortcut.conv', hidden * 2, cout // 2, 1))
        keys.update(conv_kx_bn(f'{p}.conv_fuse.conv', cout, cout, 1))
    return keys


def csp_stage(p, cin, ratio, cout, n):
    first, mid = cout // 2, cout - cout // 2
    keys = {**conv_bn_act(f'{p}.conv1', cin, first, 1), **conv_bn_act(f'{p}.conv2', cin, mid, 1)}
    hidden = int(mid * ratio)
    for i in range(n):
        keys.update(conv_bn_act(f'{p}.convs.{i}.conv1', hidden, mid, 3))
        keys.update(rep_conv(f'{p}.convs.{i}.conv2', mid, hidden))
    keys.update(conv_bn_act(f'{p}.conv3', mid * n + first, cout, 1))
    return keys


def official_neck(arch):
    nk = OFFICIAL[arch]['neck']
    (i0, i1, i2), (o0, o1, o2), r = nk['cin'], nk['cout'], nk['ratio']
    n = round(3 * nk['depth'])
    return {
        **conv_bn_act('neck.bu_conv13', i1, i1, 3),
        **csp_stage('neck.merge_3', i1 + i2, r, i2, n),
        **conv_bn_act('neck.bu_conv24', i0, i0, 3),
        **csp_stage('neck.merge_4', i0 + i1 + i2, r, i1, n),
        **csp_stage('neck.merge_5', i1 + i0, r, o0, n),
        **conv_bn_act('neck.bu_conv57', o0, o0, 3),
        **csp_stage('neck.merge_7', o0 + i1, r, o1, n),
        **conv_bn_act('neck.bu_conv46', i1, i1, 3),
        **conv_bn_act('neck.bu_conv76', o1, o1, 3),
        **csp_stage('neck.merge_6', i1 + o1 + i2, r, o2, n),
    }


def official_head(arch, num_classes):
    keys = {'head.integral.project': (17,)}
    for i, c in enumerate(OFFICIAL[arch]['neck']['cout']):
        keys.update(
            {
                f'head.gfl_cls.{i}.weight': (num_classes, c, 3, 3),
                f'head.gfl_cls.{i}.bias': (num_classes,),
                f'head.gfl_reg.{i}.weight': (68, c, 3, 3),
                f'head.gfl_reg.{i}.bias': (68,),
                f'head.scales.{i}.scale': (),
            }
        )
    return keys


def official_state(arch, num_classes=80, seed=0):
    """A training-form official state dict with random, trained-like values."""
    g = torch.Generator().manual_seed(seed)
    shapes = {**official_backbone(arch), **official_neck(arch), **official_head(arch, num_classes)}
    state = {}
    for k, shape in shapes.items():
        if k.endswith('num_batches_tracked'):
            state[k] = torch.tensor(1000)
        elif k.endswith('running_var'):
            state[k] = torch.rand(shape, generator=g) * 0.5 + 0.5
        elif k.endswith('integral.project'):
            state[k] = torch.linspace(0, 16, 17)
        elif k.endswith('.scale'):
            state[k] = torch.tensor(1.0) + 0.1 * torch.randn((), generator=g)
        elif k.endswith('bn.weight') or k.endswith('bn1.weight'):
            state[k] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[k] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
        else:
            state[k] = 0.1 * torch.randn(shape, generator=g)
    return state


def official_deploy(state, eps=1e-3):
    """The official switch_to_deploy applied to a state dict: each RepConv's two conv-BN branches
    folded into one 3x3 conv with bias (the 1x1 kernel zero-padded to 3x3)."""
    out = {k: v for k, v in state.items() if '.rbr_' not in k}
    for p in {k.split('.rbr_dense.')[0] for k in state if '.rbr_dense.conv.weight' in k}:
        ws, bs = [], []
        for br in ('rbr_dense', 'rbr_1x1'):
            std = (state[f'{p}.{br}.bn.running_var'] + eps).sqrt()
            t = state[f'{p}.{br}.bn.weight'] / std
            w = state[f'{p}.{br}.conv.weight'] * t[:, None, None, None]
            ws.append(torch.nn.functional.pad(w, [1, 1, 1, 1]) if w.shape[-1] == 1 else w)
            bs.append(state[f'{p}.{br}.bn.bias'] - state[f'{p}.{br}.bn.running_mean'] * t)
        out[f'{p}.rbr_reparam.weight'] = ws[0] + ws[1]
        out[f'{p}.rbr_reparam.bias'] = bs[0] + bs[1]
    return out


def _outputs(model, x):
    with torch.no_grad():
        cls, reg = model._forward(x)
    return list(cls) + list(reg)


def _max_rel(a, b):
    return max(float((p - q).abs().max() / p.abs().max().clamp(min=1)) for p, q in zip(a, b))


@pytest.mark.parametrize('arch', ['T', 'S', 'M', 'L'])
def test_official_keys_map_strictly(arch):
    """Every official key has one fw key of the same shape; the set is complete (strict)."""
    from fw_damo_yolo.convert import PRESETS, detect_arch, map_official
    from fw_damo_yolo.detector import build_model

    torch.set_num_threads(1)
    state = official_state(arch)
    fw_state, info = map_official(state)
    assert info['source_form'] == 'train' and info['unfused_repconv'] == 0
    assert detect_arch(fw_state) == (arch, 80)
    model = build_model(PRESETS[arch][0], num_classes=80)
    model.load_state_dict(fw_state, strict=True)
    assert len(fw_state) == len(state) - 1  # only head.integral.project (constant) is dropped
    # tensors are moved, not altered
    assert torch.equal(
        model.state_dict()['bbox_head.cls_convs.2.weight'], state['head.gfl_cls.2.weight']
    )


def test_convert_command_roundtrip_and_deploy_form(tmp_path):
    """T: the command's output loads strictly; outputs equal a model loaded from the mapped dict;
    the official deploy form converts to the same function (unfused RepConvs)."""
    from fw_damo_yolo.commands import convert_official_cmd
    from fw_damo_yolo.convert import map_official
    from fw_damo_yolo.detector import build_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    state = official_state('T', num_classes=80)
    src = tmp_path / 'damoyolo_tinynasL20_T.pth'
    torch.save({'epoch': 300, 'model': state, 'optimizer': {}}, src)
    out = tmp_path / 'fw_t.pth'
    res = CliRunner().invoke(convert_official_cmd, [str(src), str(out)])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    assert info['arch'] == 'T' and abs(info['params_m'] - 8.876) < 0.01
    saved = torch.load(out, weights_only=True)
    model = build_model('_base_/damo_yolo_t', num_classes=80).eval()
    model.load_state_dict(saved['state_dict'], strict=True)
    ref = build_model('_base_/damo_yolo_t', num_classes=80).eval()
    ref.load_state_dict(map_official(state)[0], strict=True)
    x = torch.rand(1, 3, 64, 64) * 255
    a = _outputs(model, x)
    assert _max_rel(a, _outputs(ref, x)) == 0.0
    # deploy form (official switch_to_deploy), saved from a DDP model ('module.' prefix)
    dep = {f'module.{k}': v for k, v in official_deploy(state).items()}
    src_d = tmp_path / 'deploy.pth'
    torch.save({'model': dep}, src_d)
    out_d = tmp_path / 'fw_t_from_deploy.pth'
    res = CliRunner().invoke(convert_official_cmd, [str(src_d), str(out_d)])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    assert info['source_form'] == 'deploy' and info['unfused_repconv'] > 0
    model_d = build_model('_base_/damo_yolo_t', num_classes=80).eval()
    model_d.load_state_dict(torch.load(out_d, weights_only=True)['state_dict'], strict=True)
    # measured: max relative difference 2.6e-6 (float32 rounding of the fused kernels; random
    # weights give outputs up to ~1e4 here)
    assert _max_rel(a, _outputs(model_d, x)) < 1e-5


def test_convert_rejects_foreign_checkpoint(tmp_path):
    from framework import FwError
    from fw_damo_yolo.convert import convert_official

    state = official_state('T')
    del state['neck.merge_3.conv3.conv.weight']
    src = tmp_path / 'broken.pth'
    torch.save({'model': state}, src)
    with pytest.raises(FwError, match='missing keys'):
        convert_official(str(src), str(tmp_path / 'o.pth'))
    torch.save({'something': 1}, src)
    with pytest.raises(FwError, match="'model' state dict"):
        convert_official(str(src), str(tmp_path / 'o.pth'))


def test_converted_checkpoint_runs_fw_test(tmp_path):
    """A converted official T checkpoint (3 classes) is evaluated by `fw test` on a tiny shapes
    COCO set, end to end (strict loading by fw's checkpoint loader, CocoMetric)."""
    from framework.cli import cli
    from fw_damo_yolo.convert import convert_official
    from fw_damo_yolo.data import make_shapes_coco

    torch.set_num_threads(1)
    data = tmp_path / 'shapes'
    make_shapes_coco(str(data), n_train=2, n_val=4, size=64, seed=0)
    src = tmp_path / 'official_t.pth'
    torch.save({'model': official_state('T', num_classes=3)}, src)
    out = tmp_path / 'fw_t.pth'
    convert_official(str(src), str(out))
    root = f'{data}/'
    overrides = [
        'model.backbone.widen_factor=1.0',
        'model.neck.in_channels=[96,192,384]',
        'model.neck.out_channels=[64,128,256]',
        'model.bbox_head.in_channels=[64,128,256]',
        f'test_dataloader.dataset.data_root={root}',
        f'test_evaluator.ann_file={root}annotations/instances_val.json',
    ]
    res = CliRunner().invoke(
        cli,
        [
            'test',
            'damo_yolo',
            'damo_yolo_t_shapes',
            str(out),
            *overrides,
            '--json',
            '--work-dir',
            str(tmp_path / 'work'),
        ],
    )
    assert res.exit_code == 0, res.output
    line = [ln for ln in res.output.splitlines() if ln.startswith('{"coco/')][-1]
    metrics = json.loads(line)
    assert 'coco/bbox_mAP_50' in metrics and -1 <= metrics['coco/bbox_mAP_50'] <= 1
