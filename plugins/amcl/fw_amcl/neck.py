"""C independent projection heads, stacked on dim 1: [B, D] -> [B, C, d']."""

from __future__ import annotations

import torch
from torch import nn


def _mlp2(cin: int, hidden: int, cout: int) -> nn.Module:
    """SimCLR / MoCo head: Linear -> ReLU -> Linear."""
    return nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, cout))


def _bt3(cin: int, hidden: int, cout: int) -> nn.Module:
    """Barlow Twins / SimSiam head: Linear-BN-ReLU, Linear-BN-ReLU, Linear-BN(affine=False)."""
    return nn.Sequential(
        nn.Linear(cin, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, cout, bias=False),
        nn.BatchNorm1d(cout, affine=False),
    )


class MultiHeadProjector(nn.Module):
    """C heads of the same shape with independent weights (paper Sec. 4), outputs stacked on dim 1.

    Args: ``in_dim`` (backbone width), ``hidden``, ``out_dim`` (d'), ``num_heads`` (C, 3), ``kind``
    (``mlp2``: Linear-ReLU-Linear for SimCLR / MoCo; ``bt3``: three Linear-BN layers for Barlow Twins).
    """

    KINDS = {'mlp2': _mlp2, 'bt3': _bt3}

    def __init__(
        self, in_dim: int, hidden: int, out_dim: int, num_heads: int = 3, kind: str = 'mlp2'
    ):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown head kind '{kind}'; expected one of {sorted(self.KINDS)}")
        if num_heads < 1:
            raise ValueError(f'num_heads must be >= 1, got {num_heads}')
        self.num_heads, self.out_dim = num_heads, out_dim
        self.heads = nn.ModuleList(
            self.KINDS[kind](in_dim, hidden, out_dim) for _ in range(num_heads)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([h(x) for h in self.heads], dim=1)
