"""The diffusion loss the projector is trained with (the paper's Sec. 5; SD's training objective).

Per pair (image I, prompt p): z0 = s_vae * VAE.encode(I) (or the pixels, in pixel space),
t ~ U{0..T-1}, eps ~ N(0, I), z_t = sqrt(abar_t) z0 + sqrt(1 - abar_t) eps, c = P(CLIP(p)), and
L = mean || UNet(z_t, t, c) - target ||^2 in float32, with target = eps (``epsilon``, SD 1.x) or
v = sqrt(abar_t) eps - sqrt(1 - abar_t) z0 (``v_prediction``, SD 2.x).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from framework import FwError

PREDICTION_TYPES = ('epsilon', 'v_prediction', 'sample')


class DiffusionLoss(nn.Module):
    """Mean squared error between the UNet output and the scheduler's target, in float32.

    Args:
        prediction_type (str | None): ``epsilon``, ``v_prediction`` or ``sample``; None reads
            it from the checkpoint's scheduler (never assume epsilon: SD 2.1 predicts v).
        loss_weight (float): multiplier of the loss.
    """

    def __init__(self, prediction_type: str | None = None, loss_weight: float = 1.0):
        super().__init__()
        if prediction_type is not None and prediction_type not in PREDICTION_TYPES:
            raise FwError(
                f"prediction_type='{prediction_type}'; expected one of "
                f"{', '.join(PREDICTION_TYPES)} or None (the scheduler's)"
            )
        self.prediction_type = prediction_type
        self.loss_weight = loss_weight

    def target(
        self, scheduler, z0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        kind = self.prediction_type or scheduler.config.prediction_type
        if kind == 'epsilon':
            return noise
        if kind == 'v_prediction':
            return scheduler.get_velocity(z0, noise, timesteps)
        if kind == 'sample':
            return z0
        raise FwError(f"scheduler prediction_type '{kind}' is not supported")

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * F.mse_loss(prediction.float(), target.float())
