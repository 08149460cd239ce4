"""Training through the mmengine Runner: `fw train` then `fw test` on the tiny atomic files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

DATA = Path(__file__).parent / 'data'


def fw(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1')
    return subprocess.run(
        [sys.executable, '-m', 'framework.cli', *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def tiny_options():
    data = (
        f'dataset_path={DATA},format=recbole,name=tiny,min_user_inter=0,min_item_inter=0,max_len=6'
    )
    opts = []
    for key in (
        'model.data',
        'train_dataloader.dataset.data',
        'val_dataloader.dataset.data',
        'test_dataloader.dataset.data',
    ):
        opts += [f'{key}.{kv}' for kv in data.split(',')]
    return opts + ['train_cfg.max_epochs=2', 'train_dataloader.batch_size=16']


def test_fw_train_then_fw_test_reproduces_the_in_process_metric(tmp_path):
    work = tmp_path / 'work'
    out = fw(
        'train',
        'lite_llm4rec',
        'sasrec_ml100k',
        '--work-dir',
        str(work),
        '--seed',
        '0',
        '--cfg-options',
        *tiny_options(),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt = work / 'epoch_2.pth'
    assert ckpt.is_file()
    res = fw(
        'test',
        'lite_llm4rec',
        'sasrec_ml100k',
        str(ckpt),
        '--json',
        '--work-dir',
        str(tmp_path / 'test'),
        '--cfg-options',
        *tiny_options(),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics['rec/users'] == 29  # user 30 has 2 interactions: train-only

    from framework import MODELS, activate, load_checkpoint, trusted_checkpoints
    from fw_lite_llm4rec.metric import pessimistic_rank, ranking_metrics
    from fw_lite_llm4rec.sampling import SeqRecEvalData

    activate('lite_llm4rec')
    data = dict(dataset_path=str(DATA), format='recbole', name='tiny', max_len=6)
    model = MODELS.build(dict(type='lite_llm4rec.SASRec', data=data)).eval()
    with trusted_checkpoints(str(ckpt)):
        model.load_state_dict(load_checkpoint(str(ckpt))['state_dict'])
    test = SeqRecEvalData(data, 'test')
    with torch.no_grad():
        scores = model(test.inputs)
    ranks = [pessimistic_rank(s, int(t)) for s, t in zip(scores, test.targets)]
    for key, value in ranking_metrics(ranks).items():
        assert abs(metrics[f'rec/{key}'] - value) < 1e-9


def test_evaluate_command_scores_poprec_and_a_trained_checkpoint(tmp_path):
    """`fw lite_llm4rec evaluate`: PopRec as built; a checkpoint through --checkpoint gives the same
    test metrics as `fw test`, and the valid split differs from the test split."""
    opts = []
    for o in tiny_options():
        opts += ['--cfg-options', o]
    pop = fw('lite_llm4rec', 'evaluate', 'poprec_ml100k', *opts, cwd=tmp_path)
    assert pop.returncode == 0, pop.stderr[-3000:]
    pop_metrics = json.loads(pop.stdout.strip().splitlines()[-1])
    assert pop_metrics['rec/users'] == 29

    work = tmp_path / 'work'
    train = fw('train', 'lite_llm4rec', 'sasrec_ml100k', '--work-dir', str(work), '--seed', '0',
               '--cfg-options', *tiny_options(), cwd=tmp_path)  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    ckpt = str(work / 'epoch_2.pth')
    test = fw('test', 'lite_llm4rec', 'sasrec_ml100k', ckpt, '--json', '--work-dir',
              str(tmp_path / 't'), '--cfg-options', *tiny_options(), cwd=tmp_path)  # fmt: skip
    assert test.returncode == 0, test.stderr[-3000:]
    via_test = json.loads(test.stdout.strip().splitlines()[-1])
    for split in ('test', 'valid'):
        ev = fw('lite_llm4rec', 'evaluate', 'sasrec_ml100k', '--checkpoint', ckpt, '--split',
                split, *opts, cwd=tmp_path)  # fmt: skip
        assert ev.returncode == 0, ev.stderr[-3000:]
        got = json.loads(ev.stdout.strip().splitlines()[-1])
        if split == 'test':
            assert got == via_test
        else:
            assert got != via_test  # other targets
    # untrained weights score differently: the checkpoint was really loaded
    untrained = fw('lite_llm4rec', 'evaluate', 'sasrec_ml100k', *opts, cwd=tmp_path)
    assert untrained.returncode == 0, untrained.stderr[-3000:]
    assert json.loads(untrained.stdout.strip().splitlines()[-1]) != via_test
    missing = fw('lite_llm4rec', 'evaluate', 'sasrec_ml100k', '--checkpoint', 'nope.pth', *opts,
                 cwd=tmp_path)  # fmt: skip
    assert missing.returncode != 0 and 'no such file' in missing.stderr
