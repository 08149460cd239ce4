# PopRec on MovieLens-100K: items scored by their train-split interaction counts (no training).
#   fw lite_llm4rec evaluate poprec_ml100k
_base_ = ['./_base_/ml100k.py']
model = dict(type='lite_llm4rec.PopRec', data={{_base_.data}})
train_cfg = dict(max_epochs=1)
custom_hooks = []
