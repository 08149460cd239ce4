"""GPU smoke run of the projhead CIFAR configs on tiny fake data in the real on-disk formats.

Each of the SimCLR (MNIST-on-CIFAR-10), CE and SupCon (CIFAR-100 coarse) configs trains ResNet-18
for a few steps and runs the pre/post probe: checks the real-scale code path end to end (not the
paper's numbers). ``--data-root`` uses real data instead of the fake sample.

    PYTHONPATH=.:plugins/projhead python tools/bench/projhead_cifar_smoke.py
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for p in (ROOT, os.path.join(ROOT, 'plugins', 'projhead')):
    if p not in sys.path:
        sys.path.insert(0, p)

CONFIGS = ('ssl_mnist_on_cifar10_mlp', 'ssl_mnist_on_cifar10_fixed1.05', 'sl_cifar100coarse_mlp',
           'sl_cifar100coarse_fixed1.2', 'scl_cifar100coarse_mlp', 'scl_cifar100coarse_none')


def main(argv=None):
    from fw_projhead.engine import pretrain_and_probe
    from fw_projhead.fake_data import write_fake_cifar10, write_fake_cifar100, write_fake_mnist
    from fw_projhead.run import config_path, load_plain_config
    ap = argparse.ArgumentParser()
    ap.add_argument('--data-root', default=None)
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--configs', default=','.join(CONFIGS))
    ap.add_argument('--limit', type=int, default=None, help='images per split')
    ap.add_argument('--batch-size', type=int, default=256)
    a = ap.parse_args(argv)
    root = a.data_root or tempfile.mkdtemp()
    if a.data_root is None:
        write_fake_cifar10(root, n_train_per_batch=200, n_test=200)
        write_fake_cifar100(root, n_train=1000, n_test=200)
        write_fake_mnist(root, n_train=1000, n_test=200)
    for name in a.configs.split(','):
        cfg = load_plain_config(config_path(name))
        cfg.update(data_root=root, epochs=a.epochs, warmup_epochs=0, batch_size=a.batch_size)
        cfg['dataset'] = dict(cfg['dataset'], limit=a.limit)
        cfg['probe'] = dict(cfg['probe'], epochs=2)
        t = time.time()
        r = pretrain_and_probe(cfg, seed=0, log=lambda *_: None)
        accs = {k: round(v['acc'], 3) for k, v in r['probe'].items() if isinstance(v, dict)}
        print(f"{name}: {r['device']}, loss {r['train_loss'][0]:.3f} -> {r['train_loss'][-1]:.3f}, "
              f"{time.time() - t:.1f}s, probe {accs}", flush=True)


if __name__ == '__main__':
    main()
