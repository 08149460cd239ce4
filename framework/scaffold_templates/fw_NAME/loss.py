import torch.nn as nn
import torch.nn.functional as F


class CrossEntropyLoss(nn.Module):
    def __init__(self, label_smoothing=0.0, loss_weight=1.0):
        super().__init__()
        self.label_smoothing = label_smoothing
        self.loss_weight = loss_weight

    def forward(self, logits, labels):
        return self.loss_weight * F.cross_entropy(logits, labels,
                                                  label_smoothing=self.label_smoothing)
