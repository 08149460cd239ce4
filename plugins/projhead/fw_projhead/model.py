"""``EncoderWithHead``: backbone -> h (pre-projection) -> head -> z (post-projection) [-> classifier].

``forward(x)`` always returns both ``feats`` (h) and ``z``, plus ``z_layers`` (each head layer's
output) and, when the model has a classifier (supervised CE training), ``logits`` computed from z.
"""
from __future__ import annotations

import importlib

import torch
from torch import nn

# this plugin's components, resolved without the registry so that the engine also runs where only
# torch is installed (e.g. a bare GPU machine); other plugins' types go through framework.registry
_OWN = {
    'LinearNet': 'backbone', 'SmallConvNet': 'backbone', 'ResNet18CIFAR': 'backbone',
    'MLPHead': 'head', 'FixedReweightHead': 'head', 'IdentityHead': 'head', 'LinearHead': 'head',
    'SpectralContrastiveLoss': 'loss', 'NTXentLoss': 'loss', 'SupConLoss': 'loss',
    'EncoderWithHead': 'model',
}


def build(cfg):
    """Build ``dict(type='projhead.Name', **kwargs)`` (or a bare own name); modules pass through."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    cfg = dict(cfg)
    typ = cfg.pop('type')
    name = typ.split('.', 1)[1] if typ.startswith('projhead.') else typ
    if name in _OWN:
        return getattr(importlib.import_module(f'fw_projhead.{_OWN[name]}'), name)(**cfg)
    from framework.registry import MODELS
    return MODELS.build(dict(type=typ, **cfg))


class EncoderWithHead(nn.Module):
    """An encoder with a projection head; the head is ``IdentityHead`` when ``head`` is None."""

    def __init__(self, backbone, head=None, num_classes: int | None = None):
        super().__init__()
        from .head import IdentityHead
        self.backbone = build(backbone)
        self.head = build(head) if head is not None else IdentityHead()
        self.classifier = None
        if num_classes:
            dim = getattr(self.head, 'out_dim', None) or self.backbone.out_dim
            self.classifier = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> dict:
        h = self.backbone(x)
        if isinstance(h, (list, tuple)):      # LinearNet returns every layer; h is the last one
            h = h[-1]
        z_layers = self.head.forward_layers(h) if hasattr(self.head, 'forward_layers') \
            else [self.head(h)]
        out = {'feats': h, 'z': z_layers[-1], 'z_layers': z_layers}
        if self.classifier is not None:
            out['logits'] = self.classifier(z_layers[-1].float())
        return out

    @torch.no_grad()
    def get_representation(self, x: torch.Tensor, use_ph: bool) -> torch.Tensor:
        """h (``use_ph=False``) or z (``use_ph=True``), as in the co-authors' ``SpuCoModel``."""
        out = self.forward(x)
        return out['z'] if use_ph else out['feats']
