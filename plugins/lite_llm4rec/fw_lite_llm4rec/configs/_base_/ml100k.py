# MovieLens-100K read from the installed recbole 1.2.1 package files (recbole is never imported):
# implicit feedback (every rating counts), leave-one-out split, histories of N = 50 items.
# Selection: best validation NDCG@10 (full ranking over all items, no history masking,
# pessimistic ties), patience 10; the test split is reported with `fw test`.
data = dict(
    dataset_path=None,
    format='recbole',
    name=None,
    item_text_template='{title} ({year}). Genres: {genres}.',
    min_user_inter=0,
    min_item_inter=0,
    min_rating=None,
    max_len=50,
)
eval_cfg = dict(topk=[5, 10, 20], exclude_seen=False, tie_policy='pessimistic')

train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='lite_llm4rec.SeqRecTrainData', data=data, sample_mode='windows'),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='lite_llm4rec.SeqRecEvalData', data=data, split='valid', max_users=None),
)
test_dataloader = dict(
    batch_size=256,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='lite_llm4rec.SeqRecEvalData', data=data, split='test', max_users=None),
)
val_evaluator = dict(type='lite_llm4rec.RankingMetric', **eval_cfg)
test_evaluator = val_evaluator

train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=1,
        save_last=True,
        save_best='rec/NDCG@10',
        rule='greater',
    ),
)
# min_delta 0: any improvement of the validation NDCG@10 resets the patience (mmengine's default
# min_delta of 0.1 would stop every run after `patience` epochs).
custom_hooks = [
    dict(
        type='EarlyStoppingHook', monitor='rec/NDCG@10', rule='greater', min_delta=0.0, patience=10
    )
]
