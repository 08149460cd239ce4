# Real scale (GPU, local checkpoint): models/Llama-2-7b-hf, d_R=64, r_kv=512, FreqFold M=8;
# calibration WikiText-2
# train 128 x 256 (local parquet), bf16 model, float64 statistics. Convert and evaluate with:
#   fw transmla convert models/Llama-2-7b-hf out/llama2_7b_mla --kv-rank 512 --rope-dim 64
# --freqfold 8 \
#       --calib-tokens 32768 --calib-text 'data/wikitext-2-raw-v1/train-*.parquet' --dtype bfloat16
# Fine-tuning (stage E, _base_/transmla_7b_gpu.py) needs a multi-GPU launch (fw train transmla
# transmla_llama2_7b --launcher pytorch).
_base_ = ['./_base_/transmla_7b_gpu.py']
model = dict(model='models/Llama-2-7b-hf', freqfold=8)
train_dataloader = dict(dataset=dict(tokenizer='models/Llama-2-7b-hf'))
test_dataloader = dict(dataset=dict(tokenizer='models/Llama-2-7b-hf'))
