# SimCLR (NT-Xent, tau 0.5) on MNIST-on-CIFAR-10 with DropDigit (p 0.75, s 0.7); the probe reads the
# digit; fixed re-weighting head, kappa 1.05. Adam 1e-3, wd 1e-6, batch 512, 400 epochs (10 warm-
# up), cosine; p_drop in {0, 0.25, 0.5, 0.75}.
_base_ = ['./_base_/cifar_resnet18.py']
data_root = 'data'  # holds cifar-10-batches-py/, cifar-100-python/, MNIST/raw/
data_root = 'data'  # holds cifar-10-batches-py/, cifar-100-python/, MNIST/raw/
dataset = dict(type='projhead.MNISTOnCIFAR10', data_root=data_root, s=0.7)
train_dataloader = dict(batch_size=512, dataset=dict(dataset, split='pretrain'))
val_dataloader = dict(
    dataset=dict(type='projhead.ProbeSplits', dataset=dataset, fit='train', score='test')
)
test_dataloader = val_dataloader
model = dict(
    head=dict(type='projhead.FixedReweightHead', dim=512, kappa=1.05),
    loss=dict(type='projhead.NTXentLoss', temperature=0.5),
    augment=dict(kind='simclr'),
    p_drop=0.75,
)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-6))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True,
    ),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=10,
        end=400,
        T_max=390,
        eta_min=0.0,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(by_epoch=True, max_epochs=400, val_interval=400)
