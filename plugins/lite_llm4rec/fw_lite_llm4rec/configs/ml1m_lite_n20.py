# Lite-LLM4Rec on MovieLens-1M with histories of N = 20 items (the short-history variant).
_base_ = ['./ml1m_lite.py']
data = dict(max_len=20)
model = dict(data=data)
train_dataloader = dict(dataset=dict(data=data))
val_dataloader = dict(dataset=dict(data=data))
test_dataloader = dict(dataset=dict(data=data))
