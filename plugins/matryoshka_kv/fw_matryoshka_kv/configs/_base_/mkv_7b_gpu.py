# Real-scale MatryoshkaKV (GPU, local files): a 7B base model in bf16 (projections stay float32),
# PCA initialisation on local Alpaca texts, Matryoshka distillation on a local RedPajama-sample
# jsonl with the paper's recipe (AdamW, lr 1e-3 for the projections, cosine, 100 warm-up steps,
# clip 1.0, sequences of 2048, 64 sequences per optimiser step, gradient checkpointing).
# The model configs beside this folder set the checkpoint path; put the files at these paths
# (or override: --cfg-options model.model=/path ...).
micro_per_step = 64  # batch 1 x 64 accumulated micro-batches (paper: 1 x 16 x 4 GPUs)
steps = 1500  # about 200M tokens (2048 x 64 x 1500)
warmup = 100

model = dict(
    type='matryoshka_kv.MatryoshkaKVModel',
    model='models/Llama-2-7b-hf',
    init='pca',
    calib=dict(windows=256, length=512, text='data/alpaca_data.json', batch_size=4),
    delta=16,
    eval_ranks='uniform:64',
    dtype='bfloat16',
    gradient_checkpointing=True,
    loss=dict(type='matryoshka_kv.DistillCE', kl_weight=0.25, ce_weight=0.75),
)

train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='llm.LocalText',
        path='data/redpajama_sample/*.jsonl',
        tokenizer='models/Llama-2-7b-hf',
        window=2048,
    ),
)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=steps * micro_per_step)

optim_wrapper = dict(
    type='OptimWrapper',
    accumulative_counts=micro_per_step,
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup * micro_per_step),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=warmup * micro_per_step,
        end=steps * micro_per_step,
        T_max=(steps - warmup) * micro_per_step,
    ),
]

# WikiText-2 test perplexity (local parquet) at the evaluation ranks
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='llm.LocalText',
        path='data/wikitext-2-raw-v1/test-*.parquet',
        tokenizer='models/Llama-2-7b-hf',
        window=2048,
    ),
)
test_evaluator = [dict(type='llm.Perplexity'), dict(type='llm.CacheBytes')]
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=100 * micro_per_step, max_keep_ckpts=2
    ),
    logger=dict(type='LoggerHook', interval=micro_per_step),
)
custom_hooks = [dict(type='matryoshka_kv.SaveProjectionHook')]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
