# A common schedule: SGD with momentum and cosine decay over train_cfg.max_epochs (per epoch).
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4)
)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=100, eta_min=0.0)]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=10)
