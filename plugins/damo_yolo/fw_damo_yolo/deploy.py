"""Deploy helpers: RepConv re-parameterisation, optional BN fusion, torch.export of the network,
weights-only and fused checkpoints."""

import copy
import os

import torch
import torch.nn as nn

from framework import FwError, load_checkpoint, trusted_checkpoints

from .detector import build_model, count_params, load_teacher_state
from .layers import ConvBNAct, RepConv


def switch_to_deploy(model, fuse_bn=False):
    """Fuse every RepConv (and every ConvBNAct's BN when ``fuse_bn``) in place; returns the
    model."""
    for m in list(model.modules()):
        if isinstance(m, RepConv):
            m.switch_to_deploy()
        elif fuse_bn and isinstance(m, ConvBNAct):
            m.fuse()
    return model


def deploy_copy(model, fuse_bn=False):
    """Eval-mode deployed copy (the training model is untouched)."""
    return switch_to_deploy(copy.deepcopy(model).eval(), fuse_bn)


class RawNet(nn.Module):
    """backbone + neck + head forward (no NMS) returning a flat tuple of per-level outputs."""

    def __init__(self, detector):
        super().__init__()
        self.backbone = detector.backbone
        self.neck = detector.neck
        self.head = detector.bbox_head

    def forward(self, x):
        feats = self.neck(self.backbone(x))
        cls, reg = self.head(feats)
        return tuple(cls) + tuple(reg)


def export(detector, size=640):
    """torch.export of the deployed raw network; returns (ExportedProgram, max abs diff vs
    eager)."""
    net = RawNet(detector).eval()
    x = torch.rand(1, 3, size, size) * 255
    with torch.no_grad():
        ep = torch.export.export(net, (x,))
        ref = net(x)
        out = ep.module()(x)
    diff = max(float((a - b).abs().max()) for a, b in zip(ref, out))
    return ep, diff


