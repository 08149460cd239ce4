# SupCon (tau 0.5) on MNIST-5k with a spurious coloured background; pre vs post probe under shift.
_base_ = ['./_base_/mnist5k_shift.py']
method = 'supcon'
loss = dict(type='projhead.SupConLoss', tau=0.5)
