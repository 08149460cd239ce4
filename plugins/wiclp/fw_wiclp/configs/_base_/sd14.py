# SD 1.4 with CLP on T2I-CompBench color: the base of every sd14_*/sd21_* config (paper Sec. 5-6).
# Set the local paths here and in sd.py (GPU).
_base_ = ['./sd.py']

model_dir = '/path/to/stable-diffusion-v1-4'
category = 'color'
model = dict(
    type='wiclp.ProjectedDiffusion',
    diffusion=dict(
        type='wiclp.LocalStableDiffusion',
        model_dir=model_dir,
        dtype='auto',
        sampler='PNDM',
        gradient_checkpointing=False,
    ),
    projector=dict(type='wiclp.CLP', dim=768, init='eye'),
    loss=dict(type='wiclp.DiffusionLoss'),  # target from the checkpoint's scheduler (epsilon)
    sampling=dict(num_inference_steps=25, guidance_scale=7.5, switch_off_t=_base_.switch_off_t),
)
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    collate_fn=_base_.collate_fn,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='wiclp.ImageTextPairs', train_json=_base_.train_json, resolution=512, hflip=True
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    collate_fn=_base_.collate_fn,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='wiclp.CompBenchPrompts',
        compbench_dir=_base_.compbench_dir,
        category=category,
        split='val',
        images_per_prompt=1,
        limit=50,
    ),
)
val_evaluator = dict(type='wiclp.BlipVqaScore', blip_vqa_dir=_base_.blip_vqa_dir)
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], limit=None, images_per_prompt=_base_.images_per_prompt),
)
test_evaluator = val_evaluator
