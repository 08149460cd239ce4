"""Deploy helpers: RepConv re-parameterisation, optional BN fusion, torch.export of the network."""
import copy

import torch
import torch.nn as nn

from .models.layers import ConvBNAct, RepConv


def switch_to_deploy(model, fuse_bn=False):
    """Fuse every RepConv (and every ConvBNAct's BN when ``fuse_bn``) in place; returns the model."""
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
    """torch.export of the deployed raw network; returns (ExportedProgram, max abs diff vs eager)."""
    net = RawNet(detector).eval()
    x = torch.rand(1, 3, size, size) * 255
    with torch.no_grad():
        ep = torch.export.export(net, (x,))
        ref = net(x)
        out = ep.module()(x)
    diff = max(float((a - b).abs().max()) for a, b in zip(ref, out))
    return ep, diff
