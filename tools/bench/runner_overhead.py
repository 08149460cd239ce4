"""What `fw train` costs over a plain PyTorch loop: the same model, data and step count, one
process, run after the other, several repeats; prints the wall-time ratio (goal: <= 1.10).

    OMP_NUM_THREADS=1 python tools/bench/runner_overhead.py [--epochs 8] [--repeats 3] [--json]

`fw train` here is the real command (`framework.cli.main`, in this process) on a config written to
a temporary folder, with everything fw adds: config layering, mmengine's Runner and hooks, the
progress line, a checkpoint every epoch with the random states, the lock and the summary. The
plain loop is `for x, y in DataLoader: loss.backward(); opt.step()`. Both build the model with the
same seed through the public registry. Only the public API and the command line are used.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from framework import DATASETS, MODELS
from framework.cli import main as fw_main

CONFIG = """
model = dict(type='bench.MLP', dim={dim}, hidden={hidden})
train_dataloader = dict(batch_size={batch}, num_workers=0, drop_last=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'),
                        dataset=dict(type='bench.Blobs', size={size}, dim={dim}))
train_cfg = dict(by_epoch=True, max_epochs={epochs})
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
param_scheduler = []
"""


class MLP(BaseModel):
    """A 3-layer MLP classifier. Args: ``dim`` (inputs), ``hidden`` (width), ``classes``."""

    def __init__(self, dim: int = 64, hidden: int = 512, classes: int = 10):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, classes),
        )

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.net(inputs)
        return {'loss': F.cross_entropy(logits, labels)} if mode == 'loss' else logits


class Blobs(torch.utils.data.Dataset):
    """Ten Gaussian blobs. Args: ``size`` (samples), ``dim`` (features)."""

    def __init__(self, size: int = 8192, dim: int = 64):
        gen = torch.Generator().manual_seed(0)
        self.labels = torch.randint(0, 10, (size,), generator=gen)
        centres = torch.randn(10, dim, generator=gen) * 2
        self.inputs = centres[self.labels] + torch.randn(size, dim, generator=gen)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {'inputs': self.inputs[i], 'labels': self.labels[i]}


def plain_loop(args) -> float:
    start = time.perf_counter()
    torch.manual_seed(0)
    model = MODELS.build(dict(type='bench.MLP', dim=args.dim, hidden=args.hidden))
    data = DATASETS.build(dict(type='bench.Blobs', size=args.size, dim=args.dim))
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(args.epochs):
        for batch in loader:
            loss = model(**batch, mode='loss')['loss']
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def fw_train(args, root: Path, run: int) -> float:
    config = root / 'bench_mlp.py'
    config.write_text(CONFIG.format(**vars(args)))
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        fw_main(['train', 'llm', str(config), '--work-dir', str(root / f'run{run}')])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--size', type=int, default=16384)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--dim', type=int, default=64)
    parser.add_argument('--hidden', type=int, default=512)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(1)
    MODELS.register_module(name='bench.MLP', module=MLP)
    DATASETS.register_module(name='bench.Blobs', module=Blobs)
    steps = args.epochs * (args.size // args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        fw_train(args, Path(tmp), -1), plain_loop(args)  # warm-up: imports, allocator, caches
        fw_times, plain_times = [], []
        for run in range(args.repeats):
            plain_times.append(plain_loop(args))
            fw_times.append(fw_train(args, Path(tmp), run))
    result = {
        'steps': steps,
        'fw_s': [round(t, 3) for t in fw_times],
        'plain_s': [round(t, 3) for t in plain_times],
        'ratio': round(statistics.median(fw_times) / statistics.median(plain_times), 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f'{steps} steps (MLP {args.dim}-{args.hidden}-{args.hidden}-10, batch {args.batch}, '
            f'{args.epochs} epochs), median of {args.repeats}: fw train '
            f'{statistics.median(fw_times):.2f} s, plain loop '
            f'{statistics.median(plain_times):.2f} s, ratio {result["ratio"]:.3f} (goal <= 1.10)'
        )


if __name__ == '__main__':
    main()
