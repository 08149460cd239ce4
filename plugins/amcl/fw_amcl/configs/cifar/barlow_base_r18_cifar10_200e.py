# BarlowTwins on CIFAR10, ResNet-18 CIFAR stem, 1 head(s), lr 0.11, 200 epochs, augmentation 'acde' (paper setting, GPU). Budget variant.
# Single device: SimCLR negatives / the Barlow Twins correlation are per rank (no all-gather).
_base_ = ['../_base_/cifar_r18.py']
dataset_type = 'amcl.CIFAR10'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
optim_wrapper = dict(optimizer=dict(lr=0.11))
train_cfg = dict(max_epochs=200)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=200, eta_min=0.0)]
model = dict(
    type='amcl.BarlowTwins',
    num_heads=1,
    amcl=False,
    backbone=dict(type='amcl.ResNet18CIFAR'),
    neck=dict(hidden=2048, out_dim=2048, kind='bt3'),
    loss=dict(lambd=5e-3),
    augment=dict(type='amcl.AugFamily', spec='acde', size=32),
)
