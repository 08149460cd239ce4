# Real scale (GPU): a projector on a frozen Stable Diffusion read from local folders; nothing is
# downloaded. Hyper-parameters follow the authors' release (paper Sec. 5): Adam lr 1e-5,
# MultiStepLR milestones [10000, 16000] x0.1 per iteration, gradient-norm clip 1.0, batch 8,
# 20,000 steps, checkpoint every 200 steps, validation every 1,000. Frozen modules in fp16, the
# projector and the loss in fp32. Sampling: PNDM, 25 steps, guidance 7.5.
compbench_dir = '/path/to/T2I-CompBench'  # examples/dataset/{cat}_train.txt, {cat}_val.txt
train_json = '/path/to/pairs.json'  # [{"image": ..., "prompt": ...}] from TRAIN prompts
blip_vqa_dir = '/path/to/blip-vqa-base'  # a local BLIP VQA model (transformers layout)
switch_off_t = -1  # T_s: projection on while t > T_s (-1: always)
images_per_prompt = 10  # 100 in the full protocol
seed = 0

collate_fn = dict(type='default_collate')
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=1000)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-5), clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[10000, 16000], gamma=0.1)]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=5),
    logger=dict(type='LoggerHook', interval=50),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=seed)
