# SimCLR on CIFAR10, ResNet-18 CIFAR stem, 1 head(s), lr 0.06, 1000 epochs, augmentation 'acde' (paper setting, GPU).
# Single device: SimCLR negatives / the Barlow Twins correlation are per rank (no all-gather).
_base_ = ['../_base_/cifar_r18.py']
dataset_type = 'amcl.CIFAR10'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
optim_wrapper = dict(optimizer=dict(lr=0.06))
train_cfg = dict(max_epochs=1000)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=1000, eta_min=0.0)]
model = dict(
    type='amcl.SimCLR',
    num_heads=1,
    amcl=False,
    backbone=dict(type='amcl.ResNet18CIFAR'),
    neck=dict(hidden=512, out_dim=128, kind='mlp2'),
    loss=dict(temperature=0.5),
    augment=dict(type='amcl.AugFamily', spec='acde', size=32),
)
