# MoCo v2 (queue 512, momentum 0.99, tau 0.1), one head; CPU default on scikit-learn's 8x8 digits (DigitConvNet, stride-1 stem).
# 30 epochs of batch 256 train in a few CPU minutes: `fw train amcl moco_digits`.
_base_ = ['./_base_/digits_cpu.py']
dataset_type = 'amcl.SklearnDigits'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
train_cfg = dict(max_epochs=30, val_interval=30)
default_hooks = dict(checkpoint=dict(interval=30))
model = dict(
    type='amcl.MoCo',
    num_heads=1,
    amcl=False,
    queue_size=512,
    momentum=0.99,
    neck=dict(hidden=128, out_dim=32),
    loss=dict(temperature=0.1),
    backbone=dict(type='amcl.DigitConvNet', in_channels=1, stem_stride=1),
    augment=dict(type='amcl.DigitAugment'),
)
