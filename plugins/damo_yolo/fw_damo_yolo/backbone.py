"""MAE-NAS (TinyNAS) backbones of DAMO-YOLO, ResNet-like (`res`) and CSP-like (`csp`) (Xu et al.
2022, Sec. 2.1)."""

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from .layers import ConvBNAct, Focus, ResConvBlock, SPPBottleneck

# (cout, btn, L, stride) per stage 1..5; stem width separately.
ARCHS = {
    'T': dict(
        variant='res',
        stem=24,
        block_type='k1kx',
        act='relu',
        stages=[
            (64, 24, 2, 2),
            (96, 64, 2, 2),
            (192, 96, 2, 2),
            (192, 152, 2, 1),
            (384, 192, 1, 2),
        ],
    ),
    'S': dict(
        variant='res',
        stem=32,
        block_type='k1kx',
        act='relu',
        stages=[
            (128, 24, 1, 2),
            (128, 88, 5, 2),
            (256, 128, 3, 2),
            (256, 120, 2, 1),
            (512, 144, 1, 2),
        ],
    ),
    'M': dict(
        variant='csp',
        stem=32,
        block_type='kxkx',
        act='silu',
        stages=[
            (128, 64, 2, 2),
            (128, 64, 4, 2),
            (256, 256, 4, 2),
            (256, 256, 4, 1),
            (512, 256, 3, 2),
        ],
    ),
    'L': dict(
        variant='csp',
        stem=32,
        block_type='kxkx',
        act='silu',
        stages=[
            (128, 96, 3, 2),
            (128, 96, 5, 2),
            (256, 384, 5, 2),
            (256, 384, 5, 1),
            (512, 384, 4, 2),
        ],
    ),
}


class CSPWrapper(nn.Module):
    """csp stage: d (3x3 s2) -> [SPP] -> split s/m (1x1 to c/2) -> blocks on m -> 1x1 over cat(m,
    s)."""

    def __init__(
        self,
        cin,
        cout,
        btn,
        n_inner,
        stride,
        block_type,
        act,
        reparam,
        with_spp,
        wrapper_act='relu',
        spp_act='silu',
    ):
        super().__init__()
        half = cout // 2
        self.down = ConvBNAct(cin, cout, 3, stride, wrapper_act)
        self.spp = SPPBottleneck(cout, cout, act=spp_act) if with_spp else None
        self.conv_short = ConvBNAct(cout, half, 1, 1, wrapper_act)
        self.conv_main = ConvBNAct(cout, half, 1, 1, wrapper_act)
        self.blocks = nn.Sequential(
            *[ResConvBlock(half, half, btn, 1, block_type, reparam, act) for _ in range(n_inner)]
        )
        self.conv_out = ConvBNAct(2 * half, cout, 1, 1, wrapper_act)

    def forward(self, x):
        x = self.down(x)
        if self.spp is not None:
            x = self.spp(x)
        s = self.conv_short(x)
        m = self.blocks(self.conv_main(x))
        return self.conv_out(torch.cat((m, s), dim=1))


class TinyNAS(BaseModule):
    """MAE-NAS (TinyNAS) backbone (Xu et al. 2022, Sec. 2.1); outputs strides 8/16/32 (P3-P5).

    Args:
        arch: a preset name (``'T'``, ``'S'``, ``'M'``, ``'L'``) or a dict like ``ARCHS['T']``.
        variant: ``'res'`` (T, S) or ``'csp'`` (M, L); default the preset's.
        act: activation of the blocks (``'relu'``, ``'silu'``); default the preset's.
        reparam: RepConv (3x3 + 1x1, re-parameterisable) inside the residual blocks.
        with_spp: an SPP block at the end of the last stage.
        spp_act: activation inside the SPP block (the official code: SiLU for every model).
        csp_wrapper_act: activation of the csp variant's wrapper convs.
        out_indices: stages whose outputs are returned (default the last three).
        widen_factor: scales every width (multiples of 8), for small CPU configs.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        arch='T',
        variant=None,
        act=None,
        reparam=True,
        with_spp=True,
        spp_act='silu',
        csp_wrapper_act='relu',
        out_indices=None,
        widen_factor=1.0,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        spec = dict(ARCHS[arch]) if isinstance(arch, str) else dict(arch)
        self.variant = variant or spec['variant']
        act = act or spec['act']
        w = lambda c: max(8, int(round(c * widen_factor / 8)) * 8)  # noqa: E731  (width scaling)
        stem = w(spec['stem'])
        stages = [(w(c), w(b), n, s) for c, b, n, s in spec['stages']]
        self.stem = Focus(3, stem, 3, act)
        self.stages = nn.ModuleList()
        cin = stem
        if self.variant == 'res':
            for i, (cout, btn, n, s) in enumerate(stages):
                blocks = []
                for j in range(n):
                    blocks.append(
                        ResConvBlock(
                            cin if j == 0 else cout,
                            cout,
                            btn,
                            s if j == 0 else 1,
                            spec['block_type'],
                            reparam,
                            act,
                        )
                    )
                    if j == 0 and with_spp and i == len(stages) - 1:
                        blocks.append(SPPBottleneck(cout, cout, act=spp_act))
                self.stages.append(nn.Sequential(*blocks))
                cin = cout
            # module index in the official flat list: 0 stem, 1..5 stages
            self.out_indices = tuple(out_indices or (2, 4, 5))
        elif self.variant == 'csp':
            groups = [[0], [1], [2, 3], [4]]  # stages 3 and 4 share one wrapper
            for g in groups:
                cout, btn, _, stride = stages[g[0]]
                n_inner = sum(stages[k][2] - (1 if stages[k][3] == 2 else 0) for k in g)
                cout = stages[g[-1]][0]
                last = g[-1] == len(stages) - 1
                self.stages.append(
                    CSPWrapper(
                        cin,
                        cout,
                        btn,
                        n_inner,
                        stride,
                        spec['block_type'],
                        act,
                        reparam,
                        with_spp and last,
                        csp_wrapper_act,
                        spp_act,
                    )
                )
                cin = cout
            self.out_indices = tuple(out_indices or (2, 3, 4))
        else:
            raise ValueError(f"TinyNAS variant must be 'res' or 'csp', got {self.variant!r}")
        outs = (
            [stem] + [s[0] for s in stages]
            if self.variant == 'res'
            else [stem, stages[0][0], stages[1][0], stages[3][0], stages[4][0]]
        )
        self.out_channels = tuple(outs[i] for i in self.out_indices)

    def forward(self, x):
        outs = []
        x = self.stem(x)
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
