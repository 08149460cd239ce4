# Supervised CE on the 20 CIFAR-100 superclasses; probe the 100 fine labels on h and z.
# Spec §5 [S]: SGD 0.1, momentum 0.9, wd 5e-4, cosine, batch 128, 200 epochs.
_base_ = ['./_base_/cifar_resnet18.py']
head = 'none'
method = 'ce'
loss = None
dataset = dict(type='projhead.CIFAR100Coarse')
splits = dict(pretrain='pretrain', probe='train', test='test')
augment = dict(type='crop_flip', pad=4)
optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4)
warmup_epochs = 0
epochs = 200
batch_size = 128
