# Supervised cross-entropy on the 20 CIFAR-100 superclasses; the probe reads the 100 fine labels;
# fixed re-weighting head, kappa 1.2. SGD 0.1, momentum 0.9, wd 5e-4, batch 128, 200 epochs, cosine.
_base_ = ['./_base_/cifar_resnet18.py']
data_root = 'data'  # holds cifar-10-batches-py/, cifar-100-python/, MNIST/raw/
dataset = dict(type='projhead.CIFAR100Coarse', data_root=data_root)
train_dataloader = dict(batch_size=128, dataset=dict(dataset, split='pretrain'))
val_dataloader = dict(
    dataset=dict(type='projhead.ProbeSplits', dataset=dataset, fit='train', score='test')
)
test_dataloader = val_dataloader
model = dict(
    head=dict(type='projhead.FixedReweightHead', dim=512, kappa=1.2),
    num_classes=20,
    augment=dict(kind='crop_flip', pad=4),
)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4)
)
param_scheduler = [
    dict(
        type='CosineAnnealingLR', by_epoch=True, T_max=200, eta_min=0.0, convert_to_iter_based=True
    )
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=200)
