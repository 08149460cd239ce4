# Real scale (GPU, local checkpoint): models/Qwen2.5-7B, d_R=64, r_kv=512, FreqFold M=4; calibration
# WikiText-2
# train 128 x 256 (local parquet), bf16 model, float64 statistics. Convert and evaluate with:
#   fw transmla convert models/Qwen2.5-7B out/qwen25_7b_mla --kv-rank 512 --rope-dim 64 --freqfold 4
# \
#       --calib-tokens 32768 --calib-text 'data/wikitext-2-raw-v1/train-*.parquet' --dtype bfloat16
# Fine-tuning (stage E, _base_/transmla_7b_gpu.py) needs a multi-GPU launch (fw train transmla
# transmla_qwen25_7b --launcher pytorch).
_base_ = ['./_base_/transmla_7b_gpu.py']
model = dict(model='models/Qwen2.5-7B', freqfold=4)
train_dataloader = dict(dataset=dict(tokenizer='models/Qwen2.5-7B'))
test_dataloader = dict(dataset=dict(tokenizer='models/Qwen2.5-7B'))
