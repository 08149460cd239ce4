# SASRec on MovieLens-1M (GPU): d = 64, L = 2, h = 2, p = 0.2, N = 50, full-softmax CE.
_base_ = ['./_base_/ml1m.py']
model = dict(
    type='lite_llm4rec.SASRec',
    data={{_base_.data}},
    hidden=64,
    layers=2,
    heads=2,
    dropout=0.2,
    loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
)
