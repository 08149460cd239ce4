import torch.nn as nn


class ProjectionHead(nn.Module):
    """Linear-ReLU-Linear projection from the representation to the loss space."""

    def __init__(self, in_dim=32, hidden=32, out_dim=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x):
        return self.net(x)
