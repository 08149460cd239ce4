# AMCL-MoCo on CIFAR10, ResNet-18 CIFAR stem, 3 head(s), lr 0.08, 1000 epochs, augmentation 'acde' (paper setting, GPU).
# Single device: no shuffle-BN.
_base_ = ['../_base_/cifar_r18.py']
dataset_type = 'amcl.CIFAR10'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
optim_wrapper = dict(optimizer=dict(lr=0.08))
train_cfg = dict(max_epochs=1000)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=1000, eta_min=0.0)]
model = dict(
    type='amcl.MoCo',
    num_heads=3,
    amcl=True,
    queue_size=4096,
    momentum=0.99,
    backbone=dict(type='amcl.ResNet18CIFAR'),
    neck=dict(hidden=512, out_dim=128, kind='mlp2'),
    loss=dict(beta=1e-4, topk=100, tau_min=1e-5, tau_max=2.0, hidden=128),
    augment=dict(type='amcl.AugFamily', spec='acde', size=32),
)
