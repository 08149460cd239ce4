"""``SemiCDVL``: the change detector of SemiCD-VL (Li et al., IEEE TGRS 2024).

Siamese backbone, |f_A - f_B| fusion, a LightHead change head with the dual projection head (h_cr,
h_vl), an auxiliary building-segmentation head on each date and the feature distance of the two
dates' aux features; supervised ``loss`` and a semi-supervised ``train_step`` over a
labeled / unlabeled / mix batch dict, for ``supervised``, ``fixmatch`` and ``semicd_vl``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel

from framework import FwError, mm_registries

from .loss import bcl_loss, ce_none, confidence_weighted, masked_ce

SEMI_MODES = ('supervised', 'fixmatch', 'semicd_vl')
DIST_MODES = ('per_pixel', 'official')
HEAD = 'semicd_vl.LightHead'  # decode_head/aux_head dicts without a type


def _build(cfg, default_type=None):
    """A sub-module: given as a module, or built from ``dict(type=...)`` (``default_type`` when
    the dict names none) by the plugin's child of mmseg's model registry, as mmseg models build
    theirs: ``'semicd_vl.LightHead'``, ``'ResNetV1c'`` and ``'mmseg.ResNetV1c'`` all resolve."""
    if isinstance(cfg, nn.Module):
        return cfg
    cfg = dict(cfg)
    if default_type is not None:
        cfg.setdefault('type', default_type)
    return mm_registries('semicd_vl', 'mmseg').MODELS.build(cfg)


def feature_distance(qa, qb, size, mode='per_pixel'):
    """per_pixel: ‖q_A − q_B‖₂ over channels at each pixel, upsampled to ``size`` -> N×H×W.
    official: F.pairwise_distance on NCHW tensors (reduces over the *width* axis) -> a (N,1,C,h) map
    indexed by (channel,row), stretched to H×W, as the released code does."""
    if mode == 'per_pixel':
        d = F.pairwise_distance(qa.permute(0, 2, 3, 1), qb.permute(0, 2, 3, 1)).unsqueeze(1)
    elif mode == 'official':
        d = F.pairwise_distance(qa, qb).unsqueeze(1)
    else:
        raise ValueError(f'dist_mode must be one of {DIST_MODES}, got {mode!r}')
    return F.interpolate(d, size=size, mode='bilinear', align_corners=False).squeeze(1)


class SemiCDVL(BaseModel):
    """SemiCD-VL change detector with its semi-supervised training step.

    One iteration (``train_step`` with ``dict(labeled=x, unlabeled=u, mix=o)``): o's strong pair is
    pasted into u's inside u's CutMix box; o's pseudo-labels come from an eval-mode forward without
    gradients; one train-mode forward on cat(x, u_weak) and one on the mixed strong pair; then

        L = 1/2 (L_x + L_s) + w_c 1/2 (L_cx + L_cs) + lambda(t)/D (L_vlx + L_vls + L_vlw + L_segx +
        L_segs + L_segw),  lambda(t) = l0 + (l1 - l0) t/T

    (``compose_losses``; L_x/L_s supervised and FixMatch CE, L_c the contrastive BCL on the feature
    distance, L_vl the VLM change terms on h_vl, L_seg the VLM building terms of the aux head).

    Args:
        backbone: Siamese backbone config (or module), shared by dates A and B.
        decode_head: change-head config; type ``semicd_vl.LightHead`` when none is given. Its
            ``vl_classes`` adds the second classifier h_vl of the dual projection head.
        aux_head: building-segmentation head config for the VLM building maps and the feature
            distance; None for ``fixmatch``/``supervised``.
        aux_shared: one aux head for both dates (official code) or two.
        dist_mode: ``'per_pixel'`` (L2 over channels per pixel) or ``'official'`` (the released
            code's ``pairwise_distance`` on NCHW maps); see :func:`feature_distance`.
        semi_mode: ``'supervised'`` (L_x only), ``'fixmatch'`` (1/2 (L_x + L_s)) or ``'semicd_vl'``.
        conf_thresh: FixMatch confidence threshold tau (0.95).
        contrastive_weight: w_c, weight of the BCL terms (0.1).
        bcl_margin: BCL margin m (2.0).
        vl_lambda: (l0, l1), the VLM-term weight at the start and the end of training.
        vl_terms_divisor: D, the six VLM terms are averaged (6).
        vl_loss_reduce: CE reduction of the unlabeled VLM terms: ``'mean_all'`` (sum over all
            pixels, official), ``'mean'`` or ``'mean_valid'``.
        conf_mode: confidence weighting of L_s and L_cs: ``'pixelwise'``, ``'pixelratio'``,
            ``'pixelavg'``.
        lambda_iters: T of the lambda schedule; default the loop's ``max_iters``.
        strong_bn_update: True (official) lets the strong pair's forward update BN running
            statistics; False normalises it with batch statistics and leaves them alone.
        mean, std: RGB normalisation of each date (applied to the 6-channel A||B input).
        disable_dropout: keep Dropout/DropPath in eval mode during training (official).
        align_corners: of the bilinear upsampling of logits and distances.
        data_preprocessor, init_cfg: mmengine ``BaseModel`` arguments.
    """

    def __init__(
        self,
        backbone,
        decode_head,
        aux_head=None,
        aux_shared=True,
        dist_mode='per_pixel',
        semi_mode='semicd_vl',
        conf_thresh=0.95,
        contrastive_weight=0.1,
        bcl_margin=2.0,
        vl_lambda=(0.1, 0.0),
        vl_terms_divisor=6,
        vl_loss_reduce='mean_all',
        conf_mode='pixelwise',
        lambda_iters=None,
        strong_bn_update=True,
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        disable_dropout=True,
        align_corners=False,
        data_preprocessor=None,
        init_cfg=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        assert semi_mode in SEMI_MODES, f'semi_mode must be one of {SEMI_MODES}'
        assert dist_mode in DIST_MODES, f'dist_mode must be one of {DIST_MODES}'
        self.backbone = _build(backbone)
        self.decode_head = _build(decode_head, HEAD)
        self.aux_shared = aux_shared
        if aux_head is not None:
            self.aux_head = _build(aux_head, HEAD)
            self.aux_head_b = None if aux_shared else _build(aux_head, HEAD)
        else:
            self.aux_head = self.aux_head_b = None
        self.dist_mode, self.semi_mode = dist_mode, semi_mode
        self.conf_thresh, self.contrastive_weight, self.bcl_margin = (
            conf_thresh,
            contrastive_weight,
            bcl_margin,
        )
        self.vl_lambda, self.vl_terms_divisor = tuple(vl_lambda), vl_terms_divisor
        self.vl_loss_reduce, self.conf_mode = vl_loss_reduce, conf_mode
        self.lambda_iters, self.disable_dropout = lambda_iters, disable_dropout
        # True (official): the strong mixed pair's train-mode forward also updates BN running stats.
        # False: it normalises with its batch statistics but leaves the running stats to x ‖ u_w.
        self.strong_bn_update = strong_bn_update
        self.align_corners = align_corners
        self.register_buffer(
            'mean', torch.tensor(list(mean) * 2).view(1, 6, 1, 1), persistent=False
        )
        self.register_buffer('std', torch.tensor(list(std) * 2).view(1, 6, 1, 1), persistent=False)
        self._iter, self._max_iters = 0, None

    # ---------------------------------------------------------------- progress / lambda
    def set_progress(self, it, max_iters):
        self._iter, self._max_iters = int(it), max_iters

    def vl_lambda_at(self, it=None, total=None):
        """λ(t) = λ0 + (λ1 − λ0)·min(t/T, 1); the default (0.1, 0) is 0.1·(1 − t/T)."""
        it = self._iter if it is None else it
        total = total or self.lambda_iters or self._max_iters
        frac = 0.0 if not total else min(max(it / total, 0.0), 1.0)
        return self.vl_lambda[0] + (self.vl_lambda[1] - self.vl_lambda[0]) * frac

    def train(self, mode=True):
        super().train(mode)
        if mode and self.disable_dropout:
            for m in self.modules():
                if isinstance(m, (nn.Dropout, nn.Dropout2d)) or 'DropPath' in type(m).__name__:
                    m.eval()
        return self

    # ---------------------------------------------------------------- network
    def normalize(self, img):
        return (img - self.mean) / self.std

    def forward_all(self, img, aux=False, dist=False):
        """img: normalised N×6×H×W. Returns dict pred, vl, seg_a, seg_b (N×C×H×W), d (N×H×W)."""
        size = img.shape[2:]
        fa, fb = self.backbone(img[:, :3]), self.backbone(img[:, 3:])
        head = self.decode_head([torch.abs(a - b) for a, b in zip(fa, fb)])
        up = lambda x: F.interpolate(
            x, size=size, mode='bilinear', align_corners=self.align_corners
        )  # noqa: E731
        out = dict(pred=up(head['cr']), vl=up(head['vl']) if head['vl'] is not None else None)
        if aux or dist:
            if self.aux_head is None:
                raise ValueError("semi_mode='semicd_vl' needs aux_head=dict(...)")
            ha = self.aux_head(list(fa))
            hb = (self.aux_head if self.aux_head_b is None else self.aux_head_b)(list(fb))
            out['seg_a'], out['seg_b'] = up(ha['cr']), up(hb['cr'])
            if dist:
                out['d'] = feature_distance(ha['feat'], hb['feat'], size, self.dist_mode)
        return out

    def forward(self, img, mode='tensor', gt=None, id=None, **kwargs):  # noqa: A002
        x = self.normalize(img)
        if mode == 'tensor':
            return self.forward_all(x)['pred']
        if mode == 'loss':
            if gt is None:
                raise ValueError("mode='loss' needs gt")
            return dict(loss=masked_ce(self.forward_all(x)['pred'], gt, 'mean'))
        if mode == 'predict':
            pred = self.forward_all(x)['pred'].argmax(1)
            ids = id if id is not None else [''] * len(pred)
            return [
                dict(pred=p, gt=None if gt is None else g, id=i)
                for p, g, i in zip(pred, gt if gt is not None else [None] * len(pred), ids)
            ]
        raise ValueError(f'unknown mode {mode!r}')

    # ---------------------------------------------------------------- semi-supervised step
    def train_step(self, data, optim_wrapper):
        if not (isinstance(data, dict) and 'labeled' in data):
            return super().train_step(data, optim_wrapper)
        data = {k: self.data_preprocessor(v, True) for k, v in data.items() if v is not None}
        with optim_wrapper.optim_context(self):
            losses = self.semi_loss(data['labeled'], data.get('unlabeled'), data.get('mix'))
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars

    def semi_forward(self, x, u, o):
        """All forwards of one iteration; returns the tensors the losses need (see
        compose_losses)."""
        full = self.semi_mode == 'semicd_vl'
        for batch, name in ((x, 'labeled'), (u, 'unlabeled'), (o, 'mix')) if full else ():
            missing = [k for k in ('vl_change', 'vl_a', 'vl_b') if k not in batch]
            if missing:
                raise FwError(
                    f"semi_mode='semicd_vl' needs the VLM maps {missing} in the {name} batch: "
                    'set vl_seg_root and vl_change_root on its dataset (config keys '
                    'vl_label_root / vl_seg_root / vl_change_root)'
                )
        img_x = self.normalize(x['img'])
        if self.semi_mode == 'supervised':
            return dict(pred_x=self.forward_all(img_x)['pred'], gt_x=x['gt'])
        box = u['cutmix_box'].unsqueeze(1) == 1
        img_s = torch.where(box, self.normalize(o['img_s']), self.normalize(u['img_s']))
        with torch.no_grad():  # pseudo-labels of the mix partner: eval mode, no grad
            self.eval()
            conf_o, pl_o = self.forward_all(self.normalize(o['img']))['pred'].softmax(1).max(1)
            self.train()
        nx = img_x.shape[0]
        out = self.forward_all(torch.cat([img_x, self.normalize(u['img'])]), aux=full, dist=full)
        conf_w, pl_w = out['pred'][nx:].detach().softmax(1).max(1)
        if self.strong_bn_update:
            out_s = self.forward_all(img_s, aux=full, dist=full)
        else:
            bns = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            saved = [m.momentum for m in bns]
            for m in bns:
                m.momentum = 0.0
            try:
                out_s = self.forward_all(img_s, aux=full, dist=full)
            finally:
                for m, mom in zip(bns, saved):
                    m.momentum = mom
        b = box.squeeze(1)
        mix = lambda a, c: torch.where(b, c, a)  # noqa: E731
        t = dict(
            pred_x=out['pred'][:nx],
            gt_x=x['gt'],
            pred_s=out_s['pred'],
            pl_s=mix(pl_w, pl_o),
            conf_s=mix(conf_w, conf_o),
            ign_s=mix(u['ignore'], o['ignore']),
        )
        if full:
            for k in ('vl', 'seg_a', 'seg_b', 'd'):
                t[k + '_x'], t[k + '_w'], t[k + '_s'] = out[k][:nx], out[k][nx:], out_s[k]
            for k in ('vl_change', 'vl_a', 'vl_b'):
                t[k + '_x'], t[k + '_w'], t[k + '_s'] = x[k], u[k], mix(u[k], o[k])
        return t

    def compose_losses(self, t, lam=None):
        """The loss of the class docstring. Returns a dict whose ``loss`` is the total (the other
        keys are for logging)."""
        if self.semi_mode == 'supervised':
            l_x = masked_ce(t['pred_x'], t['gt_x'], 'mean')
            return dict(loss=l_x, l_x=l_x.detach())
        valid = t['ign_s'] != 255
        keep = (t['conf_s'] >= self.conf_thresh) & valid
        l_x = masked_ce(t['pred_x'], t['gt_x'], 'mean')
        l_s = confidence_weighted(
            ce_none(t['pred_s'], t['pl_s']), t['conf_s'], keep, valid, self.conf_mode
        )
        out = dict(
            l_x=l_x.detach(),
            l_s=l_s.detach(),
            mask_ratio=keep.float().sum() / valid.sum().clamp(min=1),
        )
        total = 0.5 * (l_x + l_s)
        if self.semi_mode == 'semicd_vl':
            l_cx = bcl_loss(t['d_x'], t['gt_x'], self.bcl_margin, 'mean')
            l_cs = confidence_weighted(
                bcl_loss(t['d_s'], t['pl_s'], self.bcl_margin, 'none'),
                t['conf_s'],
                keep,
                valid,
                self.conf_mode,
            )
            red = self.vl_loss_reduce
            l_vlx = masked_ce(t['vl_x'], t['vl_change_x'], 'mean')
            l_vls = masked_ce(t['vl_s'], t['vl_change_s'], red)
            l_vlw = masked_ce(t['vl_w'], t['vl_change_w'], red)
            seg = lambda p, r: (
                0.5
                * (
                    masked_ce(t[f'seg_a_{p}'], t[f'vl_a_{p}'], r)  # noqa: E731
                    + masked_ce(t[f'seg_b_{p}'], t[f'vl_b_{p}'], r)
                )
            )
            l_segx, l_segs, l_segw = seg('x', 'mean'), seg('s', red), seg('w', red)
            lam = self.vl_lambda_at() if lam is None else lam
            vl_sum = l_vlx + l_vls + l_vlw + l_segx + l_segs + l_segw
            total = (
                total
                + self.contrastive_weight * 0.5 * (l_cx + l_cs)
                + lam / self.vl_terms_divisor * vl_sum
            )
            out.update(
                l_cx=l_cx.detach(),
                l_cs=l_cs.detach(),
                l_vl=(l_vlx + l_vls + l_vlw).detach(),
                l_seg=(l_segx + l_segs + l_segw).detach(),
                vl_lambda=torch.tensor(float(lam)),
            )
        out['loss'] = total
        return out

    def semi_loss(self, x, u=None, o=None):
        return self.compose_losses(self.semi_forward(x, u, o))
