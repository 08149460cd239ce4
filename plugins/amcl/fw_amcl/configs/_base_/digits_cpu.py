# CPU protocol shared by the *_mnist5k and *_digits configs: batch 256 with drop_last
# (fixed batch, needed by AMCL Barlow Twins), Adam lr 1e-3 wd 1e-6, gradient clipping 1.0 for every method,
# evaluation at the end on frozen backbone features: weighted kNN (k 20, t 0.1), full-label linear probe on
# standardised features and 5-shot logistic regression, plus tau statistics for AMCL models.
dataset_type = 'amcl.MlxtendMNIST'
train_dataloader = dict(
    batch_size=256,
    num_workers=0,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='train'),
)
val_dataloader = dict(
    batch_size=512,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='all'),
)
val_evaluator = [
    dict(type='amcl.WeightedKNN', k=20, t=0.1),
    dict(type='amcl.LinearProbe', standardize=True, few_shot=5),
    dict(type='amcl.TemperatureStats'),
]
val_cfg = dict(type='ValLoop')
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=10)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-6),
    clip_grad=dict(max_norm=1.0, error_if_nonfinite=True),
)
param_scheduler = []
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=5),
)
randomness = dict(seed=0)
