"""Full-softmax cross-entropy over the whole catalogue (paper Sec. 3.3)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from framework import FwError


class FullSoftmaxCE(nn.Module):
    """L = -(1/|T|) sum_{(u,t) in T} log softmax(s_{u,t})[y_{u,t}] over non-pad targets.

    Args:
        num_negatives (None): must stay None; a sampled softmax is not the paper's loss, so a
            config that sets it is rejected.
        loss_weight (float): multiplies the loss.

    Target 0 (padding) is ignored, and s_0 = -inf, so padding is never a class.
    """

    def __init__(self, num_negatives=None, loss_weight=1.0):
        super().__init__()
        if num_negatives:
            raise FwError(
                f'loss.num_negatives = {num_negatives}: Lite-LLM4Rec trains with the '
                f'full softmax over all items; remove num_negatives'
            )
        self.loss_weight = loss_weight

    def forward(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        scores = scores.reshape(-1, scores.shape[-1]).float()
        targets = targets.reshape(-1)
        keep = targets > 0
        if not keep.all():
            scores, targets = scores[keep], targets[keep]
        return self.loss_weight * F.cross_entropy(scores, targets)
