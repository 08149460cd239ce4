"""Tiny SD built from configs: `fw train` (mmengine Runner) -> checkpoint with only the projector
-> `fw wiclp generate` through the stock StableDiffusionPipeline, with no download."""

import torch
from PIL import Image


def test_train_then_sample_on_cpu(tmp_path, monkeypatch):
    from framework import build_runner, load_config
    from fw_wiclp.generate import projector_from_checkpoint, run

    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    cfg = load_config(
        'wiclp',
        'wiclp_tiny_sd_cpu',
        work_dir=str(tmp_path / 'work'),
        cfg_options=[
            'train_cfg.max_iters=4',
            'default_hooks.checkpoint.interval=4',
            'train_dataloader.batch_size=4',
        ],
    )
    runner = build_runner(cfg)
    runner.train()
    ckpt = tmp_path / 'work' / 'iter_4.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert set(state) == {'projector.conv.weight', 'projector.conv.bias'}  # a few kB, not SD
    label, projector = projector_from_checkpoint(str(ckpt))
    assert label == 'WiCLP w=5' and projector.conv.weight.abs().sum() > 0  # it moved off zero

    paths = run(
        'wiclp_tiny_sd_cpu',
        'a red circle and a blue square',
        [str(ckpt)],
        str(tmp_path / 'png'),
        [0, 1],
        switch_off_t=-1,
        steps=3,
        compare=True,
    )
    grid = Image.open(paths[-1])
    assert paths[-1].endswith('compare.png') and grid.width > 2 * 256
    base = Image.open(tmp_path / 'png' / 'no_projection_seed0.png')
    wiclp = Image.open(tmp_path / 'png' / 'wiclp_w5_seed0.png')
    assert base.size == wiclp.size == (256, 256)
