# Shared settings of the CPU distribution-shift configs (SpuriousBackgroundMNIST5k, SmallConvNet).
# The background colour equals the label with probability rho_train in the pretrain and probe
# splits and is drawn independently of the label at test (rho_test = 0.1 = uniform); see
# fw_projhead/data.py for the construction.
fw_base = []          # own engine (fw_projhead.engine), not mmengine's Runner
task = 'pretrain'
dataset = dict(type='projhead.SpuriousBackgroundMNIST5k', rho_train=0.8, rho_test=0.1,
               n_pretrain=3000, n_probe=1000, n_test=1000, data_seed=0, downsample=2)
backbone = dict(type='projhead.SmallConvNet', in_channels=3, widths=(16, 32, 64))
# head variants; choose with --cfg-options head=mlp|fixed|none
heads = dict(
    mlp=dict(type='projhead.MLPHead', in_dim=64, hidden_dim=64, out_dim=32, n_layers=2),
    fixed=dict(type='projhead.FixedReweightHead', dim=64, kappa=1.1),
    none=dict(type='projhead.IdentityHead'),
)
head = 'mlp'
augment = dict(type='translate', max_shift=2)
optimizer = dict(type='Adam', lr=2e-3, weight_decay=1e-6)
epochs = 8
batch_size = 128
probe = dict(label_fractions=(1.0, 0.1), weight_decays=(1e-4,), standardise=True,
             method='lbfgs')
seeds = [0, 1, 2]
device = 'auto'
threads = 1
