# Lite-LLM4Rec on Amazon Beauty in RecBole atomic format (GPU): a local folder holding
# Amazon_Beauty.inter and Amazon_Beauty.item (title, brand, categories), 5-core filtered,
# item text "{title}. Brand: {brand}. Categories: {genres}." (categories read as genres).
_base_ = ['./ml1m_lite.py']
data = dict(
    dataset_path='data/Amazon_Beauty',
    format='recbole',
    name='Amazon_Beauty',
    item_text_template='{title}. Brand: {brand}. Categories: {genres}.',
    min_user_inter=5,
    min_item_inter=5,
    min_rating=None,
    max_len=50,
)
model = dict(data=data)
train_dataloader = dict(dataset=dict(data=data))
val_dataloader = dict(dataset=dict(data=data))
test_dataloader = dict(dataset=dict(data=data))
