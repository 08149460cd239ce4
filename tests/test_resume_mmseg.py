"""Exact resume of an mmseg config (DeepLabV3+ R-18 at 64 px, iteration-based, RandomFlip drawing
from NumPy's RNG in the main process): SIGKILL after the iteration-4 resume point, `--resume`, and
the weights after 8 iterations equal the uninterrupted run's. mmengine replays the data loader up
to the checkpoint's iteration; fw restores the saved random states after that replay."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

_spec = importlib.util.spec_from_file_location(
    'mmseg_e2e', Path(__file__).with_name('test_openmmlab_mmseg.py')
)
e2e_seg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e_seg)  # skips this module too where the stack is not installed
CLASSES, CONFIG, PLUGIN, REQUIRES, SIZE = (
    e2e_seg.CLASSES,
    e2e_seg.CONFIG,
    e2e_seg.PLUGIN,
    e2e_seg.REQUIRES,
    e2e_seg.SIZE,
)
write_seg_folder = e2e_seg.write_seg_folder

OPTS = ['--cfg-options', 'resume_every_n_iters=2']


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, write_dist, make_fw, e2e):
    root = tmp_path / 'seg'
    write_seg_folder(root, 'train', 8, seed=0)
    write_seg_folder(root, 'val', 2, seed=1)
    site = tmp_path / 'site'
    write_dist(
        site,
        PLUGIN,
        e2e.plugin_files(
            PLUGIN,
            REQUIRES,
            {'deeplab_toy': CONFIG.format(root=root, classes=CLASSES, size=SIZE, iters=8)},
        ),
    )
    fw = make_fw(site, load=PLUGIN)
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    out = fw('train', PLUGIN, 'deeplab_toy', '--work-dir', str(whole), *OPTS)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]

    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'framework.cli',
            'train',
            PLUGIN,
            'deeplab_toy',
            '--work-dir',
            str(killed),
            *OPTS,
        ],
        cwd=fw.cwd,
        env=fw.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 900
    while True:
        try:
            meta = torch.load(killed / 'latest.pth', weights_only=False, mmap=True)['meta']
            if meta['iter'] >= 4:
                break
        except (OSError, RuntimeError, KeyError, EOFError):
            pass
        assert proc.poll() is None and time.time() < deadline, 'the run ended before the kill'
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / 'iter_8.pth').exists()
    out = fw('train', PLUGIN, 'deeplab_toy', '--work-dir', str(killed), '--resume', *OPTS)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]

    a, b = (
        torch.load(w / 'iter_8.pth', map_location='cpu', weights_only=False)['state_dict']
        for w in (whole, killed)
    )
    diff = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    print(f'max abs weight difference after resuming: {diff:.3g}')
    assert diff <= 1e-6, diff
