"""End to end on a small scale: pretraining lowers the loss, the frozen probe beats chance, the
probe does not touch the encoder, the ReLU net loses the sign feature between h and z."""
import numpy as np
import pytest
import torch

from fw_projhead.engine import pretrain_and_probe
from fw_projhead.run import config_path, load_plain_config
from fw_projhead.theory_relu import run_relu


def _cfg(method, head, images, labels):
    cfg = load_plain_config(config_path(f'{method}_mnist5k_shift'))
    cfg.update(head=head, epochs=3, batch_size=64, threads=1, device='cpu')
    cfg['dataset'] = dict(cfg['dataset'], n_pretrain=384, n_probe=300, n_test=300, rho_train=0.1,
                          images=images, labels=labels)
    cfg['backbone'] = dict(cfg['backbone'], widths=(8, 16, 32))
    cfg['heads'] = dict(cfg['heads'], mlp=dict(cfg['heads']['mlp'], in_dim=32),
                        fixed=dict(cfg['heads']['fixed'], dim=32))
    cfg['probe'] = dict(cfg['probe'], label_fractions=(1.0,))
    return cfg


def _digits():
    """Easy synthetic 'digits': class c is a bright bar at row 2c (no colour shortcut, rho 0.1)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 1000)
    img = (rng.random((1000, 28, 28)) * 60).astype(np.uint8)
    for i, c in enumerate(y):
        img[i, 2 * c + 4:2 * c + 6, 4:24] = 255
    return img, y


@pytest.mark.parametrize('method,head', [('ce', 'mlp'), ('supcon', 'fixed')])
def test_pretrain_and_probe(method, head, tmp_path):
    torch.set_num_threads(1)
    img, y = _digits()
    r = pretrain_and_probe(_cfg(method, head, img, y), seed=0, work_dir=str(tmp_path))
    assert r['train_loss'][-1] < r['train_loss'][0]
    for rep in ('pre', 'post'):
        assert r['probe'][f'{rep}/frac1/wd0.0001']['acc'] > 0.5          # chance is 0.1
    assert (tmp_path / 'metrics.json').is_file() and (tmp_path / 'model.pth').is_file()
    if method == 'ce':
        assert 0.0 <= r['classifier']['acc'] <= 1.0          # end-to-end classifier also scored
    else:
        # fixed head + standardised probe: D only rescales coordinates, so pre and post agree
        assert abs(r['probe']['pre/frac1/wd0.0001']['acc']
                   - r['probe']['post/frac1/wd0.0001']['acc']) < 0.02


def test_relu_feature_present_in_lower_layer_absent_in_higher():
    torch.set_num_threads(1)
    r = run_relu(seed=0, steps=1500, batch=256, lr=1e-2)
    pre, post = r['pre_weights'], r['post_weights']
    assert pre[2] > 0.5 and post[2] < 0.1 * pre[2]        # sign feature: in h, ~gone from z
    assert post[2] < 0.2 * max(post)
    assert r['sign_probe_pre'] > 0.8 and abs(r['sign_probe_post'] - 0.5) < 0.1
    assert r['abs_r2_post'] > 0.8                          # z keeps the invariant |x_2|
