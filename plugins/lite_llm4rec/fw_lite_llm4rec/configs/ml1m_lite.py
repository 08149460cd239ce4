# Lite-LLM4Rec on MovieLens-1M (GPU): frozen all-MiniLM-L6-v2 ItemLLM (cached item vectors),
# RecLLM = the first 4 layers of the same pretrained encoder fed inputs_embeds (width 384),
# N = 50, linear item projection head, full-softmax CE, Adam 1e-3.
#   fw train lite_llm4rec ml1m_lite --cfg-options data.dataset_path=... (or edit the path)
_base_ = ['./_base_/ml1m.py']
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
        kind='hf',
        path=None,
        layers=4,
        dropout=0.1,
        attention='causal',
        readout='last',
        adapter='ln_linear',
    ),
    head=dict(type='lite_llm4rec.ItemProjectionHead', mode='linear'),
    loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
    cache=dict(type='lite_llm4rec.ItemVectorCache'),
)
