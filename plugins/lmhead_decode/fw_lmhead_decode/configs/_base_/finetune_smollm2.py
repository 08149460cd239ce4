# Checkpoint B for the agreement statistic (Davies 2025, Sec. 4 compares Llama 3.1 8B with its
# Instruct fine-tune): SmolLM2-135M-Instruct fine-tuned on a different text, Python standard-
# library source (argparse, collections, json, ... as 128-token windows), all parameters (the
# tied LM head too), AdamW lr 1e-4, batch 2 x 128 tokens (sized for a shared 2-core CPU). The
# model is saved to work_dir/finetuned for
# `fw lmhead_decode compare smollm2 <work_dir>/finetuned`.
max_iters = 25

model = dict(type='lmhead_decode.FineTuneLM', model='smollm2', dtype='float32', num_threads=1)

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='llm.StdlibSourceText', tokenizer='smollm2', window=128),
)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.0), clip_grad=dict(max_norm=1.0)
)

# `fw test`: perplexity on the original domain (pydoc held-out topics, 8 windows x 256 tokens)
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

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=5),
)
custom_hooks = [dict(type='lmhead_decode.SaveFineTunedHook', subdir='finetuned')]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
