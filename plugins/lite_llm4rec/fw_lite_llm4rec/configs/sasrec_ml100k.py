# SASRec baseline on MovieLens-100K (CPU default): item-ID embeddings d=64, L=2, h=2, p=0.2,
# N=50, tied scores, full-softmax CE at every position; Adam 1e-3, batch 128, <= 60 epochs,
# best validation NDCG@10 with patience 10.   fw train lite_llm4rec sasrec_ml100k
_base_ = ['./_base_/ml100k.py']
model = dict(
    type='lite_llm4rec.SASRec',
    data={{_base_.data}},
    hidden=64,
    layers=2,
    heads=2,
    dropout=0.2,
    loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
)
