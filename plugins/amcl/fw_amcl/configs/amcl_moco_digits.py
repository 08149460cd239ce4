# AMCL-MoCo: C = 3 heads, per-head queues of 512, beta 1e-4, top-k 100; CPU default on scikit-learn's 8x8 digits (DigitConvNet, stride-1 stem).
# 30 epochs of batch 256 train in a few CPU minutes: `fw train amcl amcl_moco_digits`.
_base_ = ['./_base_/digits_cpu.py']
dataset_type = 'amcl.SklearnDigits'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
train_cfg = dict(max_epochs=30, val_interval=30)
default_hooks = dict(checkpoint=dict(interval=30))
model = dict(
    type='amcl.MoCo',
    num_heads=3,
    amcl=True,
    queue_size=512,
    momentum=0.99,
    neck=dict(hidden=128, out_dim=32),
    loss=dict(beta=1e-4, topk=100, tau_min=1e-5, tau_max=2.0, hidden=64),
    backbone=dict(type='amcl.DigitConvNet', in_channels=1, stem_stride=1),
    augment=dict(type='amcl.DigitAugment'),
)
