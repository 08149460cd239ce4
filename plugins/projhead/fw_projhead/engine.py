"""The plugin's training loop (``fw_train``): pretrain an encoder with a head, then probe h and z.

One run = pretrain on the ``pretrain`` split with SupCon, SimCLR (NT-Xent) or CE, freeze the
encoder, extract h (pre) and z (post) once under ``no_grad``, fit the same linear probe on the
``probe`` split and score it on the (shifted) ``test`` split. Plain PyTorch, so it runs unchanged on
a CPU or a bare GPU machine; writes ``model.pth`` and ``metrics.json`` to the work dir.
"""
from __future__ import annotations

import copy
import inspect
import json
import math
import os
import time

import torch
import torch.nn.functional as F

from .augment import augment
from .metrics import PrePostLinearProbe, WorstGroupAccuracy
from .model import EncoderWithHead, build

METHODS = ('supcon', 'simclr', 'ce')


def build_dataset(cfg: dict, split: str, data_root: str | None = None):
    """Build the dataset of ``split``; a top-level ``data_root`` fills in a missing one."""
    cfg = dict(cfg)
    typ = cfg.pop('type')
    name = typ.split('.', 1)[1] if typ.startswith('projhead.') else typ
    from . import data, data_cifar
    for mod in (data, data_cifar):
        if hasattr(mod, name):
            cls = getattr(mod, name)
            if data_root and 'data_root' in inspect.signature(cls).parameters:
                cfg.setdefault('data_root', data_root)
            return cls(split=split, **cfg)
    from framework.registry import DATASETS
    return DATASETS.build(dict(type=typ, split=split, **cfg))


def _batch(ds, idx, device, drop=None):
    """Images of ``idx`` as float on ``device``; ``drop`` masks DropDigit where the set has one."""
    if hasattr(ds, 'render'):
        x = ds.render(idx, drop=drop)
    else:
        x = ds.images[idx]
    x = x.to(device, non_blocking=True)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def _normalise(x, ds):
    mean, std = getattr(ds, 'mean', None), getattr(ds, 'std', None)
    if mean is None:
        return x
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def param_checksum(module) -> float:
    return float(sum(p.detach().double().sum().item() for p in module.parameters()))


