# Lite-LLM4Rec on MovieLens-1M with a fine-tuned ItemLLM: the batch's unique items are
# re-encoded with gradients (learning rate 1e-5; RecLLM and head 1e-3); E_txt is rebuilt from
# the tuned encoder before each evaluation.
_base_ = ['./ml1m_lite.py']
model = dict(item_llm=dict(train='finetune', lr=1e-5))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'item_llm.': dict(lr_mult=0.01)}))
