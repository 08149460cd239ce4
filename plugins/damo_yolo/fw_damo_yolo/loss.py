"""Channel-wise distillation (CWD) on neck outputs with a trainable align conv (Xu et al. 2022, Sec.
2.4)."""

import math

import torch.nn as nn
import torch.nn.functional as F


def cwd_weight(it, total_iters, start=1.0, end=0.1):
    """Cosine-decayed distillation weight: 1.0 at it=0, 0.55 at half, 0.1 at the end."""
    if total_iters <= 0:
        return start
    t = min(max(it / total_iters, 0.0), 1.0)
    return start + (end - start) * (1 - math.cos(math.pi * t)) / 2


def cwd(student, teacher, tau=1.0):
    """sum softmax(T/tau) * (log softmax(T/tau) - log softmax(S/tau)) * tau^2 / (N*C) over one
    level."""
    N, C, H, W = student.shape
    s = student.reshape(N * C, H * W) / tau
    t = teacher.reshape(N * C, H * W) / tau
    p_t = F.softmax(t, dim=1)
    return (p_t * (F.log_softmax(t, dim=1) - F.log_softmax(s, dim=1))).sum() * tau**2 / (N * C)


class CWDFeatureLoss(nn.Module):
    """Channel-wise distillation on neck outputs (Xu et al. 2022, Sec. 2.4). Per level an align 1x1
    conv (student channels -> teacher channels, with bias), then a non-affine BatchNorm that always
    uses batch statistics, applied to both maps; CWD summed over the levels.

    Args:
        student_channels: channels of the student's neck outputs, per level.
        teacher_channels: channels of the teacher's neck outputs, per level.
        tau: softmax temperature of CWD (1.0).
        loss_weight: factor on the loss.
    """

    def __init__(
        self,
        student_channels=(64, 128, 256),
        teacher_channels=(128, 256, 512),
        tau=1.0,
        loss_weight=1.0,
    ):
        super().__init__()
        self.tau = tau
        self.loss_weight = loss_weight
        self.align = nn.ModuleList(
            nn.Conv2d(s, t, 1, 1, 0, bias=True) for s, t in zip(student_channels, teacher_channels)
        )
        self.norm = nn.ModuleList(
            nn.BatchNorm2d(t, affine=False, track_running_stats=False) for t in teacher_channels
        )

    def forward(self, student_feats, teacher_feats):
        loss = 0.0
        for s, t, align, norm in zip(student_feats, teacher_feats, self.align, self.norm):
            s = norm(align(s))
            t = norm(t.detach())
            loss = loss + cwd(s, t, self.tau)
        return self.loss_weight * loss
