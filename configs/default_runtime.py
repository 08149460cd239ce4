# Runtime defaults every fw training run starts from (a plugin config overrides any key).
default_scope = 'fw'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # fw switches to gloo on machines without CUDA
)

log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# Besides the CheckpointHook's files, fw keeps a resume point (latest.pth) after every epoch, or
# every this many iterations in iteration-based loops, so an interrupted run loses little.
resume_every_n_iters = 1000
