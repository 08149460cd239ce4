# FlatHead on MovieLens-1M (GPU): GenRec's 4-layer encoder over the flat history text of
# N_g = 20 items, mean readout, linear item projection head, full-softmax CE.
_base_ = ['./_base_/ml1m.py']
model = dict(
    type='lite_llm4rec.FlatHead',
    data={{_base_.data}},
    path=None,
    layers=4,
    history_items=20,
    max_source_tokens=256,
    head=dict(type='lite_llm4rec.ItemProjectionHead', mode='linear'),
    loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
)
train_dataloader = dict(batch_size=64, dataset=dict(sample_mode='prefixes', targets_per_user=None))
train_cfg = dict(max_epochs=20, val_interval=1)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'encoder.': dict(lr_mult=0.1)}),
)
