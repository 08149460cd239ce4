# SupCon (tau 0.5) on the 20 CIFAR-100 superclasses; probe the 100 fine labels on h and z.
# Spec §5 [S]: SGD 0.1, momentum 0.9, wd 1e-6, batch 512, 400 epochs.
_base_ = ['./_base_/cifar_resnet18.py']
heads = dict(fixed=dict(type='projhead.FixedReweightHead', dim=512, kappa=1.5))
head = 'fixed'
method = 'supcon'
loss = dict(type='projhead.SupConLoss', tau=0.5)
dataset = dict(type='projhead.CIFAR100Coarse')
splits = dict(pretrain='pretrain', probe='train', test='test')
augment = dict(type='simclr')
optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-6)
epochs = 400
batch_size = 512
