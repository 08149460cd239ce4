# cross-entropy through a linear classifier on z, MLP head 64-64-32;
# the shifted MNIST-5k task of _base_/mnist5k_shift.py (about a minute of CPU).
_base_ = ['./_base_/mnist5k_shift.py']
model = dict(head={{_base_.mlp_head}}, num_classes=10)
