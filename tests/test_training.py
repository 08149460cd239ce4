"""End to end through `fw`: scaffold -> pip install -> list -> train -> checkpoint, DDP on two CPU
processes, SIGKILL + --resume reproducing the uninterrupted weights, and one-line user errors."""

import os
import re
import signal
import subprocess
import sys
import time

import torch

from framework import __version__
from framework import checkpoint as ckpt
from framework.errors import FwError


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_scaffold_own_tests_pass(scaffold_install, fw_scaffold):
    source, target = scaffold_install
    listed = fw_scaffold('list', '--plugin', 'scaffdemo')
    assert 'scaffdemo.ProjectionHead' in listed.stdout
    out = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', str(source / 'tests')],
        env=fw_scaffold.env(),
        capture_output=True,
        text=True,
        cwd=fw_scaffold.cwd,
        timeout=1800,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert '2 passed' in out.stdout


def test_ddp_two_processes(fw_scaffold, tmp_path):
    work = tmp_path / 'ddp'
    out = fw_scaffold(
        'train',
        'scaffdemo',
        'demo',
        '--nproc',
        '2',
        '--work-dir',
        str(work),
        '--seed',
        '0',
        '--cfg-options',
        'train_cfg.max_epochs=2',
    )
    assert out.returncode == 0, out.stderr[-3000:]
    log = next(work.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log
    # 2000 samples, batch 64: 32 iterations alone, 16 per rank when both ranks share the epoch
    assert re.search(r'Epoch\(train\) \[1\]\[10/16\]', log), log[-2000:]
    assert (work / 'epoch_2.pth').is_file()


def test_a_torchrun_rank_leaves_without_interpreter_finalisation(tmp_path):
    """cli._exit: a rank (LOCAL_RANK set, torch.distributed loaded) ends with os._exit, so gloo's
    worker threads cannot meet Python's finalisation (that aborted 5 of 16 two-process runs on 2
    cores after training had finished); a plain `fw` still finalises normally."""
    script = (
        'import atexit, sys, torch.distributed\n'
        'atexit.register(lambda: print("finalised"))\n'
        'from framework.cli import main\n'
        'main(["--version"])\n'
    )
    for rank_env, finalised in (({'LOCAL_RANK': '0'}, False), ({}, True)):
        env = {k: v for k, v in os.environ.items() if k != 'LOCAL_RANK'} | rank_env
        out = subprocess.run(
            [sys.executable, '-c', script], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert __version__ in out.stdout and ('finalised' in out.stdout) == finalised, out.stdout


def test_ddp_sigkill_then_resume_matches_uninterrupted(fw_scaffold, tmp_path):
    """Two CPU processes (gloo) whose ranks draw different dropout masks (diff_rank_seed): a run
    killed after epoch 2 and resumed ends with the uninterrupted run's weights, although only rank
    0 writes checkpoints: each rank's random state is derived from its seed and the iteration
    (measured max abs weight difference 0)."""
    opts = ['--nproc', '2', '--seed', '0', '--cfg-options', 'train_cfg.max_epochs=4']
    opts += ['train_cfg.val_interval=100', 'train_dataloader.dataset.size=6000']
    opts += ['randomness.diff_rank_seed=True', 'model.backbone.dropout=0.3']
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    out = fw_scaffold('train', 'scaffdemo', 'demo', '--work-dir', str(whole), *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    args = [sys.executable, '-m', 'framework.cli', 'train', 'scaffdemo', 'demo']
    args += ['--work-dir', str(killed), *opts]
    proc = subprocess.Popen(
        args, env=fw_scaffold.env(), cwd=fw_scaffold.cwd, start_new_session=True
    )
    deadline = time.time() + 300
    while not (killed / 'epoch_2.pth').exists():
        assert proc.poll() is None and time.time() < deadline, 'the run ended before the kill'
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks
    proc.wait()
    assert not (killed / 'epoch_4.pth').exists()
    out = fw_scaffold('train', 'scaffdemo', 'demo', '--work-dir', str(killed), '--resume', *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    a, b = _weights(whole / 'epoch_4.pth'), _weights(killed / 'epoch_4.pth')
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f'DDP resume: max abs weight difference {diff:.3g}')
    assert diff <= 1e-6, diff


def test_sigkill_then_resume_matches_uninterrupted(fw_scaffold, tmp_path):
    opts = [
        '--seed',
        '0',
        '--cfg-options',
        'train_cfg.max_epochs=5',
        '--cfg-options',
        'train_dataloader.dataset.size=6000',
        '--cfg-options',
        'train_cfg.val_interval=100',
    ]
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    out = fw_scaffold('train', 'scaffdemo', 'demo', '--work-dir', str(whole), *opts)
    assert out.returncode == 0, out.stderr[-3000:]

    proc = fw_scaffold.popen('train', 'scaffdemo', 'demo', '--work-dir', str(killed), *opts)
    deadline = time.time() + 600
    while not (killed / 'epoch_2.pth').exists():
        assert proc.poll() is None, 'training ended before it could be killed'
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / 'epoch_5.pth').exists()
    out = fw_scaffold('train', 'scaffdemo', 'demo', '--work-dir', str(killed), '--resume', *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    a, b = _weights(whole / 'epoch_5.pth'), _weights(killed / 'epoch_5.pth')
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # and the trust rule: this full mmengine checkpoint is refused when not pointed at
    try:
        ckpt.load_local(str(whole / 'epoch_5.pth'))
    except FwError as e:
        assert 'pickled Python objects' in str(e)
    else:
        raise AssertionError('an untrusted full checkpoint was unpickled')
    with ckpt.trusted(whole):
        assert 'state_dict' in ckpt.load_local(str(whole / 'epoch_5.pth'))


def _one_line_error(out, *needles):
    assert out.returncode == 2, out.stdout[-1000:] + out.stderr[-2000:]
    assert 'Traceback' not in out.stderr, out.stderr[-3000:]
    line = [ln for ln in out.stderr.splitlines() if ln.startswith('fw: error:')]
    assert len(line) == 1, out.stderr[-2000:]
    for needle in needles:
        assert needle in line[0], line[0]


def test_user_errors_are_one_line(fw_scaffold, tmp_path):
    base = ['train', 'scaffdemo', 'demo', '--work-dir', str(tmp_path / 'w')]
    _one_line_error(
        fw_scaffold(*base, '--cfg-options', 'model.backbone.hiddn=8'),
        "unexpected keyword argument 'hiddn'",
    )
    _one_line_error(
        fw_scaffold(*base, '--cfg-options', 'model.backbone.type=scaffdemo.MLPBackbon'),
        "close: 'scaffdemo.MLPBackbone'",
    )
    _one_line_error(
        fw_scaffold(*base, '--cfg-options', 'train_cfgg.max_epochs=1'),
        "no key 'train_cfgg'",
        'close: train_cfg',
    )
    _one_line_error(
        fw_scaffold(*base, '--cfg-options', 'load_from=/nowhere/model.pth'), '/nowhere/model.pth'
    )
    _one_line_error(
        fw_scaffold(*base, '--cfg-options', 'load_from=https://example.com/model.pth'),
        'never downloads',
    )
    _one_line_error(
        fw_scaffold('train', 'scaffdemo', str(tmp_path / 'missing.py')), 'does not exist'
    )
