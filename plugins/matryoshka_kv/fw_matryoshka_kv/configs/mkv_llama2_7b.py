# LLaMA-2-7B (32 layers, 32 KV heads of dim 128: 2,048 rank slots, rank step 16), GPU, local
# checkpoint at models/Llama-2-7b-hf. After training, search and evaluate at budgets 0.5 / 0.375 /
# 0.25 (paper Table 1 setting):
#   fw matryoshka_kv search mkv_llama2_7b \
#       --checkpoint work_dirs/matryoshka_kv/mkv_llama2_7b/projection.pth \
#       --budget 0.5,0.375,0.25 --rounds exact --windows 8 --window-len 512
#   fw matryoshka_kv eval mkv_llama2_7b --checkpoint ... --ranks uniform:64,ranks_0.5.json \
#       --text 'data/wikitext-2-raw-v1/test-*.parquet' --windows 0 --window-len 2048
_base_ = ['./_base_/mkv_7b_gpu.py']
model = dict(model='models/Llama-2-7b-hf')
train_dataloader = dict(dataset=dict(tokenizer='models/Llama-2-7b-hf'))
test_dataloader = dict(dataset=dict(tokenizer='models/Llama-2-7b-hf'))
