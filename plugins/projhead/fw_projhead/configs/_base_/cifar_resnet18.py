# GPU settings shared by the CIFAR configs (spec §5, §8). Data in torchvision's on-disk format
# under data_root (cifar-10-batches-py/, cifar-100-python/, MNIST/raw/); nothing downloads.
fw_base = []
task = 'pretrain'
data_root = 'data'
backbone = dict(type='projhead.ResNet18CIFAR')
heads = dict(
    mlp=dict(type='projhead.MLPHead', in_dim=512, hidden_dim=512, out_dim=128, n_layers=2),
    none=dict(type='projhead.IdentityHead'),
)
head = 'mlp'
device = 'auto'
amp = True
warmup_epochs = 10
# the spec §5 probe: SGD lr 0.1, momentum 0.9, wd 1e-4, batch 512, 50 epochs, on pre and post
probe = dict(label_fractions=(0.01, 0.1, 1.0), weight_decays=(1e-4,), standardise=True,
             method='sgd', epochs=50, lr=0.1, batch_size=512, head_layers=True)
seeds = [0, 1, 2]
