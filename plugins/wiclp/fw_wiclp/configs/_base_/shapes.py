# The coloured-shapes attribute-binding experiment (CPU): shared settings.
# Images 16x16, frozen random CLIP text encoder (d=64), pixel-space UNet (about 0.26 M params),
# DDPM with 1000 linear-beta steps, epsilon prediction; DDIM sampling, 25 steps, guidance 3.
res = 16
diffusion = dict(
    type='wiclp.ShapesDiffusion',
    res=res,
    text_seed=0,
    unet_seed=0,
    unet_checkpoint='auto',
    base_steps=1000,
    embed_dim=64,
    sampler='DDIM',
)
sampling = dict(num_inference_steps=25, guidance_scale=3.0, switch_off_t=-1)

collate_fn = dict(type='default_collate')
test_dataloader = dict(
    batch_size=192,
    num_workers=0,
    collate_fn=collate_fn,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='wiclp.ShapePrompts', split='comp_train', samples_per_prompt=4),
)
test_evaluator = dict(type='wiclp.BindingScore', res=res, judge_seed=0)
test_cfg = dict(type='TestLoop')
val_dataloader = test_dataloader
val_evaluator = test_evaluator
val_cfg = dict(type='ValLoop')

log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
