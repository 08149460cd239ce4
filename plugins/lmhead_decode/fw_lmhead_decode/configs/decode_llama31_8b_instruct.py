# Llama 3.1 8B Instruct, decoded exactly like decode_llama31_8b (checkpoint B of the paper's
# agreement statistic: over 75% of up-projection neurons keep their top token, Davies 2025 Sec. 4).
#   fw lmhead_decode compare <atlas of base> <atlas of instruct> --variant A
_base_ = ['./decode_llama31_8b.py']
decoder = dict(model='/data/models/Llama-3.1-8B-Instruct')
