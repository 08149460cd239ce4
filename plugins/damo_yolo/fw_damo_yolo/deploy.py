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
