# MoCo on CIFAR100, ResNet-18 CIFAR stem, 1 head(s), lr 0.08, 1000 epochs, augmentation 'acde' (paper setting, GPU).
# Single device: no shuffle-BN.
_base_ = ['../_base_/cifar_r18.py']
dataset_type = 'amcl.CIFAR100'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
optim_wrapper = dict(optimizer=dict(lr=0.08))
train_cfg = dict(max_epochs=1000)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=1000, eta_min=0.0)]
model = dict(
    type='amcl.MoCo',
    num_heads=1,
    amcl=False,
    queue_size=4096,
    momentum=0.99,
    backbone=dict(type='amcl.ResNet18CIFAR'),
    neck=dict(hidden=512, out_dim=128, kind='mlp2'),
    loss=dict(temperature=0.1),
    augment=dict(type='amcl.AugFamily', spec='acde', size=32),
)
