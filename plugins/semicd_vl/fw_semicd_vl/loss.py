"""Losses of SemiCD-VL: batch-balanced contrastive loss (BCL), masked CE reductions, confidence
weighting."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = 255
CE_REDUCTIONS = ('mean', 'mean_all', 'mean_valid')
CONF_MODES = ('pixelwise', 'pixelratio', 'pixelavg')


def bcl_loss(d, t, margin=2.0, reduction='none'):
    """BCL on a distance map ``d`` with targets ``t`` in {0, 1, 255}; M = 1[t != 255].

    none: (1-t)·M·d² + t·M·max(0, m-d)²  (unchanged pulls together, changed pushes past m)
    mean: Σ(1-t)M·d² / (Σ(1-t)M + 1e-4) + Σ tM·max(0, m-d)² / (Σ tM + 1e-4)
    """
    valid = (t != IGNORE).float()
    pos = (t == 1).float() * valid
    neg = (t == 0).float() * valid
    l_unch = neg * d.pow(2)
    l_ch = pos * torch.clamp(margin - d, min=0.0).pow(2)
    if reduction == 'none':
        return l_unch + l_ch
    if reduction == 'mean':
        return l_unch.sum() / (neg.sum() + 1e-4) + l_ch.sum() / (pos.sum() + 1e-4)
    raise ValueError(f"BCL reduction must be 'none' or 'mean', got {reduction!r}")


class BCLLoss(torch.nn.Module):
    """Batch-balanced contrastive loss on a distance map, the module form of :func:`bcl_loss`.

    Args:
        margin: m; changed pixels are pushed past it (2.0).
        reduction: ``'mean'`` (balanced over unchanged and changed pixels) or ``'none'``.
        loss_weight: factor on the result.
    """

    def __init__(self, margin=2.0, reduction='mean', loss_weight=1.0):
        super().__init__()
        self.margin, self.reduction, self.loss_weight = margin, reduction, loss_weight

    def forward(self, d, t):
        return self.loss_weight * bcl_loss(d, t, self.margin, self.reduction)


def ce_none(logits, target):
    """Per-pixel CE, 0 where target is 255."""
    return F.cross_entropy(logits, target, ignore_index=IGNORE, reduction='none')


def masked_ce(logits, target, reduction='mean'):
    """``mean``: torch's mean over non-ignored pixels (0 when none); ``mean_all``: sum / all pixels
    (N·H·W; the official VL-term reduction); ``mean_valid``: sum / max(#valid, 1)."""
    loss = ce_none(logits, target)
    valid = target != IGNORE
    if reduction == 'mean_all':
        return loss.sum() / loss.numel()
    if reduction in ('mean', 'mean_valid'):
        return loss.sum() / valid.sum().clamp(min=1)
    raise ValueError(f'CE reduction must be one of {CE_REDUCTIONS}, got {reduction!r}')


def confidence_weighted(loss_map, conf, keep, valid, mode='pixelwise'):
    """FixMatch-style weighting of an N×H×W loss map (the official ``confidence_weighted_loss``);
    the denominator is Σ valid (all images) in every mode, keep = conf >= τ & valid.

    pixelwise:  Σ loss·keep / Σ valid
    pixelratio: Σ_n r_n·Σ_pixels(loss_n) / Σ valid,  r_n = Σ keep_n / Σ valid_n (image n's
                confident share); every pixel's loss counts, padded ones included, as in the code
    pixelavg:   Σ_all(loss) · Σ_n a_n / Σ valid,  a_n = mean confidence over image n's valid
                pixels (the code multiplies the batch's summed loss by each image's a_n, then sums)
    """
    keep, valid = keep.float(), valid.float()
    denom = valid.sum().clamp(min=1)
    if mode == 'pixelwise':
        return (loss_map * keep).sum() / denom
    n_valid = valid.flatten(1).sum(1).clamp(min=1)
    if mode == 'pixelratio':
        ratio = keep.flatten(1).sum(1) / n_valid
        return (ratio * loss_map.flatten(1).sum(1)).sum() / denom
    if mode == 'pixelavg':
        avg_conf = (conf * valid).flatten(1).sum(1) / n_valid
        return (loss_map.sum() * avg_conf).sum() / denom
    raise ValueError(f'conf_mode must be one of {CONF_MODES}, got {mode!r}')
