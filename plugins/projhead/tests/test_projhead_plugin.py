"""Plugin packaging: manifest entries import, configs load, the theory command runs and plots."""
import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import fw_projhead
from fw_projhead.run import load_plain_config

PKG = Path(fw_projhead.__file__).parent


def test_manifest_components_import():
    m = json.loads((PKG / 'manifest.json').read_text())
    assert m['name'] == 'projhead'
    names = {c['name'] for c in m['components']}
    for required in ('EncoderWithHead', 'MLPHead', 'FixedReweightHead', 'IdentityHead',
                     'LinearHead', 'LinearNet', 'ResNet18CIFAR', 'SmallConvNet',
                     'SpectralContrastiveLoss', 'NTXentLoss', 'SupConLoss', 'FeatureSynth',
                     'SpuriousFeatureSynth', 'CIFAR100Coarse', 'MNISTOnCIFAR10',
                     'LayerFeatureWeights', 'PrePostLinearProbe', 'WorstGroupAccuracy'):
        assert required in names
    for entry in m['components'] + m['commands']:
        mod, name = entry['import'].split(':')
        assert hasattr(importlib.import_module(mod), name), entry['import']


def test_configs_load_and_name_their_seeds():
    configs = sorted(p.stem for p in (PKG / 'configs').glob('*.py'))
    for name in ('theory_linear', 'theory_relu', 'supcon_mnist5k_shift', 'ce_mnist5k_shift',
                 'ssl_mnist_on_cifar10_mlp', 'sl_cifar100coarse_fixed1.2',
                 'scl_cifar100coarse_fixed1.5'):
        assert name in configs
    for name in configs:
        cfg = load_plain_config(str(PKG / 'configs' / f'{name}.py'))
        assert cfg['task'] in ('theory', 'theory_relu', 'pretrain') and cfg['fw_base'] == []
        if cfg['task'] == 'pretrain':
            assert cfg['head'] in cfg['heads'] and len(cfg['seeds']) >= 3


def test_configs_load_with_mmengine():
    Config = pytest.importorskip('mmengine.config').Config
    cfg = Config.fromfile(str(PKG / 'configs' / 'sl_cifar100coarse_fixed1.2.py'))
    assert cfg.heads.fixed.kappa == 1.2 and 'mlp' in cfg.heads and cfg.method == 'ce'


def test_theory_command_prints_table_and_plots(tmp_path):
    from fw_projhead.commands import theory
    res = CliRunner().invoke(theory, ['--seeds', '1', '--steps', '4000', '--kappa', '1.1',
                                      '--out', str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert 'measured predicted' in res.output and 'fixed reweighting head' in res.output
    pngs = sorted(p.name for p in tmp_path.glob('*.png'))
    assert pngs == ['theory_fixed_head.png', 'theory_learning_L2.png', 'theory_weights_L2.png']
    data = json.loads((tmp_path / 'theory.json').read_text())
    assert len(data['weights_mean']) == 2 and len(data['predicted'][0]) == 10
