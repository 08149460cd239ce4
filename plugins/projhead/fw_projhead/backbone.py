"""Backbones: the synthetic linear stack, a small CPU conv net, ResNet-18 with the CIFAR stem.

Every backbone returns the pre-projection representation h: after global pooling, before any head.
"""

from __future__ import annotations

import torch
from torch import nn


class LinearNet(nn.Module):
    """A stack of linear layers dims[0] -> dims[1] -> ...; ``forward`` returns every layer's output.

    Args: ``dims`` (layer sizes), ``bias`` (False), ``init_std`` (normal init std; None = torch's).
    """

    def __init__(self, dims, bias: bool = False, init_std: float | None = None):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(dims[:-1], dims[1:]))
        if init_std is not None:
            for layer in self.layers:
                nn.init.normal_(layer.weight, std=init_std)
        self.out_dim = dims[-1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs


class ColourDigitConvNet(nn.Module):
    """CPU encoder of the coloured-background digits: three 3x3 conv blocks (BN, ReLU, 2x2 max-pool
    after the first two), global average pool; about 4 MFLOP per 28x28 image at widths (16, 32, 64).

    Args: ``in_channels`` (3), ``widths`` ((16, 32, 64)), ``bn`` (batch norm, True).
    """

    def __init__(self, in_channels: int = 3, widths=(16, 32, 64), bn: bool = True):
        super().__init__()
        blocks, c = [], in_channels
        for i, w in enumerate(widths):
            block = [nn.Conv2d(c, w, 3, padding=1, bias=not bn)]
            if bn:
                block.append(nn.BatchNorm2d(w))
            block.append(nn.ReLU(inplace=True))
            if i < len(widths) - 1:
                block.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*block))
            c = w
        self.features = nn.Sequential(*blocks)
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18CIFAR(nn.Module):
    """ResNet-18 with the CIFAR stem: 3x3 conv stride 1, no max-pool, fc = Identity; 512-d h after
    global average pooling (the paper's CIFAR encoder).

    Args: ``in_channels`` (3), ``widths`` (stage widths, (64, 128, 256, 512)), ``blocks`` (basic blocks
    per stage, (2, 2, 2, 2)). The same network, arguments and state-dict keys as ``amcl.ResNet18CIFAR``.
    """

    def __init__(self, in_channels: int = 3, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        layers, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, w, stride=2 if (i > 0 and j == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity()
        self.out_dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))
