"""Matryoshka distillation through the mmengine Runner on a tiny model with the SmolLM2 tokenizer
(``fw train`` / ``fw test`` machinery): only the projections train, the base stays bitwise fixed,
U stays orthogonal, the distillation loss falls, checkpoints hold only the projections."""

import json
import textwrap

import pytest
import torch

pytest.importorskip('mmengine')


def write_config(path, model_dir, iters, seed=0, threads=1):
    path.write_text(
        textwrap.dedent(f"""
        model = dict(type='matryoshka_kv.MatryoshkaKVModel', model='{model_dir}', init='identity',
                     fixed_rank=4, eval_ranks='uniform:8', num_threads={threads},
                     loss=dict(type='matryoshka_kv.DistillCE', kl_weight=1.0, ce_weight=0.0))
        train_dataloader = dict(batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='llm.PydocText', split='train', tokenizer='{model_dir}', window=32,
                         max_windows=64))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters})
        optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.0),
                             clip_grad=dict(max_norm=1.0))
        test_dataloader = dict(batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='llm.PydocText', split='heldout', tokenizer='{model_dir}', window=32,
                         max_windows=4))
        test_evaluator = [dict(type='llm.Perplexity'), dict(type='llm.CacheBytes')]
        test_cfg = dict(type='TestLoop')
        default_hooks = dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False, interval={iters}),
                             logger=dict(type='LoggerHook', interval=1))
        custom_hooks = [dict(type='matryoshka_kv.SaveProjectionHook')]
        log_processor = dict(by_epoch=False)
        randomness = dict(seed={seed})
    """)
    )
    return path


def test_distillation_trains_only_the_projections(tmp_path, tiny_dir):
    from framework import build_runner, load_config
    from framework.plugins import activate
    from fw_matryoshka_kv.attention import mkv_modules
    from fw_matryoshka_kv.cayley import orthogonality_error

    torch.set_num_threads(1)
    activate('matryoshka_kv')
    cfg = load_config(
        'matryoshka_kv',
        str(write_config(tmp_path / 'c.py', tiny_dir, 24)),
        work_dir=str(tmp_path / 'work'),
    )
    runner = build_runner(cfg)
    model = runner.model
    base = {
        k: v.clone()
        for k, v in model.lm.state_dict().items()
        if 'X_' not in k and 'mu_' not in k and 'r_K' not in k and 'r_V' not in k
    }
    assert sum(p.numel() for p in model.parameters()) == 2 * (2 * 2 * 16 * 16 + 2 * 2 * 16)
    runner.train()
    after = model.lm.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in base.items())  # base bitwise unchanged
    for m in mkv_modules(model.lm):
        U_K, U_V = m.proj.bases()
        assert orthogonality_error(U_K) < 1e-5 and orthogonality_error(U_V) < 1e-5
        assert float(m.proj.X_K.abs().max()) > 0  # it trained
    rows = [json.loads(x) for x in next((tmp_path / 'work').glob('*/vis_data/scalars.json')).open()]
    kl = [r['loss_kl'] for r in rows if 'loss_kl' in r]
    # pure distillation at fixed rank 4 of 16 from U = I: the KL falls. Last-6 / first-6 mean
    # ratio measured for seeds 0-4: 0.828, 0.906, 0.881, 0.877, 0.860 with 1 thread, the same
    # values with 2 threads (seed 0: 0.828); asserted < 0.95 (margin 0.044 over the worst seed)
    assert sum(kl[-6:]) / sum(kl[:6]) < 0.95
    ckpt = torch.load(tmp_path / 'work' / 'iter_24.pth', map_location='cpu', weights_only=False)
    assert all(k.startswith('projections.') for k in ckpt['state_dict'])
    assert (tmp_path / 'work' / 'projection.pth').is_file()
    metrics = runner.test()
    assert metrics['llm/cache_bytes_per_token'] == 2 * 2 * (8 + 8) * 4  # L g (r_K + r_V) float32
    assert metrics['llm/ppl'] > 1
