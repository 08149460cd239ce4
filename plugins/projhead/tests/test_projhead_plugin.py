"""Plugin packaging: every config loads through fw and builds its model, the theory command runs
and writes readable figures (the manifest is checked by the core contract test)."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import fw_projhead

PKG = Path(fw_projhead.__file__).parent
CONFIGS = sorted(p.stem for p in (PKG / 'configs').glob('*.py'))


@pytest.mark.parametrize('name', CONFIGS)
def test_configs_load_and_build_their_model(name):
    from framework import MODELS, load_config

    cfg = load_config('projhead', name)
    model = MODELS.build(cfg.model)
    assert cfg.train_cfg.max_epochs == cfg.train_cfg.val_interval  # the probe runs at the end
    assert len(cfg.seeds) >= 3 and cfg.val_evaluator.type == 'projhead.PrePostLinearProbe'
    size = 32 if 'cifar' in name else 14
    with torch.no_grad():
        out = model.eval()(torch.rand(2, 3, size, size), mode='tensor')
    assert out['feats'].shape[1] == (512 if 'cifar' in name else 64)
    if name.endswith('_none'):
        assert torch.equal(out['feats'], out['z'])


def test_theory_command_prints_table_and_plots(tmp_path):
    from fw_projhead.commands import theory

    res = CliRunner().invoke(
        theory, ['--seeds', '1', '--steps', '4000', '--kappa', '1.1', '--out', str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert 'measured predicted' in res.output and 'fixed reweighting head' in res.output
    pngs = sorted(p.name for p in tmp_path.glob('*.png'))
    assert pngs == ['theory_fixed_head.png', 'theory_learning_L2.png', 'theory_weights_L2.png']
    data = json.loads((tmp_path / 'theory.json').read_text())
    assert len(data['weights_mean']) == 2 and len(data['predicted'][0]) == 10
