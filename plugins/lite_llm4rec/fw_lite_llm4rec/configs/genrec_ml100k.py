# GenRec baseline on MovieLens-100K (CPU default): encoder-decoder from two copies of
# all-MiniLM-L6-v2 cut to 2 + 2 layers (pretrained word embeddings kept fixed on a CPU); source
# "History: s_1; ...; s_5. Next:", target the next item's "{title} ({year})" tokens + [SEP];
# the last 5 train targets per user; AdamW 1e-4, wd 0.01, 15-step linear warm-up, batch 32,
# 4 epochs, the checkpoint with the best validation NDCG@10 kept. Evaluation: trie-constrained
# beam search, 20 beams = 20 returned items, length_penalty 0; validation on a seeded subset of
# 200 users (beam search: about 0.15 s per user on 2 CPU threads), `fw test` on all 943 users.
# About 7 min on 2 idle cores (4 epochs of 148 steps at 0.5 s, four 30 s validations).
#   fw train lite_llm4rec genrec_ml100k
_base_ = ['./_base_/ml100k.py']
model = dict(
    type='lite_llm4rec.GenRec',
    data={{_base_.data}},
    path=None,
    layers=2,
    history_items=5,
    max_source_tokens=256,
    num_beams=20,
    length_penalty=0.0,
    freeze_embeddings=True,
)
train_dataloader = dict(batch_size=32, dataset=dict(sample_mode='prefixes', targets_per_user=5))
val_dataloader = dict(batch_size=8, dataset=dict(max_users=200, seed=0))
test_dataloader = dict(batch_size=8)
train_cfg = dict(max_epochs=4, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=15)]
custom_hooks = []
