# SupCon (tau 0.5) on the 20 CIFAR-100 superclasses; the probe reads the 100 fine labels; no head (z
# = h). SGD 0.1, momentum 0.9, wd 1e-6, batch 512, 400 epochs (10 warm-up), cosine.
_base_ = ['./_base_/cifar_resnet18.py']
data_root = 'data'  # holds cifar-10-batches-py/, cifar-100-python/, MNIST/raw/
dataset = dict(type='projhead.CIFAR100Coarse', data_root=data_root)
train_dataloader = dict(batch_size=512, dataset=dict(dataset, split='pretrain'))
val_dataloader = dict(
    dataset=dict(type='projhead.ProbeSplits', dataset=dataset, fit='train', score='test')
)
test_dataloader = val_dataloader
model = dict(
    head=None, loss=dict(type='projhead.SupConLoss', temperature=0.5), augment=dict(kind='simclr')
)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-6)
)
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
