"""The real-scale path on a local diffusers folder: a tiny SD saved in SD's layout (unet/, vae/,
text_encoder/, tokenizer/, scheduler/) is loaded by an SD 1.4 config, trained and sampled."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from framework import FwError


@pytest.fixture(scope='module')
def sd_folder(tmp_path_factory):
    from transformers import CLIPTokenizer

    from fw_wiclp.diffusion import TinyStableDiffusion

    root = tmp_path_factory.mktemp('sd')
    parts = TinyStableDiffusion(seed=0, embed_dim=32, sample_size=16, max_length=16)
    parts.unet.save_pretrained(root / 'unet')
    parts.vae.save_pretrained(root / 'vae')
    parts.text_encoder.save_pretrained(root / 'text_encoder')
    parts.noise_scheduler.save_pretrained(root / 'scheduler')
    letters = 'abcdefghijklmnopqrstuvwxyz'
    vocab = {c: i for i, c in enumerate(letters)}
    vocab.update({c + '</w>': 26 + i for i, c in enumerate(letters)})
    for w in ('a</w>', 'red</w>', 'blue</w>', 'and</w>', '<|startoftext|>', '<|endoftext|>'):
        vocab.setdefault(w, len(vocab))
    (root / 'vocab.json').write_text(json.dumps(vocab))
    (root / 'merges.txt').write_text('#version: 0.2\n')
    CLIPTokenizer(
        str(root / 'vocab.json'), str(root / 'merges.txt'), model_max_length=16
    ).save_pretrained(root / 'tokenizer')
    return root


@pytest.fixture(scope='module')
def pairs_json(tmp_path_factory):
    import random

    from fw_wiclp.shapes import render

    root = tmp_path_factory.mktemp('pairs')
    rows = []
    for i, objs in enumerate(
        [[('red', 'circle'), ('blue', 'square')], [('blue', 'circle'), ('red', 'square')]]
    ):
        Image.fromarray(render(objs, 32, random.Random(i))).save(root / f'{i}.png')
        rows.append(dict(image=f'{i}.png', prompt=' and '.join(f'a {c} {s}' for c, s in objs)))
    (root / 'pairs.json').write_text(json.dumps(rows))
    return root / 'pairs.json'


def test_missing_folder_is_one_clear_error(tmp_path):
    from fw_wiclp.diffusion import LocalStableDiffusion

    with pytest.raises(FwError, match='missing unet/, vae/'):
        LocalStableDiffusion(str(tmp_path))


def test_sd14_config_trains_and_samples_from_a_local_folder(sd_folder, pairs_json, tmp_path):
    from framework import build_runner, load_config
    from fw_wiclp.generate import projector_from_checkpoint

    cfg = load_config(
        'wiclp',
        'sd14_color_wiclp',
        work_dir=str(tmp_path / 'work'),
        cfg_options=[
            f'model.diffusion.model_dir={sd_folder}',
            'model.projector.dim=32',
            f'train_dataloader.dataset.train_json={pairs_json}',
            'train_dataloader.dataset.resolution=32',
            'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0',
            'train_cfg.max_iters=2',
            'default_hooks.checkpoint.interval=2',
        ],
    )
    cfg.val_dataloader = None
    cfg.val_cfg = None
    cfg.val_evaluator = None
    runner = build_runner(cfg)
    assert runner.model.parts.prediction_type == 'epsilon'
    runner.train()
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 1e-5
    _, projector = projector_from_checkpoint(str(tmp_path / 'work' / 'iter_2.pth'))
    model = runner.model
    model.projector = projector
    images = model.generate(['a red circle and a blue square'], [0], num_inference_steps=2)
    assert images.shape == (1, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    reference = model.generate(
        ['a red circle and a blue square'], [0], num_inference_steps=2, engine='loop'
    )
    assert torch.equal(images, reference)
    assert np.isfinite(images.numpy()).all()
