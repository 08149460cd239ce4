# MatryoshkaKV on CPU: SmolLM2-135M-Instruct (frozen), per-layer / per-KV-head Cayley-orthogonal
# K and V projections initialised by PCA on 32 x 256 pydoc train tokens, trained by Matryoshka
# distillation (ranks drawn per step from {8, 16, ..., 64}, loss 0.25 KL + 0.75 CE) on the pydoc
# train split. Evaluation (`fw test`) at uniform rank 32 = 50 % of the cache, held-out pydoc.
max_iters = 40
warmup = 4

model = dict(
    type='matryoshka_kv.MatryoshkaKVModel',
    model='smollm2',
    init='pca',
    calib=dict(windows=32, length=256, batch_size=4),
    delta=8,
    eval_ranks='uniform:32',
    loss=dict(type='matryoshka_kv.DistillCE', kl_weight=0.25, ce_weight=0.75),
    num_threads=2,
)

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='llm.PydocText', split='train', tokenizer='smollm2', window=256),
)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)

# Paper / official recipe: AdamW, lr 1e-3 for the projections, cosine, warm-up, clip 1.0.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0), clip_grad=dict(max_norm=1.0)
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warmup),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=warmup,
        end=max_iters,
        T_max=max_iters - warmup,
    ),
]

test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='llm.PydocText', split='heldout', tokenizer='smollm2', window=256, max_windows=16
    ),
)
test_evaluator = [dict(type='llm.Perplexity'), dict(type='llm.CacheBytes')]
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=20, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=5),
)
custom_hooks = [dict(type='matryoshka_kv.SaveProjectionHook', interval=20)]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
