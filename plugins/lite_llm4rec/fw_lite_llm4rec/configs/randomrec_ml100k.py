# RandomRec on MovieLens-100K: seeded uniform scores, the chance level (Recall@K = K / n).
#   fw lite_llm4rec evaluate randomrec_ml100k
_base_ = ['./_base_/ml100k.py']
model = dict(type='lite_llm4rec.RandomRec', data={{_base_.data}}, seed=0)
train_cfg = dict(max_epochs=1)
custom_hooks = []
