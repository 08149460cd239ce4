"""``ResNetV1cLite``: a pure-torch twin of mmseg's ``ResNetV1c`` for BasicBlock depths (18/34).

Same module names, parameter shapes, forward and default initialisation as
``mmseg.ResNetV1c(depth, stem_channels, strides, dilations, contract_dilation=True,
style='pytorch')``,
so state dicts load both ways (tested against mmseg when mmcv's compiled ops import). It exists so
the
CPU toy configs and the comparison run where the full mmcv build is not (yet) installed; the
real-scale
configs use ``mmseg.ResNetV1c``.
"""

from __future__ import annotations

import torch.nn as nn

ARCH = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, dilation=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(
            inplanes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False
        )
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetV1cLite(nn.Module):
    """mmseg ``ResNetV1c`` (deep stem of three 3×3 convs) for BasicBlock depths, in plain torch.

    Args:
        depth: 18 or 34.
        stem_channels: output channels of the deep stem (its first two convs have half).
        base_channels: channels of the first stage; stage i has ``base_channels * 2**i``.
        strides: stride of the first block of each stage.
        dilations: dilation of each stage.
        contract_dilation: the first block of a dilated stage uses half the dilation (mmseg).
        out_indices: stages whose outputs are returned.
        zero_init_residual: zero-initialise each block's last BN weight (mmseg's default).
        **unused: other mmseg ``ResNetV1c`` arguments (``norm_cfg``, ``style``, ...), ignored:
            the twin always uses plain BN and the pytorch style.
    """

    def __init__(
        self,
        depth=18,
        stem_channels=64,
        base_channels=64,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
        out_indices=(0, 1, 2, 3),
        zero_init_residual=True,
        **unused,
    ):
        super().__init__()
        if depth not in ARCH:
            raise ValueError(
                f'ResNetV1cLite supports depth 18/34 (BasicBlock); use mmseg.ResNetV1c for {depth}'
            )
        c = stem_channels // 2

        def cbr(i, o, s):
            return [nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

        self.stem = nn.Sequential(*cbr(3, c, 2), *cbr(c, c, 1), *cbr(c, stem_channels, 1))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.out_indices = out_indices
        inplanes = stem_channels
        self.res_layers = []
        for i, n in enumerate(ARCH[depth]):
            planes, stride, dil = base_channels * 2**i, strides[i], dilations[i]
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(
                    nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
                )
            first = dil // 2 if (contract_dilation and dil > 1) else dil
            blocks = [BasicBlock(inplanes, planes, stride, first, down)]
            blocks += [BasicBlock(planes, planes, 1, dil) for _ in range(1, n)]
            inplanes = planes
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.res_layers.append(f'layer{i + 1}')
        self._init(zero_init_residual)

    def _init(self, zero_init_residual):
        for m in self.modules():  # mmseg's default: Kaiming (fan_out, relu, normal) convs, BN = 1/0
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def forward(self, x):
        x = self.maxpool(self.stem(x))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
