# The full Stable Diffusion path at toy width on a CPU, with nothing downloaded: a latent-space
# UNet2DConditionModel, an AutoencoderKL and a CLIPTextModel built from configs (random weights),
# WiCLP trained on rendered comp_train scenes (32 px images, 16 px latents), sampling through
# diffusers' StableDiffusionPipeline via prompt_embeds. Checks the plumbing, not image quality.
_base_ = ['./_base_/shapes.py']

model = dict(
    type='wiclp.ProjectedDiffusion',
    diffusion=dict(
        type='wiclp.TinyStableDiffusion',
        seed=0,
        embed_dim=32,
        sample_size=16,
        prediction_type='epsilon',
        sampler='PNDM',
        max_length=16,
    ),
    projector=dict(type='wiclp.WiCLP', dim=32, window=5),
    sampling=dict(num_inference_steps=10, guidance_scale=7.5, switch_off_t=400),
)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=_base_.collate_fn,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(type='wiclp.ShapeScenes', mode='comp_train', res=32, size=1000, seed=0),
)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=100000)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3), clip_grad=dict(max_norm=1.0))
test_dataloader = dict(batch_size=8, dataset=dict(split='comp_val', samples_per_prompt=1))
test_evaluator = dict(type='wiclp.BindingScore', res=32, judge_seed=0)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=20, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=5),
)
val_dataloader = None  # no validation during this smoke run; `fw test` scores comp_val
val_evaluator = None
val_cfg = None
