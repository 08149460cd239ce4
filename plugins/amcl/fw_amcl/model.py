"""SimCLR, MoCo v2 and Barlow Twins as mmengine models, each with or without AMCL.

Common arguments: ``backbone`` (config or module), ``neck`` (kwargs of :class:`MultiHeadProjector` without
``in_dim``/``num_heads``), ``num_heads`` (C; baselines use 1), ``amcl`` (picks the AMCL loss), ``loss``
(loss kwargs, optionally with ``type``; ``dim`` is filled in from the neck), ``augment`` (a batched
augmentation module applied to both views inside the model).

``views(x1, x2)`` returns ``feats`` [B, D] (backbone, after global pooling) and ``z`` [B, C, d'] per view.
The loss module owns phi and is a submodule (``self.loss_module``), so phi is in the optimiser.
``forward(mode='predict')`` returns backbone features for the kNN / linear-probe metrics (never the loss).
"""
from __future__ import annotations

import copy

import torch
from mmengine.model import BaseModel
from torch import nn

from . import augment as _augment
from . import backbone as _backbone
from . import loss as _loss
from . import neck as _neck
from .neck import MultiHeadProjector

_LOCAL = {name: getattr(mod, name) for mod in (_augment, _backbone, _loss, _neck)
          for name in dir(mod) if isinstance(getattr(mod, name), type)}