def export_weights(checkpoint, out):
    """Weights-only copy (state dict + plain meta) of a checkpoint you point at: fw's loader
    trusts it because you named it."""
    with trusted_checkpoints(checkpoint):
        ckpt = load_checkpoint(str(checkpoint), map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    meta = {
        k: v for k, v in (ckpt.get('meta') or {}).items() if isinstance(v, (int, float, str, bool))
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.save({'state_dict': dict(state), 'meta': meta}, out)
    return out


def fuse_checkpoint(config, checkpoint, out, fuse_bn=False, trusted=False, check_size=320):
    """Load CHECKPOINT into CONFIG's model, re-parameterise, verify outputs, save a weights-only
    file."""
    model = build_model(config).eval()
    state = load_teacher_state(checkpoint, trusted)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith('teacher_model.')]
    if missing:
        raise FwError(
            f'checkpoint {checkpoint!r} misses {len(missing)} keys of {config}: '
            f'{missing[:3]}; is it a checkpoint of this config?'
        )
    deployed = deploy_copy(model, fuse_bn)
    x = torch.rand(1, 3, check_size, check_size) * 255
    with torch.no_grad():
        a, b = model._forward(x), deployed._forward(x)
    diff = max(
        float((p - q).abs().max()) for p, q in zip(list(a[0]) + list(a[1]), list(b[0]) + list(b[1]))
    )
    sd = {k: v for k, v in deployed.state_dict().items() if not k.startswith('distill_loss.')}
    torch.save(
        {
            'state_dict': sd,
            'meta': {
                'deploy': True,
                'fuse_bn': bool(fuse_bn),
                'config': str(config),
                'max_abs_diff': diff,
            },
        },
        out,
    )
    return {'out': out, 'params_m': round(count_params(deployed) / 1e6, 4), 'max_abs_diff': diff}


class DecodedNet(nn.Module):
    """backbone + neck + head with the box decoding inside: returns (boxes (B, N, 4) x1y1x2y2
    pixels, scores (B, N, C) probabilities) over all priors; NMS stays outside."""

    def __init__(self, detector):
        super().__init__()
        self.raw = RawNet(detector)
        self.head = detector.bbox_head

    def forward(self, x):
        outs = self.raw(x)
        n = len(outs) // 2
        cls, reg = self.head._flatten(outs[:n], outs[n:])
        priors = self.head._priors(outs[:n])
        return self.head.decode(priors, reg), cls.sigmoid()


def _state_and_config(checkpoint, config, trusted):
    """(state dict, config name, deployed?) of a checkpoint this plugin can read."""
    with trusted_checkpoints(checkpoint if trusted else None):
        ckpt = load_checkpoint(str(checkpoint), map_location='cpu')
    meta = ckpt.get('meta') or {}
    config = config or meta.get('config')
    if config is None:
        raise FwError(
            f'{checkpoint}: no config recorded in the checkpoint; pass --config (the fw config '
            'it was trained with, e.g. damo_yolo_t_shapes)'
        )
    state = ckpt.get('state_dict', ckpt)
    state = {k: v for k, v in state.items() if not k.startswith(('teacher_model.', 'distill_'))}
    deployed = any('rbr_reparam' in k for k in state)
    return state, str(config), deployed


def export_onnx(checkpoint, out, config=None, size=640, decode=False, trusted=False, opset=17):
    """Re-parameterise CHECKPOINT and write an ONNX file (torch.onnx, TorchScript exporter).

    Outputs: per-level class logits then per-level box-bin logits (input batch and size dynamic),
    or with ``decode`` boxes and class probabilities over all priors (fixed input size). Runs the
    file with onnxruntime when it is installed and returns the max abs difference to PyTorch."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as e:
        raise FwError(
            'ONNX export needs the onnx package: pip install onnx==1.23.2 (and '
            'onnxruntime==1.32.0 to check the file), or pip install fw-damo-yolo[onnx]'
        ) from e
    state, config, deployed = _state_and_config(checkpoint, config, trusted)
    cls_w = state.get('bbox_head.cls_convs.0.weight')
    model = build_model(config, num_classes=None if cls_w is None else int(cls_w.shape[0])).eval()
    if deployed:
        switch_to_deploy(model)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise FwError(
            f'{checkpoint} does not fit {config}: {len(missing)} missing keys {missing[:3]}, '
            f'{len(unexpected)} unexpected {unexpected[:3]}; pass the right --config'
        )
    net = (DecodedNet if decode else RawNet)(deploy_copy(model)).eval()
    n = len(model.bbox_head.strides)
    x = torch.rand(1, 3, size, size) * 255
    if decode:
        names, axes = ['boxes', 'scores'], {'images': {0: 'batch'}}
    else:
        names = [f'cls_{i}' for i in range(n)] + [f'reg_{i}' for i in range(n)]
        axes = {'images': {0: 'batch', 2: 'height', 3: 'width'}}
    os.makedirs(os.path.dirname(os.path.abspath(str(out))), exist_ok=True)
    torch.onnx.export(net, (x,), str(out), dynamo=False, opset_version=opset,
                      input_names=['images'], output_names=names, dynamic_axes=axes)  # fmt: skip
    info = {'out': str(out), 'config': config, 'outputs': names, 'input_size': size}
    try:
        import onnxruntime as ort
    except ImportError:
        info['max_abs_diff'] = None
        info['checked'] = 'not run: onnxruntime is not installed'
        return info
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    x = torch.rand(2, 3, size, size) * 255
    with torch.no_grad():
        ref = net(x)
    got = session.run(None, {'images': x.numpy()})
    diffs = [(torch.from_numpy(g) - r).abs().max() for g, r in zip(got, ref)]
    info['max_abs_diff'] = max(float(d) for d in diffs)
    # relative to each output's largest magnitude (boxes are in pixels)
    info['max_rel_diff'] = max(float(d / r.abs().max().clamp(min=1)) for d, r in zip(diffs, ref))
    info['checked'] = 'onnxruntime, batch 2'
    return info
