# Lite-LLM4Rec on MovieLens-100K, CPU default: frozen all-MiniLM-L6-v2 ItemLLM (item vectors
# encoded once into the ItemVectorCache), scratch pre-LN RecLLM d=64 L=2 h=2 p=0.2 over N=50
# item vectors, linear item projection head, full-softmax CE; Adam 1e-3, 128 windows per batch,
# <= 60 epochs, best validation NDCG@10 with patience 10.
#   fw train lite_llm4rec lite_llm4rec_ml100k
_base_ = ['./_base_/ml100k.py']
model = dict(
    type='lite_llm4rec.LiteLLM4Rec',
    data={{_base_.data}},
    item_llm=dict(
        type='lite_llm4rec.ItemLLM',
        path=None,
        pooling='mean',
        normalize=True,
        item_max_tokens=64,
        train='frozen',
        lr=1e-5,
    ),
    rec_llm=dict(
        type='lite_llm4rec.RecLLM',
        kind='scratch',
        path=None,
        layers=2,
        heads=2,
        hidden=64,
        dropout=0.2,
        attention='causal',
        readout='last',
        adapter='ln_linear',
    ),
    head=dict(type='lite_llm4rec.ItemProjectionHead', mode='linear'),
    loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
    cache=dict(type='lite_llm4rec.ItemVectorCache'),
)