def build(cfg):
    """Build a component: a module passes through; ``amcl.X`` / ``X`` of this plugin are built directly,
    anything else through the fw registries (MODELS and its children)."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    cfg = dict(cfg)
    typ = cfg.pop('type')
    if callable(typ):
        return typ(**cfg)
    name = typ[len('amcl.'):] if typ.startswith('amcl.') else typ
    if name in _LOCAL:
        return _LOCAL[name](**cfg)
    from framework.registry import MODELS
    return MODELS.build(dict(type=typ, **cfg))


def _all_finite(tensors) -> bool:
    tensors = [t.detach() for t in tensors]
    if not tensors:
        return True
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(tensors))).all())


class _SSLModel(BaseModel):
    BASE_LOSS = AMCL_LOSS = None
    HEAD_KIND = 'mlp2'

    def __init__(self, backbone, neck=None, num_heads: int = 1, amcl: bool = False, loss=None,
                 augment=None, val_tau_stats: bool = True, data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build(backbone)
        neck = dict(neck or {})
        neck.setdefault('hidden', 512)
        neck.setdefault('out_dim', 128)
        neck.setdefault('kind', self.HEAD_KIND)
        self.neck = MultiHeadProjector(in_dim=self.backbone.out_dim, num_heads=num_heads, **neck)
        self.num_heads, self.amcl = num_heads, amcl
        loss = dict(loss or {})
        loss.setdefault('type', self.AMCL_LOSS if amcl else self.BASE_LOSS)
        if amcl:
            loss.setdefault('dim', neck['out_dim'])
        self.loss_module = build(loss)
        self.augment = build(augment) if augment is not None else _augment.DigitAugment()
        self.val_tau_stats = val_tau_stats

    # ---------------------------------------------------------------- features
    def extract_feat(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone feature of un-augmented (normalised) images: what kNN and the linear probe read."""
        return self.backbone(self.augment.normalize(x))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Head outputs z [B, C, d'] of un-augmented images ("post" features)."""
        return self.neck(self.extract_feat(x))

    def views(self, x1: torch.Tensor, x2: torch.Tensor) -> dict:
        f1, f2 = self.backbone(x1), self.backbone(x2)
        return dict(feats=(f1, f2), z=(self.neck(f1), self.neck(f2)))

    # ---------------------------------------------------------------- mmengine API
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got '{mode}'")

    def two_views(self, inputs):
        return self.augment(inputs), self.augment(inputs)

    def loss(self, inputs) -> dict:
        out = self.compute_loss(*self.two_views(inputs))
        stats = getattr(self.loss_module, 'last_stats', {}) if self.amcl else {}
        return dict(loss=out, **stats)

    def compute_loss(self, x1, x2) -> torch.Tensor:
        v = self.views(x1, x2)
        return self.loss_module(*v['z'])

    @torch.no_grad()
    def temperatures(self, inputs):
        """(tau+, top-k tau-) of the AMCL loss on a batch, for TemperatureStats; no loss is computed."""
        x1, x2 = self.two_views(inputs)
        return self.loss_module.temperatures(*self.views(x1, x2)['z'])

    def predict(self, inputs, data_samples=None) -> list[dict]:
        feats = self.extract_feat(inputs).float().cpu()
        ds = data_samples or {}
        out = [dict(feat=feats[i], label=ds['label'][i].cpu() if 'label' in ds else None,
                    is_train=bool(ds['is_train'][i]) if 'is_train' in ds else True)
               for i in range(len(feats))]
        if self.amcl and self.val_tau_stats and out:
            try:
                tau_pos, tau_neg = self.temperatures(inputs)
                out[0]['tau_pos'], out[0]['tau_neg'] = tau_pos.cpu(), tau_neg.flatten()[:100_000].cpu()
            except ValueError:  # Barlow Twins: an evaluation batch of another size than phi's N
                pass
        return out

    def train_step(self, data, optim_wrapper):
        """mmengine's step, plus: abort on a non-finite loss, gradient or parameter; ``after_update``."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.parse_losses(losses)
        if not torch.isfinite(parsed):
            raise FloatingPointError(f'non-finite loss {parsed.item()} in {type(self).__name__}; '
                                     f'aborting (see TemperatureStats in the log)')
        optim_wrapper.update_params(parsed)
        if not _all_finite([p for p in self.parameters() if p.requires_grad]):
            raise FloatingPointError(f'non-finite parameter after an optimiser step in {type(self).__name__}')
        self.after_update()
        return log_vars

    def after_update(self):
        """Called after each optimiser step (MoCo updates its queue here)."""


class SimCLR(_SSLModel):
    """SimCLR (NT-Xent, tau 0.5) or AMCL-SimCLR (head-summed top-k Eq. 2.1)."""
    BASE_LOSS, AMCL_LOSS = 'NTXentLoss', 'AMCLNTXentLoss'


class BarlowTwins(_SSLModel):
    """Barlow Twins (lambda 5e-3) or AMCL-Barlow Twins (Eq. 2.3; ``loss.batch_size`` fixes phi's N)."""
    BASE_LOSS, AMCL_LOSS = 'BarlowTwinsLoss', 'AMCLBarlowTwinsLoss'
    HEAD_KIND = 'bt3'


class MoCo(_SSLModel):
    """MoCo v2: momentum copies of the backbone and every head, one L2-normalised key queue per head.

    The key encoder is updated as theta_k <- m theta_k + (1 - m) theta_q before the keys are computed;
    the keys of the first view are enqueued after the optimiser step, so the loss never sees the current
    keys among its negatives. Single device: no shuffle-BN.
    """
    BASE_LOSS, AMCL_LOSS = 'MoCoLoss', 'AMCLMoCoLoss'

    def __init__(self, *args, queue_size: int = 4096, momentum: float = 0.99, **kwargs):
        super().__init__(*args, **kwargs)
        self.momentum, self.queue_size = momentum, queue_size
        self.backbone_k = copy.deepcopy(self.backbone)
        self.neck_k = copy.deepcopy(self.neck)
        for p in list(self.backbone_k.parameters()) + list(self.neck_k.parameters()):
            p.requires_grad_(False)
        queue = torch.nn.functional.normalize(torch.randn(self.num_heads, self.neck.out_dim, queue_size), dim=1)
        self.register_buffer('queue', queue)
        self.register_buffer('queue_ptr', torch.zeros((), dtype=torch.long))
        self._pending_keys = None

    @torch.no_grad()
    def momentum_update(self):
        for online, key in ((self.backbone, self.backbone_k), (self.neck, self.neck_k)):
            for q, k in zip(online.parameters(), key.parameters()):
                k.mul_(self.momentum).add_(q.detach(), alpha=1 - self.momentum)

    @torch.no_grad()
    def keys(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck_k(self.backbone_k(x))

    @torch.no_grad()
    def update_queue(self, keys: torch.Tensor):
        """Enqueue L2-normalised keys [B, C, d'] (oldest first out); the pointer advances by B mod K."""
        keys = torch.nn.functional.normalize(keys.detach().float(), dim=-1)
        b, k = keys.shape[0], self.queue_size
        ptr = int(self.queue_ptr)
        idx = (torch.arange(b, device=keys.device) + ptr) % k
        self.queue[:, :, idx] = keys.permute(1, 2, 0).to(self.queue.dtype)
        self.queue_ptr.fill_((ptr + b) % k)

    def compute_loss(self, x1, x2) -> torch.Tensor:
        if self.training:
            self.momentum_update()
        v = self.views(x1, x2)
        k1, k2 = self.keys(x1), self.keys(x2)
        self._pending_keys = k1
        return self.loss_module(*v["z"], k1, k2, self.queue)

    @torch.no_grad()
    def temperatures(self, inputs):
        x1, x2 = self.two_views(inputs)
        v = self.views(x1, x2)
        return self.loss_module.temperatures(*v['z'], self.keys(x1), self.keys(x2), self.queue)

    def after_update(self):
        if self._pending_keys is not None:
            self.update_queue(self._pending_keys)
            self._pending_keys = None


_LOCAL.update(SimCLR=SimCLR, MoCo=MoCo, BarlowTwins=BarlowTwins)
