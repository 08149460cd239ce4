# FlatHead ablation on MovieLens-100K (CPU default): GenRec's encoder (all-MiniLM-L6-v2, 2
# layers) over the same flat history text, masked-mean readout, linear item projection head,
# full-softmax CE; the last 10 train targets per user, AdamW 1e-4 (encoder) / 1e-3 (head),
# batch 32, 2 epochs, last checkpoint.   fw train lite_llm4rec flathead_ml100k
_base_ = ['./_base_/ml100k.py']
model = dict(
    type='lite_llm4rec.FlatHead',
    data={{_base_.data}},
    path=None,
    layers=2,
    history_items=5,
    max_source_tokens=256,
    head=dict(type='lite_llm4rec.ItemProjectionHead', mode='linear'),
    loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
)
train_dataloader = dict(batch_size=32, dataset=dict(sample_mode='prefixes', targets_per_user=10))
train_cfg = dict(max_epochs=2, val_interval=1)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'encoder.': dict(lr_mult=0.1)}),
)
custom_hooks = []
