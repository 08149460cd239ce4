# GPU settings shared by the CIFAR configs. Data in torchvision's on-disk format under data_root
# (cifar-10-batches-py/, cifar-100-python/, MNIST/raw/); nothing downloads. ResNet-18 with the CIFAR
# stem (h = 512-d); the paper's probe at the end: SGD lr 0.1, momentum 0.9, wd 1e-4, batch 512,
# 50 epochs, on h (pre), z (post) and the head's hidden layer, with 1, 10 and 100 % of the labels.
# Each config sets data_root (its datasets read it); for bf16 on a GPU use
# --cfg-options optim_wrapper.type=AmpOptimWrapper.

train_dataloader = dict(
    batch_size=512,
    num_workers=8,
    drop_last=True,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
)
val_dataloader = dict(
    batch_size=1024,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type='projhead.PrePostLinearProbe',
    label_fractions=(0.01, 0.1, 1.0),
    weight_decays=(1e-4,),
    standardise=True,
    method='sgd',
    epochs=50,
    lr=0.1,
    batch_size=512,
)
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=50),
)
env_cfg = dict(cudnn_benchmark=True)
randomness = dict(seed=0)
seeds = [0, 1, 2]
mlp_head = dict(type='projhead.MLPHead', in_dim=512, hidden_dim=512, out_dim=128, n_layers=2)
model = dict(
    type='projhead.EncoderWithHead',
    backbone=dict(type='projhead.ResNet18CIFAR'),
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
)
