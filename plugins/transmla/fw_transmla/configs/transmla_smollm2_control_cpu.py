# Control run: the same fine-tune on the UNCONVERTED SmolLM2 (pydoc domain adaptation alone).
# (the gap to transmla_smollm2_cpu is the cost of the conversion after equal training).
# Same recipe and defaults as transmla_smollm2_cpu (20 x 2 x 128 tokens, warmup 3, AdamW 1e-4).
max_iters = 20
warmup = 3

model = dict(type='transmla.TransMLAModel', model='smollm2', train='all', num_threads=2)

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='llm.PydocText', split='train', tokenizer='smollm2', window=128),
)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.0), clip_grad=dict(max_norm=1.0)
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

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, save_last=False),
    logger=dict(type='LoggerHook', interval=5),
)
custom_hooks = [dict(type='transmla.SaveConvertedHook')]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

# `fw test transmla <this config> <checkpoint>`: held-out perplexity (pydoc topics disjoint from
# the training split, 8 windows x 256 tokens), the figure of the README's fine-tune table
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='llm.PydocText', split='heldout', tokenizer='smollm2', window=256, max_windows=8
    ),
)
test_evaluator = dict(type='llm.Perplexity')
test_cfg = dict(type='TestLoop')
