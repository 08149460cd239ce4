# MovieLens-1M from a local folder holding ratings.dat and movies.dat (ISO-8859-1), for a GPU.
# On load: 6,040 users, 3,706 rated items, 1,000,209 ratings (`fw lite_llm4rec stats
# --dataset-path data/ml-1m --format ml_dat`). N = 50 (an N = 20 variant exists), K in 5/10/20,
# selection by validation NDCG@10 with patience 10, <= 200 epochs, bf16 autocast (CE in fp32).
_base_ = ['./ml100k.py']
data = dict(
    dataset_path='data/ml-1m',
    format='ml_dat',
    name=None,
    item_text_template='{title} ({year}). Genres: {genres}.',
    min_user_inter=0,
    min_item_inter=0,
    min_rating=None,
    max_len=50,
)
train_dataloader = dict(batch_size=256, num_workers=2, dataset=dict(data=data))
val_dataloader = dict(num_workers=2, dataset=dict(data=data))
test_dataloader = dict(num_workers=2, dataset=dict(data=data))
train_cfg = dict(max_epochs=200, val_interval=1)
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', optimizer=dict(type='Adam', lr=1e-3))
