"""``matryoshka_kv.DistillCE``: the Matryoshka distillation objective (paper Sec. 3.3).

``loss = kl_weight * KL(p_teacher || p_student) + ce_weight * CE(student, next token)``; the
paper states distillation : language modelling = 1 : 3, i.e. weights 0.25 / 0.75. KL at
temperature ``temperature``, summed over the vocabulary and averaged over token positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DistillCE(nn.Module):
    """Weighted KL(teacher || student) + next-token cross-entropy.

    Args: kl_weight (0.25), ce_weight (0.75), temperature (1.0; the KL term is multiplied by
    temperature^2 as usual for softened distillation)."""

    def __init__(self, kl_weight: float = 0.25, ce_weight: float = 0.75, temperature: float = 1.0):
        super().__init__()
        self.kl_weight, self.ce_weight, self.temperature = kl_weight, ce_weight, temperature

    def forward(
        self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, input_ids: torch.Tensor
    ) -> dict:
        """Logits (B, T, V), ``input_ids`` (B, T); returns ``dict(loss_kl=..., loss_ce=...)``
        (already weighted; mmengine sums every ``loss*`` entry)."""
        t = self.temperature
        ls = F.log_softmax(student_logits.float() / t, -1)
        lt = F.log_softmax(teacher_logits.float() / t, -1)
        kl = (lt.exp() * (lt - ls)).sum(-1).mean() * t * t
        ce = F.cross_entropy(
            student_logits[:, :-1].float().reshape(-1, student_logits.shape[-1]),
            input_ids[:, 1:].reshape(-1),
        )
        return dict(loss_kl=self.kl_weight * kl, loss_ce=self.ce_weight * ce)
