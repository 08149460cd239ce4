"""The item projection head (paper Sec. 3.3): ranking scores for the whole catalogue at once.

It replaces beam-search decoding of item text: one d x (n+1) matmul scores every item.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from framework import FwError


class ItemProjectionHead(nn.Module):
    """s = W h + b in R^{n+1} (``linear``), or s_j = <h, A(E_txt[j])> (``tied``); s_0 = -inf.

    Args:
        in_dim (int): d, the width of the user vector h.
        n_items (int): n; scores cover ids 0..n and id 0 (padding) is never ranked.
        mode (str): ``linear`` (own W, b; init N(0, 0.02^2), b = 0) or ``tied`` (scores against
            the adapted item vectors passed to ``forward``).
    """

    def __init__(self, in_dim=64, n_items=1, mode='linear'):
        super().__init__()
        if mode not in ('linear', 'tied'):
            raise FwError(f"head.mode is '{mode}'; expected linear or tied")
        self.mode = mode
        if mode == 'linear':
            self.proj = nn.Linear(in_dim, n_items + 1)
            nn.init.normal_(self.proj.weight, std=0.02)
            nn.init.zeros_(self.proj.bias)

    def forward(self, h: torch.Tensor, item_matrix: torch.Tensor | None = None) -> torch.Tensor:
        """[..., n+1] scores of the user vectors ``h`` [..., d]."""
        if self.mode == 'linear':
            scores = self.proj(h)
        else:
            if item_matrix is None:
                raise FwError('a tied ItemProjectionHead needs the adapted item matrix')
            scores = h @ item_matrix.T
        scores[..., 0] = float('-inf')  # in place: the matmul's backward does not need it
        return scores
