"""Backbones: ResNet-18 with the CIFAR stem (paper setting) and a small digit CNN for CPU runs.

Both return the globally pooled feature [B, D] that every evaluation (kNN, linear probe) reads:
features are taken after global average pooling and before any projection head.
"""

from __future__ import annotations

import torch
from torch import nn


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
    """ResNet-18 with the CIFAR stem (paper Sec. 4): 3x3 conv stride 1, no max-pool, fc = Identity;
    512-d output after global average pooling.

    Args: ``in_channels`` (3), ``widths`` (stage widths, (64, 128, 256, 512)), ``blocks`` (basic blocks per
    stage, (2, 2, 2, 2)). The same network, arguments and state-dict keys as ``projhead.ResNet18CIFAR``.
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


class DigitConvNet(nn.Module):
    """CPU encoder for the 8x8 and 28x28 digits: conv3x3 in->32 BN ReLU, 32->64 BN ReLU, max-pool 2,
    64->128 BN ReLU, global average pool -> 128-d.

    Args: ``in_channels`` (1), ``widths`` ((32, 64, 128)), ``stem_stride`` (1; 2 adapts it to 28x28 MNIST at
    a quarter of the compute).
    """

    def __init__(self, in_channels: int = 1, widths=(32, 64, 128), stem_stride: int = 1):
        super().__init__()
        w1, w2, w3 = widths

        def block(cin, cout, stride=1):
            return [
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        self.features = nn.Sequential(
            *block(in_channels, w1, stem_stride),
            *block(w1, w2),
            nn.MaxPool2d(2),
            *block(w2, w3),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
        )
        self.out_dim = w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
