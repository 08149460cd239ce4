"""``EncoderWithHead``: backbone -> h (pre-projection) -> head -> z (post-projection) [-> classifier].

Trained by mmengine's Runner (``fw train projhead ...``) with one of the paper's objectives on z:
supervised contrastive (SupCon), SimCLR (NT-Xent) on two augmented views, or cross-entropy through a
linear classifier on z. Evaluation (``mode='predict'``) returns, per image, h (``pre``), z (``post``),
every earlier head layer and, for a classifier, its prediction: the frozen features the
``projhead.PrePostLinearProbe`` metric fits its probe on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from .augment import augment


def _build(registry_name: str, cfg):
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    import framework

    return getattr(framework, registry_name).build(dict(cfg))


class EncoderWithHead(BaseModel):
    """An encoder with a projection head, trained on z and probed on h and z.

    Args: ``backbone`` (config), ``head`` (config; None = ``projhead.IdentityHead``, z = h), ``loss``
    (config of a contrastive loss on two views, e.g. ``projhead.SupConLoss`` or ``projhead.NTXentLoss``;
    None with ``num_classes`` = cross-entropy), ``num_classes`` (adds a linear classifier on z trained
    with cross-entropy), ``augment`` (dict for :func:`fw_projhead.augment.augment`, applied per view
    inside the model), ``p_drop`` (DropDigit probability for the second view; needs samples with
    ``no_digit``), ``mean`` and ``std`` (per-channel normalisation after augmentation; None = none),
    ``data_preprocessor``, ``init_cfg``.
    """

    def __init__(
        self,
        backbone,
        head=None,
        loss=None,
        num_classes: int | None = None,
        augment=None,
        p_drop: float = 0.0,
        mean=None,
        std=None,
        data_preprocessor=None,
        init_cfg=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if (loss is None) == (not num_classes):
            raise ValueError(
                'EncoderWithHead needs either a contrastive `loss` or `num_classes` (CE)'
            )
        self.backbone = _build('BACKBONES', backbone)
        self.head = _build(
            'HEADS', head if head is not None else dict(type='projhead.IdentityHead')
        )
        self.loss_module = _build('LOSSES', loss)
        self.classifier = None
        if num_classes:
            dim = getattr(self.head, 'out_dim', None) or self.backbone.out_dim
            self.classifier = nn.Linear(dim, num_classes)
        self.augment_cfg, self.p_drop = dict(augment or {}), float(p_drop)
        self.register_buffer('mean', None if mean is None else torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer('std', None if std is None else torch.tensor(std).view(1, -1, 1, 1))

    # ---------------------------------------------------------------- features
    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.mean is None else (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> dict:
        """{'feats': h, 'z': z, 'z_layers': every head layer's output[, 'logits']} of images x."""
        h = self.backbone(x)
        if isinstance(h, (list, tuple)):  # LinearNet returns every layer; h is the last one
            h = h[-1]
        z_layers = (
            self.head.forward_layers(h) if hasattr(self.head, 'forward_layers') else [self.head(h)]
        )
        out = {'feats': h, 'z': z_layers[-1], 'z_layers': z_layers}
        if self.classifier is not None:
            out['logits'] = self.classifier(z_layers[-1].float())
        return out

    @torch.no_grad()
    def get_representation(self, x: torch.Tensor, use_ph: bool) -> torch.Tensor:
        """h (``use_ph=False``) or z (``use_ph=True``), as in the co-authors' ``SpuCoModel``."""
        out = self.features(x)
        return out['z'] if use_ph else out['feats']

    # ---------------------------------------------------------------- mmengine API
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.features(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got '{mode}'")

    def view(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalise(augment(x, self.augment_cfg))

    def loss(self, inputs, data_samples) -> dict:
        labels = data_samples['label']
        if self.classifier is not None:
            logits = self.features(self.view(inputs))['logits']
            return dict(loss=F.cross_entropy(logits.float(), labels))
        second = inputs
        if self.p_drop > 0:  # DropDigit: the second view loses its digit
            drop = torch.rand(len(inputs), device=inputs.device) < self.p_drop
            second = torch.where(drop.view(-1, 1, 1, 1), data_samples['no_digit'], inputs)
        z = self.features(torch.cat([self.view(inputs), self.view(second)]))['z'].float()
        z1, z2 = z.chunk(2)
        if getattr(self.loss_module, 'uses_labels', False):
            return dict(loss=self.loss_module(z1, z2, labels))
        return dict(loss=self.loss_module(z1, z2))

    def predict(self, inputs, data_samples=None) -> list[dict]:
        out = self.features(self.normalise(inputs))
        feats = {'pre': out['feats'], 'post': out['z']}
        feats.update({f'head{i + 1}': z for i, z in enumerate(out['z_layers'][:-1])})
        ds = data_samples or {}
        rows = []
        for i in range(len(inputs)):
            row = {k: v[i].float().cpu() for k, v in feats.items()}
            for key in ('probe_label', 'group', 'fit'):
                if key in ds:
                    row[key] = ds[key][i].cpu()
            if 'logits' in out:
                row['pred'] = out['logits'][i].argmax().cpu()
                row['label'] = ds['label'][i].cpu() if 'label' in ds else None
            rows.append(row)
        return rows
