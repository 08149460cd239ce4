# The linear-network theory (spec §3, §10): 2-layer linear net, spectral contrastive loss,
# learned vs closed-form per-feature weights, plus the fixed reweighting head; PNG plots.
fw_base = []
task = 'theory'
theory = dict(n_layers=2, kappas=(1.0, 1.05, 1.1, 1.3), seeds=(0, 1, 2, 3, 4), plot=True)
