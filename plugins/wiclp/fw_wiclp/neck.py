"""Projections on the CLIP text-encoder output (Zarei, Rezaei et al., arXiv 2406.07844, Sec. 5).

Every projector maps the text encoder's ``last_hidden_state`` x in R^{B x T x d} (all T positions:
BOS, words, EOS and the padding after it, with no mask, since Stable Diffusion attends to all of
them) to a tensor of the same shape, dtype and device, for any T >= 1. Each starts as the identity,
so an untrained projector reproduces the base model exactly.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from framework import FwError

INITS = ('eye', 'zeros', 'default', 'xavier')


class CLP(nn.Module):
    """Compositional Linear Projection: y_t = W x_t + b, one (W, b) shared by all positions.

    Args:
        dim (int): width d of the text embeddings (768 for SD v1.x, 1024 for SD v2.x).
        init (str): ``'eye'`` (default: W = I, b = 0, the identity), ``'zeros'``, ``'default'``
            (PyTorch's Linear init) or ``'xavier'``.

    No residual: with ``init='eye'`` the module is the identity. d^2 + d parameters (590,592 for
    d = 768; 1,049,600 for d = 1024).
    """

    def __init__(self, dim: int = 768, init: str = 'eye'):
        super().__init__()
        if init not in INITS:
            raise FwError(f"CLP init='{init}'; expected one of {', '.join(INITS)}")
        self.dim = dim
        self.proj = nn.Linear(dim, dim)
        if init == 'eye':
            nn.init.eye_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)
        elif init == 'zeros':
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)
        elif init == 'xavier':
            nn.init.xavier_uniform_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class WiCLP(nn.Module):
    """Window-based CLP: y_t = x_t + b + sum_{k=-r..r} W_k x_{t+k}, zero outside [0, T).

    Args:
        dim (int): width d of the text embeddings.
        window (int): odd window w (default 5); r = (w - 1) / 2 neighbours on each side.

    A ``Conv1d(d, d, w, padding=r)`` on the channel-first view; kernel tap j = k + r holds W_k
    (PyTorch convolution is cross-correlation). Every W_k and b start at zero, so the module is
    the identity at start (0 * x = 0 exactly). w d^2 + d parameters (2,949,888 for d = 768, w = 5).
    An even w is refused: a 'same' convolution with an even kernel pads asymmetrically.
    """

    def __init__(self, dim: int = 768, window: int = 5):
        super().__init__()
        if window < 1 or window % 2 == 0:
            raise FwError(
                f'WiCLP window={window}: the window must be odd and >= 1 (3, 5, 7, ...) '
                f'so that it is centred on each token'
            )
        self.dim, self.window = dim, window
        self.conv = nn.Conv1d(dim, dim, window, padding=(window - 1) // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x.transpose(1, 2)).transpose(1, 2)


class LinearSkip(nn.Module):
    """Ablation: y = x + Linear(x), the linear part initialised at zero (identity at start).

    Args:
        dim (int): width d of the text embeddings.
    """

    def __init__(self, dim: int = 768):
        super().__init__()
        self.dim = dim
        self.proj = nn.Linear(dim, dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(x)


class MLPSkip(nn.Module):
    """Ablation: y = x + Linear(ReLU(Linear(x))), the output layer at zero (identity at start).

    Args:
        dim (int): width d of the text embeddings.
        hidden (int | None): hidden width (default d).
    """

    def __init__(self, dim: int = 768, hidden: int | None = None):
        super().__init__()
        self.dim = dim
        hidden = hidden or dim
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.net[2].weight)
        nn.init.zeros_(self.net[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)
