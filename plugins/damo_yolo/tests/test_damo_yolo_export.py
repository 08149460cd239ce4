"""ONNX export of the re-parameterised detector, run with onnxruntime against PyTorch."""

import json

import pytest
import torch

pytest.importorskip('mmdet')
pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from click.testing import CliRunner  # noqa: E402

from fw_damo_yolo.commands import export_cmd  # noqa: E402
from fw_damo_yolo.detector import build_model  # noqa: E402


def _checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model('damo_yolo_t_shapes').eval()
    g = torch.Generator().manual_seed(0)
    for m in model.modules():  # trained-like BN statistics, so that re-parameterising matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.5)
    path = tmp_path / 'shapes.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'config': 'damo_yolo_t_shapes'}}, path)
    return model, path


@pytest.mark.parametrize('decode', [False, True])
def test_onnx_export_matches_pytorch(tmp_path, decode):
    torch.set_num_threads(1)
    model, path = _checkpoint(tmp_path)
    out = tmp_path / 'model.onnx'
    args = [str(path), str(out), '--size', '64'] + (['--decode'] if decode else [])
    res = CliRunner().invoke(export_cmd, args)
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    # measured: 7.6e-6 (raw logits, |x| <= 4.7) and 3e-5 (decoded boxes in pixels)
    assert info['max_abs_diff'] is not None and info['max_abs_diff'] < 1e-3
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    x = torch.rand(1, 3, 64, 64) * 255
    got = session.run(None, {'images': x.numpy()})
    with torch.no_grad():  # against the training-form model (no re-parameterisation)
        cls, reg = model._forward(x)
    if decode:
        head = model.bbox_head
        c, r = head._flatten(cls, reg)
        ref = [head.decode(head._priors(cls), r), c.sigmoid()]
    else:
        ref = list(cls) + list(reg)
    assert [tuple(g.shape) for g in got] == [tuple(t.shape) for t in ref]
    for g, t in zip(got, ref):
        assert (torch.from_numpy(g) - t).abs().max() / t.abs().max().clamp(min=1) < 1e-4
