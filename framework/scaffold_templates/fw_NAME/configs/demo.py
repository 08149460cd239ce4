# Trains in seconds on a CPU: fw train ${name} demo
model = dict(
    type='${name}.Classifier',
    backbone=dict(type='${name}.MLPBackbone', in_dim=16, hidden=64, out_dim=32),
    head=dict(type='${name}.ProjectionHead', in_dim=32, hidden=32, out_dim=4),
    loss=dict(type='${name}.CrossEntropyLoss'),
)
data = dict(type='${name}.GaussianClusters', dim=16, num_classes=4, spread=2.0, seed=0)
train_dataloader = dict(batch_size=64, num_workers=0, collate_fn=dict(type='default_collate'),
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(data, size=2000, split='train'))
val_dataloader = dict(batch_size=256, num_workers=0, collate_fn=dict(type='default_collate'),
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(data, size=1000, split='val'))
test_dataloader = val_dataloader
val_evaluator = dict(type='${name}.Accuracy')
test_evaluator = val_evaluator
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=2)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
