# GenRec on MovieLens-1M (GPU): all-MiniLM-L6-v2 encoder-decoder (4 + 4 layers, word
# embeddings trained), N_g = 20 history items, every train target (prefixes), AdamW 1e-4,
# batch 64, 10 epochs; evaluation by trie-constrained beam search with 20 beams on all users.
_base_ = ['./_base_/ml1m.py']
model = dict(
    type='lite_llm4rec.GenRec',
    data={{_base_.data}},
    path=None,
    layers=4,
    history_items=20,
    max_source_tokens=256,
    num_beams=20,
    length_penalty=0.0,
    freeze_embeddings=False,
)
train_dataloader = dict(batch_size=64, dataset=dict(sample_mode='prefixes', targets_per_user=None))
val_dataloader = dict(batch_size=16, dataset=dict(max_users=1000, seed=0))
test_dataloader = dict(batch_size=16)
train_cfg = dict(max_epochs=10, val_interval=5)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True,
    )
]
custom_hooks = []
