# The CPU distribution-shift task: MNIST-5k digits on a background colour that equals the label with
# probability rho_train in the pretrain and probe splits and is independent of it at test
# (rho_test 0.1, i.e. uniform); ColourDigitConvNet 16-32-64 (h = 64-d) on 14x14 images, random
# +-2 px shifts, Adam 2e-3, cosine, 8 epochs of batch 128. At the end the same L2-regularised
# logistic probe (L-BFGS, wd 1e-4, features standardised with the probe split's statistics) is
# fitted on h (pre) and z (post) of the frozen encoder on the probe split (all labels and 10 %)
# and scored on the decorrelated test split.
data = dict(
    type='projhead.SpuriousBackgroundMNIST5k',
    rho_train=0.8,
    rho_test=0.1,
    n_pretrain=3000,
    n_probe=1000,
    n_test=1000,
    data_seed=0,
    downsample=2,
)
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(data, split='pretrain'),
)
val_dataloader = dict(
    batch_size=500,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='projhead.ProbeSplits', dataset=data, fit='probe', score='test'),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type='projhead.PrePostLinearProbe',
    label_fractions=(1.0, 0.1),
    weight_decays=(1e-4,),
    standardise=True,
    method='lbfgs',
    representations=('pre', 'post'),
)
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
train_cfg = dict(by_epoch=True, max_epochs=8, val_interval=8)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3, weight_decay=1e-6))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=8, eta_min=0.0, convert_to_iter_based=True)
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=8, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=23),
)
randomness = dict(seed=0)
seeds = [0, 1, 2]  # the seeds of the README table: `fw projhead bench` runs them
backbone = dict(type='projhead.ColourDigitConvNet', in_channels=3, widths=(16, 32, 64))
mlp_head = dict(type='projhead.MLPHead', in_dim=64, hidden_dim=64, out_dim=32, n_layers=2)
fixed_head = dict(type='projhead.FixedReweightHead', dim=64, kappa=1.1)
model = dict(
    type='projhead.EncoderWithHead', backbone=backbone, augment=dict(kind='translate', max_shift=2)
)
