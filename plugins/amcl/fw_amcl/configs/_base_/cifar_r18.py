# Paper setting on CIFAR (GPU; the paper's Sec. 5 set-up): ResNet-18 CIFAR stem, batch 512 with drop_last,
# SGD momentum 0.9 wd 5e-4, cosine over 1000 epochs, gradient-norm clip 1.0, AMP for the model (every AMCL
# loss term runs in fp32), augmentation family "acde", kNN monitor (k 200, t 0.1) every 10 epochs.
# Data: torchvision's on-disk pickles under data_root (nothing is downloaded).
data_root = 'data/cifar'
dataset_type = 'amcl.CIFAR10'
train_dataloader = dict(
    batch_size=512,
    num_workers=8,
    drop_last=True,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train'),
)
val_dataloader = dict(
    batch_size=1024,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='all'),
)
val_evaluator = [dict(type='amcl.WeightedKNN', k=200, t=0.1), dict(type='amcl.TemperatureStats')]
val_cfg = dict(type='ValLoop')
train_cfg = dict(by_epoch=True, max_epochs=1000, val_interval=10)
# GradScaler skips steps with inf gradients itself; a non-finite loss or parameter aborts (model.train_step).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=1.0),
)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=1000, eta_min=0.0)]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=20),
)
env_cfg = dict(cudnn_benchmark=True)
randomness = dict(seed=0)
