"""Efficient RepGFPN neck (official GiraffeNeckV2; Xu et al. 2022, Sec. 2.2): 5 CSPStage fusion
nodes, queen-fusion."""

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from .layers import ConvBNAct, CSPStage


class GiraffeNeckV2(BaseModule):
    """Efficient RepGFPN (Xu et al. 2022, Sec. 2.2): inputs (P3, P4, P5) with ``in_channels``
    (c0, c1, c2), outputs (P3, P4, P5) with ``out_channels``; ``hidden_ratio`` sets the RepBlock
    width inside each fusion node, ``act`` its activation, ``init_cfg`` mmengine's init config.

    Each merge node is a CSPStage with ``n = round(3 * depth)`` RepBlocks (Python's round, e.g.
    round(4.5) = 4, banker's rounding, as the official code)."""

    def __init__(
        self,
        in_channels=(96, 192, 384),
        out_channels=(64, 128, 256),
        depth=1.0,
        hidden_ratio=1.0,
        act='relu',
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        c0, c1, c2 = in_channels
        o0, o1, o2 = out_channels
        n = round(3 * depth)
        self.n = n
        self.in_channels, self.out_channels = tuple(in_channels), tuple(out_channels)
        self.upsample = nn.Upsample(scale_factor=2, mode='nearest')
        self.bu_conv13 = ConvBNAct(c1, c1, 3, 2, act)
        self.merge_3 = CSPStage(c1 + c2, hidden_ratio, c2, n, act)
        self.bu_conv24 = ConvBNAct(c0, c0, 3, 2, act)
        self.merge_4 = CSPStage(c0 + c1 + c2, hidden_ratio, c1, n, act)
        self.merge_5 = CSPStage(c1 + c0, hidden_ratio, o0, n, act)
        self.bu_conv57 = ConvBNAct(o0, o0, 3, 2, act)
        self.merge_7 = CSPStage(o0 + c1, hidden_ratio, o1, n, act)
        self.bu_conv46 = ConvBNAct(c1, c1, 3, 2, act)
        self.bu_conv76 = ConvBNAct(o1, o1, 3, 2, act)
        self.merge_6 = CSPStage(c1 + o1 + c2, hidden_ratio, o2, n, act)

    def forward(self, feats):
        x2, x1, x0 = feats  # P3, P4, P5
        x3 = self.merge_3(torch.cat([x0, self.bu_conv13(x1)], 1))
        x4 = self.merge_4(torch.cat([x1, self.bu_conv24(x2), self.upsample(x3)], 1))
        x5 = self.merge_5(torch.cat([x2, self.upsample(x4)], 1))
        x7 = self.merge_7(torch.cat([x4, self.bu_conv57(x5)], 1))
        x6 = self.merge_6(torch.cat([x3, self.bu_conv46(x4), self.bu_conv76(x7)], 1))
        return (x5, x7, x6)
