"""Backbones (spec §2, §8): the synthetic linear stack, a small CPU conv net, ResNet-18 (CIFAR stem).

Every backbone returns the pre-projection representation h: after global pooling, before any head.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LinearNet(nn.Module):
    """A stack of linear layers dims[0] -> dims[1] -> ...; ``forward`` returns every layer's output."""

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


class SmallConvNet(nn.Module):
    """Three 3x3 conv blocks (ReLU, 2x2 max-pool after the first two), global average pool.

    For the CPU configs: about 4 MFLOP per 28x28 image at the default widths (16, 32, 64).
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


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18CIFAR(nn.Module):
    """ResNet-18 with the CIFAR stem: 3x3 conv stride 1, no max-pool, fc removed; 512-d after GAP."""

    def __init__(self, in_channels: int = 3, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, c = [], width
        for i, n in enumerate((2, 2, 2, 2)):
            out, stride = width * 2 ** i, (1 if i == 0 else 2)
            for j in range(n):
                layers.append(_BasicBlock(c, out, stride if j == 0 else 1))
                c = out
        self.layers = nn.Sequential(*layers)
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return self.layers(x).mean(dim=(2, 3))
