# CPU default: 25 fine-tuning steps (batch 2 x 128 tokens) of SmolLM2-135M-Instruct on stdlib
# source; seconds per step and the agreement it gives are in the plugin README.
_base_ = ['./_base_/finetune_smollm2.py']
