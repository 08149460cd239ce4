"""The training objective."""
import torch.nn as nn
import torch.nn.functional as F


class CrossEntropyLoss(nn.Module):
    """Cross-entropy on the head's logits.

    Args:
        label_smoothing: mass moved from the true class to all classes (0 = none).
        loss_weight: factor on the loss.
    """

    def __init__(self, label_smoothing=0.0, loss_weight=1.0):
        super().__init__()
        self.label_smoothing = label_smoothing
        self.loss_weight = loss_weight

    def forward(self, logits, labels):
        return self.loss_weight * F.cross_entropy(logits, labels,
                                                  label_smoothing=self.label_smoothing)
