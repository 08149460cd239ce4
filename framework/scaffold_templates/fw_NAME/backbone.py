"""The encoder f whose output is the representation kept after training."""
import torch.nn as nn


class MLPBackbone(nn.Module):
    """A two-layer ReLU MLP: the representation one keeps after training.

    Args:
        in_dim: input features.
        hidden: width of the hidden layer.
        out_dim: size of the representation.
        dropout: probability of zeroing each inner unit while training (0: none).
    """

    def __init__(self, in_dim=16, hidden=64, out_dim=32, dropout=0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, out_dim), nn.ReLU())

    def forward(self, x):
        return self.net(x)
