# Mistral-7B-v0.3 (32 layers, 8 KV heads of dim 128 shared by 32 query heads: 512 rank slots,
# rank step 16), GPU, local checkpoint at models/Mistral-7B-v0.3. The projections are per KV head
# (GQA: the 4 query heads of a group share U_K, U_V). Search / eval as in mkv_llama2_7b.py.
_base_ = ['./_base_/mkv_7b_gpu.py']
model = dict(model='models/Mistral-7B-v0.3')
train_dataloader = dict(dataset=dict(tokenizer='models/Mistral-7B-v0.3'))
test_dataloader = dict(dataset=dict(tokenizer='models/Mistral-7B-v0.3'))
