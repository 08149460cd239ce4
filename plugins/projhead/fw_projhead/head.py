"""Projection heads: the trainable MLP head, the fixed re-weighting head of the paper, no head.

Every head maps the pre-projection representation h to the post-projection z. ``forward_layers``
returns the output of each head layer (after its non-linearity), the last one being z.
"""

from __future__ import annotations

import torch
from torch import nn


class MLPHead(nn.Module):
    """Linear-ReLU-...-Linear with ``n_layers`` linear layers, the standard trainable head.

    Args: ``in_dim`` (h's size), ``hidden_dim``, ``out_dim`` (z's size), ``n_layers`` (2), ``bn`` (batch
    norm after each hidden layer, False).
    """

    def __init__(
        self, in_dim: int, hidden_dim: int, out_dim: int, n_layers: int = 2, bn: bool = False
    ):
        super().__init__()
        if n_layers < 1:
            raise ValueError('MLPHead needs n_layers >= 1')
        dims = [in_dim] + [hidden_dim] * (n_layers - 1) + [out_dim]
        self.layers = nn.ModuleList()
        for i in range(n_layers):
            block = [nn.Linear(dims[i], dims[i + 1], bias=not (bn and i < n_layers - 1))]
            if i < n_layers - 1:
                if bn:
                    block.append(nn.BatchNorm1d(dims[i + 1]))
                block.append(nn.ReLU(inplace=False))
            self.layers.append(nn.Sequential(*block))
        self.out_dim = out_dim

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for layer in self.layers:
            h = layer(h)
            outs.append(h)
        return outs

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


class FixedReweightHead(nn.Module):
    """z = diag(kappa^0, kappa^-1, ..., kappa^-(dim-1)) h: no trainable parameter, one knob kappa.

    Args: ``dim`` (h's size), ``kappa`` (1.05).

    kappa = 1 is exactly the identity ("no head"). ``D`` is a float32 buffer, so optimisers and
    weight decay never touch it, and z is computed in float32 outside autocast (kappa^-k underflows
    in fp16 beyond k ~ 200 at kappa = 1.05).
    """

    def __init__(self, dim: int, kappa: float = 1.05):
        super().__init__()
        if kappa <= 0:
            raise ValueError(f'kappa must be positive, got {kappa}')
        self.dim, self.kappa = int(dim), float(kappa)
        k = torch.arange(self.dim, dtype=torch.float64)
        self.register_buffer('D', (self.kappa**-k).to(torch.float32))
        self.out_dim = self.dim

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        return [self.forward(h)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.shape[-1] != self.dim:
            raise ValueError(
                f'FixedReweightHead(dim={self.dim}) got features of size {h.shape[-1]}'
            )
        if self.kappa == 1.0:
            return h
        with torch.autocast(device_type=h.device.type, enabled=False):
            dtype = torch.float64 if h.dtype == torch.float64 else torch.float32
            return h.to(dtype) * self.D.to(dtype)

    def extra_repr(self) -> str:
        return f'dim={self.dim}, kappa={self.kappa}'


class IdentityHead(nn.Module):
    """The "no head" baseline: z = h. Args: ``dim`` (h's size, optional; only reported as out_dim)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.out_dim = dim

    def forward_layers(self, h):
        return [h]

    def forward(self, h):
        return h


class LinearHead(nn.Module):
    """A single linear map z = W2 h (the synthetic model's second layer).

    Args: ``in_dim``, ``out_dim``, ``bias`` (False).
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = False):
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim, bias=bias)
        self.out_dim = out_dim

    def forward_layers(self, h):
        return [self.fc(h)]

    def forward(self, h):
        return self.fc(h)
