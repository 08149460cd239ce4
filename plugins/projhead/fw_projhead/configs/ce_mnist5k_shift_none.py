# cross-entropy through a linear classifier on z, no head (z = h);
# the shifted MNIST-5k task of _base_/mnist5k_shift.py (about a minute of CPU).
_base_ = ['./_base_/mnist5k_shift.py']
model = dict(head=None, num_classes=10)
