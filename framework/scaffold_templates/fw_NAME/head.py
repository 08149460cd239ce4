"""The projection head g between the representation and the loss."""
import torch.nn as nn


class ProjectionHead(nn.Module):
    """Linear-ReLU-Linear projection from the representation to the loss space.

    Args:
        in_dim: size of the representation (the backbone's ``out_dim``).
        hidden: width of the hidden layer.
        out_dim: size of the projection (here the number of classes).
    """

    def __init__(self, in_dim=32, hidden=32, out_dim=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x):
        return self.net(x)
