# 100 fine-tuning steps (the longer run of the README's agreement table); also saves the model
# after 25 steps (work_dir/finetuned_iter25), so one run gives both checkpoints. Checkpoints every
# 25 steps, so `--resume` continues an interrupted run. Takes longer than the 10-minute default.
_base_ = ['./_base_/finetune_smollm2.py']
max_iters = 100
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=25, max_keep_ckpts=1)
)
custom_hooks = [dict(type='lmhead_decode.SaveFineTunedHook', subdir='finetuned', at_iters=[25])]
