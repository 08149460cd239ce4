# cross-entropy through a linear classifier on z, fixed re-weighting head diag(1.1^-k);
# the shifted MNIST-5k task of _base_/mnist5k_shift.py (about a minute of CPU).
_base_ = ['./_base_/mnist5k_shift.py']
model = dict(head={{_base_.fixed_head}}, num_classes=10)
