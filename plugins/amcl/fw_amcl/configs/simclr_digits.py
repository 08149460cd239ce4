# SimCLR (NT-Xent, tau 0.5), one head; CPU default on scikit-learn's 8x8 digits (DigitConvNet, stride-1 stem).
# 30 epochs of batch 256 train in a few CPU minutes: `fw train amcl simclr_digits`.
_base_ = ['./_base_/digits_cpu.py']
dataset_type = 'amcl.SklearnDigits'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
train_cfg = dict(max_epochs=30, val_interval=30)
default_hooks = dict(checkpoint=dict(interval=30))
model = dict(
    type='amcl.SimCLR',
    num_heads=1,
    amcl=False,
    neck=dict(hidden=128, out_dim=32),
    loss=dict(temperature=0.5),
    backbone=dict(type='amcl.DigitConvNet', in_channels=1, stem_stride=1),
    augment=dict(type='amcl.DigitAugment'),
)
