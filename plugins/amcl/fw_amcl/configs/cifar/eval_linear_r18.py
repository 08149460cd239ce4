# Offline frozen linear probe on a trained ResNet-18 (the paper's linear evaluation), GPU:
#   fw test amcl eval_linear_r18 work_dirs/amcl/simclr_amcl_r18_cifar10/epoch_1000.pth
# Backbone frozen (features from predict mode: eval(), no_grad), nn.Linear(512, classes), SGD lr 0.1,
# momentum 0.9, wd 0, cosine, 100 epochs, batch 512, no augmentation. Only backbone.* weights matter: the
# heads of another method's checkpoint are reported as mismatched and ignored. For CIFAR-100 pass
# --cfg-options test_dataloader.dataset.type=amcl.CIFAR100.
_base_ = ['../_base_/cifar_r18.py']
model = dict(
    type='amcl.SimCLR',
    num_heads=1,
    amcl=False,
    backbone=dict(type='amcl.ResNet18CIFAR'),
    neck=dict(hidden=512, out_dim=128),
    augment=dict(type='amcl.AugFamily', spec='acde', size=32),
)
test_dataloader = dict(
    batch_size=1024,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='amcl.CIFAR10', data_root={{_base_.data_root}}, split='all'),
)
test_evaluator = [
    dict(type='amcl.LinearProbe', epochs=100, lr=0.1, batch_size=512, standardize=False),
    dict(type='amcl.WeightedKNN', k=200, t=0.1),
]
test_cfg = dict(type='TestLoop')
