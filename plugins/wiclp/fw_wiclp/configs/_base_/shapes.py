# The coloured-shapes attribute-binding experiment (CPU): shared settings.
# Images 16x16, frozen random CLIP text encoder (d=64), pixel-space UNet (about 0.26 M params),
# DDPM with 1000 linear-beta steps, epsilon prediction; DDIM sampling, 25 steps, guidance 1.5.
# Stage A trains 4,000 steps and guidance 1.5 was chosen on the *base* model's single-object
# accuracy (the gate >= 0.8, before any projector exists): guidance 1 / 1.5 / 2 / 3 gave
# 0.896 / 0.938 / 0.688 / 0.104 after 4,000 steps; 2,000 / 3,000 steps gave 0.604 / 0.917 at 1.5.
# (SD's 7.5 over-saturates this small pixel-space model: colours bleed between objects.)
res = 16
diffusion = dict(
    type='wiclp.ShapesDiffusion',
    res=res,
    text_seed=0,
    unet_seed=0,
    unet_checkpoint='auto',
    base_steps=4000,
    embed_dim=64,
    sampler='DDIM',
)
sampling = dict(num_inference_steps=25, guidance_scale=1.5, switch_off_t=-1)

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
