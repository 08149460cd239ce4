# SimCLR (NT-Xent tau 0.5) on MNIST-on-CIFAR-10 with DropDigit; probe the digit on h and z.
# Spec §5/§8 [S]: Adam 1e-3, wd 1e-6, batch 512, 400 epochs; p_drop in {0, 0.25, 0.5, 0.75}, s = 0.7.
_base_ = ['./_base_/cifar_resnet18.py']
head = 'mlp'
method = 'simclr'
dataset = dict(type='projhead.MNISTOnCIFAR10', s=0.7)
splits = dict(pretrain='pretrain', probe='train', test='test')
p_drop = 0.75
loss = dict(type='projhead.NTXentLoss', tau=0.5)
augment = dict(type='simclr')
optimizer = dict(type='Adam', lr=1e-3, weight_decay=1e-6)
epochs = 400
batch_size = 512
