# Stage A of the shapes experiment: train the base text-to-image UNet from scratch (the stand-in
# for a pretrained Stable Diffusion). 85% single objects, 15% comp_train pairs, 10% empty prompts
# (for classifier-free guidance). Adam 1e-3 (constant), batch 32, 4,000 steps
# (about 0.09 s per step on 2 idle cores, 0.13 s on one: 6-9 minutes). The text encoder stays frozen.
# Stage-B configs train this automatically (cached) when they first need it.
_base_ = ['./_base_/shapes.py']

model = dict(
    type='wiclp.ProjectedDiffusion',
    diffusion=dict(_base_.diffusion, unet_checkpoint=None),
    projector=None,
    train_unet=True,
    sampling=_base_.sampling,
)
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    collate_fn=_base_.collate_fn,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(
        type='wiclp.ShapeScenes',
        mode='base',
        res=_base_.res,
        size=64000,
        comp_fraction=0.15,
        empty_fraction=0.1,
        seed=0,
    ),
)
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=_base_.diffusion.base_steps, val_interval=100000
)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
test_dataloader = dict(dataset=dict(split='single'))
val_dataloader = test_dataloader
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=100),
)
