# CPU default. Stage B of the shapes experiment: freeze the stage-A UNet and the text encoder and
# train WiCLP (window 5) on comp_train renders only, with the diffusion loss (epsilon target).
# Adam 1e-3, batch 32, 500 steps. `fw test` scores binding on the comp_train prompts.
_base_ = ['./_base_/shapes.py']

model = dict(
    type='wiclp.ProjectedDiffusion',
    diffusion=_base_.diffusion,
    projector=dict(type='wiclp.WiCLP', dim=64, window=5),
    loss=dict(type='wiclp.DiffusionLoss'),
    sampling=_base_.sampling,
)
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    collate_fn=_base_.collate_fn,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(type='wiclp.ShapeScenes', mode='comp_train', res=_base_.res, size=16000, seed=0),
)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=500, val_interval=100000)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=250, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=50),
)