@torch.no_grad()
def extract(model, ds, device, batch_size=1024, head_layers=False) -> dict:
    """Frozen features of the whole split: {'pre': h, 'post': z[, 'head1', ...]} on the CPU."""
    model.eval()
    out = {}
    for idx in torch.arange(len(ds)).split(batch_size):
        x = _normalise(_batch(ds, idx, device), ds)
        r = model(x)
        parts = {'pre': r['feats'], 'post': r['z']}
        if head_layers:
            parts.update({f'head{i + 1}': z for i, z in enumerate(r['z_layers'][:-1])})
        if 'logits' in r:
            parts['_pred'] = r['logits'].argmax(1)
        for k, v in parts.items():
            out.setdefault(k, []).append(v.float().cpu() if k != '_pred' else v.cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def _device(cfg):
    want = cfg.get('device', 'auto')
    if want == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(want)


def pretrain_and_probe(cfg, seed: int = 0, work_dir: str | None = None, log=print) -> dict:
    """One pretraining run + the pre/post probe. ``cfg`` is a dict (or mmengine Config)."""
    cfg = copy.deepcopy(dict(cfg))
    method = cfg.get('method', 'supcon')
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got '{method}'")
    head_name = cfg.get('head', 'mlp')
    heads = cfg.get('heads', {})
    if head_name not in heads:
        raise ValueError(f"head '{head_name}' not in heads {sorted(heads)} of the config")
    device = _device(cfg)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    if cfg.get('threads'):
        torch.set_num_threads(int(cfg['threads']))

    splits = cfg.get('splits', {'pretrain': 'pretrain', 'probe': 'probe', 'test': 'test'})
    ds_train = build_dataset(cfg['dataset'], splits['pretrain'], cfg.get('data_root'))
    num_classes = ds_train.num_classes
    model = EncoderWithHead(cfg['backbone'], heads[head_name],
                            num_classes=num_classes if method == 'ce' else None).to(device)
    loss_fn = build(cfg['loss']) if method != 'ce' else None
    opt_cfg = dict(cfg.get('optimizer', {'type': 'Adam', 'lr': 1e-3}))
    opt_cls = getattr(torch.optim, opt_cfg.pop('type'))
    opt = opt_cls([p for p in model.parameters() if p.requires_grad], **opt_cfg)
    epochs, bs = int(cfg.get('epochs', 10)), int(cfg.get('batch_size', 128))
    steps_per_epoch = max(1, len(ds_train) // bs)
    total, warm = epochs * steps_per_epoch, int(cfg.get('warmup_epochs', 0)) * steps_per_epoch
    base_lrs = [g['lr'] for g in opt.param_groups]
    aug_cfg, p_drop = cfg.get('augment'), float(cfg.get('p_drop', 0.0))
    amp = device.type == 'cuda' and cfg.get('amp', True)

    t0, step, history = time.time(), 0, []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(ds_train), generator=gen)
        run_loss = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            f = (step + 1) / max(1, warm) if step < warm else \
                0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
            for g, lr in zip(opt.param_groups, base_lrs):
                g['lr'] = lr * f
            y = ds_train.labels[idx].to(device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                if method == 'ce':
                    x = _normalise(augment(_batch(ds_train, idx, device), aug_cfg, gen), ds_train)
                    loss = F.cross_entropy(model(x)['logits'].float(), y)
                else:
                    drop = torch.rand(len(idx), generator=gen) < p_drop if p_drop > 0 else None
                    x1 = _normalise(augment(_batch(ds_train, idx, device), aug_cfg, gen), ds_train)
                    x2 = _normalise(augment(_batch(ds_train, idx, device, drop), aug_cfg, gen),
                                    ds_train)
                    z = model(torch.cat([x1, x2]))['z'].float()
                    z1, z2 = z.chunk(2)
                    loss = loss_fn(z1, z2, y) if method == 'supcon' else loss_fn(z1, z2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run_loss += float(loss.detach())
            step += 1
        history.append(run_loss / steps_per_epoch)
        log(f'[projhead] seed {seed} {method}/{head_name} epoch {epoch + 1}/{epochs} '
            f'loss {history[-1]:.4f} ({time.time() - t0:.0f}s)')
    train_time = time.time() - t0

    # --- frozen probe: nothing below may change the encoder (spec §9)
    for p in model.parameters():
        p.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    before = param_checksum(model)
    ds_probe = build_dataset(cfg['dataset'], splits['probe'], cfg.get('data_root'))
    ds_test = build_dataset(cfg['dataset'], splits['test'], cfg.get('data_root'))
    pcfg = dict(cfg.get('probe', {}))
    head_layers = pcfg.pop('head_layers', False)
    ftr = extract(model, ds_probe, device, head_layers=head_layers)
    fte = extract(model, ds_test, device, head_layers=head_layers)
    ytr = getattr(ds_probe, 'probe_labels', ds_probe.labels)
    yte = getattr(ds_test, 'probe_labels', ds_test.labels)
    gte = getattr(ds_test, 'groups', None)
    names = [k for k in ftr if not k.startswith('_')]
    probe = PrePostLinearProbe(**pcfg)
    dev_feats = lambda f: {k: f[k].to(device) for k in names}  # noqa: E731
    res = probe(dev_feats(ftr), ytr.to(device), dev_feats(fte), yte, gte, seed=seed)
    assert param_checksum(model) == before, 'the probe changed the encoder'
    result = {'seed': seed, 'method': method, 'head': head_name, 'epochs': epochs,
              'train_loss': history, 'train_time_s': round(train_time, 1), 'device': str(device),
              'post_is_pre': head_name == 'none' or (
                  heads[head_name] or {}).get('type', '').endswith('IdentityHead'),
              'probe': res}
    if '_pred' in fte:
        wga = WorstGroupAccuracy()(fte['_pred'], ds_test.labels, gte if gte is not None
                                   else ds_test.labels)
        result['classifier'] = {'acc': wga['acc'], 'worst_group_acc': wga['worst_group_acc']}
    if work_dir:
        os.makedirs(work_dir, exist_ok=True)
        torch.save({'state_dict': model.state_dict(), 'cfg': cfg, 'seed': seed},
                   os.path.join(work_dir, 'model.pth'))
        with open(os.path.join(work_dir, 'metrics.json'), 'w') as f:
            json.dump(result, f, indent=1)
    return result
