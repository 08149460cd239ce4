# Supervised cross-entropy (classifier on z) on MNIST-5k with a spurious coloured background.
_base_ = ['./_base_/mnist5k_shift.py']
method = 'ce'
loss = None
