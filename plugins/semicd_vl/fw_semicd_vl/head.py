"""``LightHead``, the change head of SemiCD-VL with its dual projection head (DPH).

Per level a 1×1 conv-BN-ReLU, upsampled to the 1/4 map, concatenated, fused by a 1×1 conv-BN-ReLU
into q; the DPH puts two 1×1 classifiers on q: ``conv_seg`` = h_cr (ground truth, FixMatch
pseudo-labels, inference) and ``conv_seg_vl`` = h_vl (VLM change labels only). The head returns q
as well (the aux head's q gives the feature distance).

Initialisation as the official head (an mmseg ``BaseDecodeHead`` built from mmcv ``ConvModule``s):
every conv of a conv-BN-ReLU block Kaiming-normal with fan_out and the ReLU gain (std
√(2/(C_out·k²)) = 0.088 at 256 channels), BN weight 1 / bias 0; ``conv_seg`` (h_cr) normal with
std 0.01 and bias 0; ``conv_seg_vl`` (h_vl) keeps PyTorch's default, which the official init
config (an override naming ``conv_seg`` only) leaves untouched.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


def build_norm(norm_cfg, c):
    t = (norm_cfg or dict(type='BN')).get('type', 'BN')
    if t in ('BN', 'BN2d'):
        return nn.BatchNorm2d(c)
    if t == 'SyncBN':
        return nn.SyncBatchNorm(c)
    raise ValueError(f"norm_cfg type must be 'BN' or 'SyncBN', got {t!r}")


class ConvBNReLU(nn.Module):
    """mmcv ``ConvModule(k×k, norm, ReLU)`` equivalent (conv without bias, then BN, then ReLU)."""

    def __init__(self, cin, cout, k=1, norm_cfg=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)
        self.bn = build_norm(norm_cfg, cout)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


class LightHead(BaseModule):
    """Change (or auxiliary building) head; ``forward(feats)`` -> dict(feat, cr, vl).

    Args:
        in_channels: channels of the four backbone levels.
        channels: width of the lateral convs and of q (256 in the paper's setting).
        num_classes: classes of h_cr (2: unchanged / changed, or not building / building).
        vl_classes: classes of h_vl; None builds no h_vl (the aux head).
        dropout_ratio: Dropout2d before the classifiers (0: none).
        norm_cfg: ``dict(type='BN')`` or ``dict(type='SyncBN')``.
        align_corners: of the bilinear upsampling to the 1/4 map.
        init_cfg: mmengine ``BaseModule`` initialisation config.
    """

    def __init__(
        self,
        in_channels=(256, 512, 1024, 2048),
        channels=256,
        num_classes=2,
        vl_classes=None,
        dropout_ratio=0.0,
        norm_cfg=None,
        align_corners=False,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.in_channels, self.channels = tuple(in_channels), channels
        self.align_corners = align_corners
        self.lateral = nn.ModuleList(ConvBNReLU(c, channels, 1, norm_cfg) for c in self.in_channels)
        self.fuse = ConvBNReLU(channels * len(self.in_channels), channels, 1, norm_cfg)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)  # h_cr
        self.conv_seg_vl = nn.Conv2d(channels, vl_classes, 1) if vl_classes else None  # h_vl
        self.reset_official_init()

    def reset_official_init(self):
        """The official head's initial weights (module docstring); run at construction."""
        for block in [*self.lateral, self.fuse]:
            nn.init.kaiming_normal_(block.conv.weight, mode='fan_out', nonlinearity='relu')
            nn.init.ones_(block.bn.weight)
            nn.init.zeros_(block.bn.bias)
        nn.init.normal_(self.conv_seg.weight, 0.0, 0.01)
        nn.init.zeros_(self.conv_seg.bias)

    def forward(self, feats):
        """feats: 4 maps (1/4 .. 1/16) -> dict(feat=q at 1/4, cr=h_cr(q), vl=h_vl(q) or None)."""
        size = feats[0].shape[2:]
        outs = [
            F.interpolate(lat(f), size=size, mode='bilinear', align_corners=self.align_corners)
            if f.shape[2:] != size
            else lat(f)
            for lat, f in zip(self.lateral, feats)
        ]
        q = self.fuse(torch.cat(outs, 1))
        qd = self.dropout(q)
        return dict(
            feat=q,
            cr=self.conv_seg(qd),
            vl=self.conv_seg_vl(qd) if self.conv_seg_vl is not None else None,
        )
