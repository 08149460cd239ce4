"""Deploy: fuse command (re-parameterised checkpoint), torch.export, complexity command."""

import json

import pytest
import torch

pytest.importorskip('mmdet')

from click.testing import CliRunner  # noqa: E402

from fw_damo_yolo.commands import complexity_cmd, fuse_cmd  # noqa: E402
from fw_damo_yolo.deploy import deploy_copy, export  # noqa: E402
from fw_damo_yolo.detector import build_model  # noqa: E402
from fw_damo_yolo.layers import RepConv  # noqa: E402


def _trained_like(model):
    """Non-trivial BN statistics, as after training."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.5)
    return model


def test_fuse_command_roundtrip(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = _trained_like(build_model('damo_yolo_t_shapes')).eval()
    ckpt = tmp_path / 'ema.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 16}}, ckpt)
    out = tmp_path / 'deploy.pth'
    res = CliRunner().invoke(fuse_cmd, ['damo_yolo_t_shapes', str(ckpt), str(out)])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    assert info['max_abs_diff'] < 1e-3
    state = torch.load(out, weights_only=True)  # weights-only file
    assert state['meta']['deploy'] is True
    deployed = build_model('damo_yolo_t_shapes').eval()
    for m in deployed.modules():
        if isinstance(m, RepConv):
            m.switch_to_deploy()
    deployed.load_state_dict(state['state_dict'])
    x = torch.rand(1, 3, 96, 96) * 255
    with torch.no_grad():
        a, b = model._forward(x), deployed._forward(x)
    for p, q in zip(a[0] + a[1], b[0] + b[1]):
        assert (p - q).abs().max() / p.abs().max().clamp(min=1) < 1e-4
    assert not any(k.endswith('rbr_dense.conv.weight') for k in state['state_dict'])


def test_torch_export_matches_eager():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = deploy_copy(_trained_like(build_model('damo_yolo_t_shapes')))
    ep, diff = export(model, size=64)
    assert diff < 1e-5
    assert ep is not None


def test_complexity_command_json():
    res = CliRunner().invoke(complexity_cmd, ['--json', '--size', '320', '--models', 'T'])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output.strip().splitlines()[-1])
    assert [r['model'] for r in rows] == [
        'DAMO-YOLO-T'
    ]  # S and M: test_damo_yolo_arch (FLOPs at 640)
    for r, (p, g) in zip(rows, ((8.5, 18.1),)):
        assert set(r) >= {'model', 'params_m', 'gflops'}
        assert abs(r['params_m'] - p) / p < 0.01
        assert abs(r['gflops'] * 4 - g) / g < 0.05  # 320 px = a quarter of the 640 px FLOPs
