# Real-scale TransMLA for 7B/8B GQA models (GPU, local checkpoints): calibration on WikiText-2 train
# (local parquet), bf16 model, then the official fine-tuning recipe. The model configs beside this
# folder set the checkpoint path and the FreqFold group size M.
max_iters = 1000
warmup = 30

model = dict(
    type='transmla.TransMLAModel',
    model='models/Llama-2-7b-hf',
    kv_rank=512,
    rope_dim=64,
    freqfold=8,
    calib_windows=128,
    calib_len=256,
    calib_text='data/wikitext-2-raw-v1/train-*.parquet',
    dtype='bfloat16',
    train='all',
)

train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='llm.LocalText',
        path='data/wikitext-2-raw-v1/train-*.parquet',
        tokenizer='models/Llama-2-7b-hf',
        window=4096,
    ),
)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)

# official script: lr 2e-5, cosine, 3% warmup, weight decay 0.01, bf16
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=warmup,
        end=max_iters,
        T_max=max_iters - warmup,
    ),
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500),
    logger=dict(type='LoggerHook', interval=10),
)
custom_hooks = [dict(type='transmla.SaveConvertedHook')]
log_processor = dict(by_epoch=False)

# `fw test transmla <config> <checkpoint>`: WikiText-2 test perplexity (local parquet, 2,048-token
# windows); each model's config sets the tokenizer
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='llm.LocalText',
        path='data/wikitext-2-raw-v1/test-*.parquet',
        tokenizer='models/Llama-2-7b-hf',
        window=2048,
    ),
)
test_evaluator = dict(type='llm.Perplexity')
test_cfg = dict(type='TestLoop')
