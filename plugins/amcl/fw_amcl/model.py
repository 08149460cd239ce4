"""SimCLR, MoCo v2 and Barlow Twins as mmengine models, each with or without AMCL.

Every part is built through the fw registries from a config dict (a module also passes through).
Common arguments: ``backbone`` (config), ``neck`` (config of ``amcl.MultiHeadProjector`` without
``in_dim``/``num_heads``; the type may be left out), ``num_heads`` (C; baselines use 1), ``amcl`` (picks the AMCL loss), ``loss``
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

from framework import BACKBONES, LOSSES, NECKS, TRANSFORMS


def _build(registry, cfg):
    """A module passes through; a config dict is built by the fw registry (``type`` required)."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return registry.build(dict(cfg))


def _all_finite(tensors) -> bool:
    tensors = [t.detach() for t in tensors]
    if not tensors:
        return True
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(tensors))).all())


class _SSLModel(BaseModel):
    BASE_LOSS = AMCL_LOSS = None
    HEAD_KIND = 'mlp2'

    def __init__(
        self,
        backbone,
        neck=None,
        num_heads: int = 1,
        amcl: bool = False,
        loss=None,
        augment=None,
        val_tau_stats: bool = True,
        data_preprocessor=None,
        init_cfg=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = _build(BACKBONES, backbone)
        neck = dict(neck or {})
        neck.setdefault('type', 'amcl.MultiHeadProjector')
        neck.setdefault('hidden', 512)
        neck.setdefault('out_dim', 128)
        neck.setdefault('kind', self.HEAD_KIND)
        self.neck = _build(NECKS, dict(neck, in_dim=self.backbone.out_dim, num_heads=num_heads))
        self.num_heads, self.amcl = num_heads, amcl
        loss = dict(loss or {})
        loss.setdefault('type', self.AMCL_LOSS if amcl else self.BASE_LOSS)
        if amcl:
            loss.setdefault('dim', neck['out_dim'])
        self.loss_module = _build(LOSSES, loss)
        self.augment = _build(TRANSFORMS, augment or dict(type='amcl.DigitAugment'))
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
        out = [
            dict(
                feat=feats[i],
                label=ds['label'][i].cpu() if 'label' in ds else None,
                is_train=bool(ds['is_train'][i]) if 'is_train' in ds else True,
            )
            for i in range(len(feats))
        ]
        if self.amcl and self.val_tau_stats and out:
            try:
                tau_pos, tau_neg = self.temperatures(inputs)
                out[0]['tau_pos'], out[0]['tau_neg'] = (
                    tau_pos.cpu(),
                    tau_neg.flatten()[:100_000].cpu(),
                )
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
            raise FloatingPointError(
                f'non-finite loss {parsed.item()} in {type(self).__name__}; '
                f'aborting (see TemperatureStats in the log)'
            )
        optim_wrapper.update_params(parsed)
        if not _all_finite([p for p in self.parameters() if p.requires_grad]):
            raise FloatingPointError(
                f'non-finite parameter after an optimiser step in {type(self).__name__}'
            )
        self.after_update()
        return log_vars

    def after_update(self):
        """Called after each optimiser step (MoCo updates its queue here)."""


class SimCLR(_SSLModel):
    """SimCLR (NT-Xent, tau 0.5) or AMCL-SimCLR (head-summed top-k Eq. 2.1).

    Args: ``backbone``, ``neck``, ``num_heads``, ``amcl``, ``loss``, ``augment``, ``val_tau_stats``,
    ``data_preprocessor``, ``init_cfg`` (see the module docstring).
    """

    BASE_LOSS, AMCL_LOSS = 'amcl.NTXentLoss', 'amcl.AMCLNTXentLoss'


class BarlowTwins(_SSLModel):
    """Barlow Twins (lambda 5e-3) or AMCL-Barlow Twins (Eq. 2.3; ``loss.batch_size`` fixes phi's N).

    Args: ``backbone``, ``neck``, ``num_heads``, ``amcl``, ``loss``, ``augment``, ``val_tau_stats``,
    ``data_preprocessor``, ``init_cfg`` (see the module docstring).
    """

    BASE_LOSS, AMCL_LOSS = 'amcl.BarlowTwinsLoss', 'amcl.AMCLBarlowTwinsLoss'
    HEAD_KIND = 'bt3'


class MoCo(_SSLModel):
    """MoCo v2: momentum copies of the backbone and every head, one L2-normalised key queue per head.

    Args: those of :class:`SimCLR`, plus ``queue_size`` (K, 4096 in the paper setting), ``momentum``
    (m, 0.99) and ``symmetric`` (False). By default one query and one key per image, as in MoCo v2 and
    the AMCL reference: q from view 1 through the online encoder, k from view 2 through the momentum
    encoder, loss l(q1, k2), and k2 is enqueued. ``symmetric=True`` is the two-query form
    (l(q1, k2) + l(q2, k1)) / 2 with k1 enqueued (twice the online compute).

    The key encoder is updated as theta_k <- m theta_k + (1 - m) theta_q before the keys are computed;
    keys are enqueued after the optimiser step, so the loss never sees the current keys among its
    negatives. Single device: no shuffle-BN.
    """

    BASE_LOSS, AMCL_LOSS = 'amcl.MoCoLoss', 'amcl.AMCLMoCoLoss'

    def __init__(
        self,
        *args,
        queue_size: int = 4096,
        momentum: float = 0.99,
        symmetric: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.momentum, self.queue_size, self.symmetric = momentum, queue_size, symmetric
        self.backbone_k = copy.deepcopy(self.backbone)
        self.neck_k = copy.deepcopy(self.neck)
        for p in list(self.backbone_k.parameters()) + list(self.neck_k.parameters()):
            p.requires_grad_(False)
        queue = torch.nn.functional.normalize(
            torch.randn(self.num_heads, self.neck.out_dim, queue_size), dim=1
        )
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

    def _loss_inputs(self, x1, x2) -> dict:
        """Keyword arguments of the loss: q1, k2, queue (and q2, k1 when symmetric)."""
        if not self.symmetric:
            return dict(q1=self.neck(self.backbone(x1)), k2=self.keys(x2), queue=self.queue)
        v = self.views(x1, x2)
        return dict(
            q1=v['z'][0], k2=self.keys(x2), queue=self.queue, q2=v['z'][1], k1=self.keys(x1)
        )

    def compute_loss(self, x1, x2) -> torch.Tensor:
        if self.training:
            self.momentum_update()
        inputs = self._loss_inputs(x1, x2)
        self._pending_keys = inputs['k1'] if self.symmetric else inputs['k2']
        return self.loss_module(**inputs)

    @torch.no_grad()
    def temperatures(self, inputs):
        return self.loss_module.temperatures(**self._loss_inputs(*self.two_views(inputs)))

    def after_update(self):
        if self._pending_keys is not None:
            self.update_queue(self._pending_keys)
            self._pending_keys = None
